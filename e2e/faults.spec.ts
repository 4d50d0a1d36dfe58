// The app's fault cases (test/faults/app.cases.ts, rows of the README's fault table): imports of
// truncated, oversized, wrong-dtype or lying checkpoints, picked or dropped, each refused with a
// message and nothing kept changed; a full storage quota while keeping an import (Chrome's own
// quota, lowered through the DevTools protocol) says so and keeps the variants kept before; a Hub
// download cut off mid-body leaves nothing of the file in Cache Storage. What is kept is compared
// by SHA-256, read back from IndexedDB and Cache Storage themselves.

import { createHash } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { parseSafetensors, writeSafetensors } from '../src/model/safetensors.ts';
import { HUB_CACHE_NAME } from '../src/ui/features/model/hub-cache.ts';
import { DB_NAME } from '../src/ui/features/saved-variants/variant-store.ts';
import { startHubServer } from '../test/helpers/hub-server.ts';
import { appCase, type AppCase } from '../test/faults/app.cases.ts';
import { routeTinyModel, tinyCheckpointFiles, TINY_CONFIG } from './helpers/tiny-model.ts';

interface FileSpec {
  name: string;
  bytes: number[] | { zeros: number };
}

const bytesOf = (body: Buffer | string) => [...(typeof body === 'string' ? Buffer.from(body) : body)];

/** A variant of the loaded tiny model: its config.json and model.safetensors. */
function goodFiles(seed = 3): FileSpec[] {
  const files = tinyCheckpointFiles(TINY_CONFIG, seed);
  return ['config.json', 'model.safetensors'].map((name) => ({ name, bytes: bytesOf(files.get(name)!.body) }));
}

/** `goodFiles` with one file replaced. */
function withFile(name: string, bytes: FileSpec['bytes']): FileSpec[] {
  return goodFiles().map((file) => (file.name === name ? { name, bytes } : file));
}

/** Picks the files in the "Checkpoint files" input, or drops them on the page. */
async function importFiles(page: Page, files: FileSpec[], how: 'pick' | 'drop'): Promise<void> {
  if (how === 'pick') {
    const buffer = (bytes: FileSpec['bytes']) => (Array.isArray(bytes) ? Buffer.from(bytes) : Buffer.alloc(bytes.zeros));
    await page
      .getByLabel('Checkpoint files')
      .setInputFiles(files.map((f) => ({ name: f.name, mimeType: 'application/octet-stream', buffer: buffer(f.bytes) })));
    return;
  }
  await page.evaluate((specs) => {
    const data = new DataTransfer();
    for (const { name, bytes } of specs)
      data.items.add(new File([Array.isArray(bytes) ? new Uint8Array(bytes) : new Uint8Array(bytes.zeros)], name));
    document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  }, files);
}

/** Every kept variant as "key label sha256(config) sha256(weights)", read from IndexedDB itself. */
function keptVariants(page: Page): Promise<string[]> {
  return page.evaluate(async (name) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(name);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const records = await new Promise<{ key: string; label: string; config: string; weights: Uint8Array }[]>((resolve, reject) => {
      const req = db.transaction('variants').objectStore('variants').getAll();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    db.close();
    const hex = async (bytes: Uint8Array<ArrayBuffer>) =>
      Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
    const lines = await Promise.all(
      records.map(
        async (r) => `${r.key} ${r.label} ${await hex(new TextEncoder().encode(r.config))} ${await hex(new Uint8Array(r.weights))}`,
      ),
    );
    return lines.sort();
  }, DB_NAME);
}

async function expectRefused(page: Page, c: AppCase, before: string[]): Promise<void> {
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('Import failed: ', { timeout: 20_000 });
  await expect(alert).toContainText(c.says);
  expect(await keptVariants(page), `${c.id}: the kept variants are unchanged`).toEqual(before);
}

/** The tiny model loaded, and one import of it kept (so there is something to lose). */
async function withOneKeptImport(page: Page): Promise<string[]> {
  await routeTinyModel(page);
  // Few tokens, so the page's own evaluation is soon done and the worker free for the imports.
  await page.goto('/?tokens=256');
  await expect(page.getByText('Every length of the current settings is measured.')).toBeVisible({ timeout: 60_000 });
  await importFiles(page, goodFiles(), 'pick');
  await expect(page.getByRole('status').filter({ hasText: 'Imported as "Imported #1".' })).toBeVisible({ timeout: 30_000 });
  const kept = await keptVariants(page);
  expect(kept).toHaveLength(1);
  return kept;
}

test('bad imports, picked or dropped: a clear message, and the kept variants unchanged', async ({ page }) => {
  test.setTimeout(150_000);
  const before = await withOneKeptImport(page);
  const weights = goodFiles().find((f) => f.name === 'model.safetensors')!.bytes as number[];

  await importFiles(page, withFile('model.safetensors', weights.slice(0, weights.length >> 1)), 'pick');
  await expectRefused(page, appCase('truncated'), before);

  await importFiles(page, withFile('model.safetensors', { zeros: 20 * 2 ** 20 }), 'drop');
  await expectRefused(page, appCase('oversized'), before);

  const shapes = [...parseSafetensors(new Uint8Array(weights), 'weights').tensors].map(([name, info]) => [name, info.shape] as const);
  const asInt32 = writeSafetensors(
    Object.fromEntries(
      shapes.map(([name, shape]) => [name, { dtype: 'I32', shape, data: new Int32Array(shape.reduce((a, b) => a * b, 1)) }]),
    ),
  );
  await importFiles(page, withFile('model.safetensors', [...asInt32]), 'pick');
  await expectRefused(page, appCase('wrong-dtype'), before);

  // Two tensors over the same bytes: a header that lies about where its data is.
  const [first, second] = shapes;
  const size = 4 * first[1].reduce((a, b) => a * b, 1);
  const header = JSON.stringify({
    [first[0]]: { dtype: 'F32', shape: first[1], data_offsets: [0, size] },
    [second[0]]: { dtype: 'F32', shape: [first[1].reduce((a, b) => a * b, 1)], data_offsets: [0, size] },
  });
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  await importFiles(page, withFile('model.safetensors', [...length, ...Buffer.from(header), ...new Uint8Array(size)]), 'drop');
  await expectRefused(page, appCase('overlapping'), before);

  await importFiles(page, withFile('config.json', bytesOf(JSON.stringify({ ...TINY_CONFIG, num_hidden_layers: 1_000_000 }))), 'pick');
  await expectRefused(page, appCase('huge-config'), before);

  await importFiles(page, withFile('config.json', bytesOf(JSON.stringify({ ...TINY_CONFIG, hidden_size: 64 }))), 'drop');
  await expectRefused(page, appCase('other-shape'), before);
});

test('a full storage quota while keeping an import: the message says so, the variants kept before stay', async ({ page }) => {
  test.setTimeout(150_000);
  const before = await withOneKeptImport(page);
  // Chromium here does not enforce Storage.overrideQuotaForOrigin on IndexedDB, and the real quota
  // is a share of the disk, so the fault is injected where the browser reports it: the write's
  // transaction aborts with a QuotaExceededError, as a full quota makes it. Armed through
  // sessionStorage, so the reload that follows can disarm it.
  await page.addInitScript(() => {
    if (sessionStorage.getItem('drope-test-fault') !== 'QuotaExceededError') return;
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      const request = put.apply(this, args);
      if (this.name === 'variants') {
        Object.defineProperty(this.transaction, 'error', { value: new DOMException('The quota has been exceeded.', 'QuotaExceededError') });
        this.transaction.abort();
      }
      return request;
    };
  });
  await page.evaluate(() => sessionStorage.setItem('drope-test-fault', 'QuotaExceededError'));
  await page.reload();
  await expect(page.getByText('Every length of the current settings is measured.')).toBeVisible({ timeout: 60_000 });
  await importFiles(page, goodFiles(5), 'pick');
  const c = appCase('quota');
  await expect(page.getByRole('alert')).toContainText(`Import failed: ${c.says}`, { timeout: 20_000 });
  await expect(page.getByRole('alert')).toContainText('the variants kept before are unchanged');
  expect(await keptVariants(page)).toEqual(before);
  await page.evaluate(() => sessionStorage.removeItem('drope-test-fault'));
  await page.reload();
  await expect(page.getByRole('list', { name: 'Kept variants' }).getByRole('listitem')).toHaveCount(1, { timeout: 30_000 });
  expect(await keptVariants(page)).toEqual(before);
});

test('a Hub download cut off mid-body leaves nothing of the file in Cache Storage', async ({ page }) => {
  test.setTimeout(150_000);
  const server = await startHubServer();
  try {
    const ID = 'faults/cut-off';
    const files = new Map([...tinyCheckpointFiles(TINY_CONFIG, 11)].map(([name, file]) => [name, new Uint8Array(Buffer.from(file.body))]));
    server.addRepo(ID, files);
    server.fail(ID, 'model.safetensors', 'reset', 'reset');
    await routeTinyModel(page);
    await page.goto('/?tokens=256');
    await expect(page.getByText('Every length of the current settings is measured.')).toBeVisible({ timeout: 60_000 });
    await page.getByText('Hub settings').click();
    await page.getByLabel('Hub base URL').fill(server.endpoint);
    await page.getByLabel('Hugging Face model').fill(ID);
    await page.getByRole('button', { name: 'Load from the Hub' }).click();
    const c = appCase('hub-cut');
    await expect(page.getByRole('alert').filter({ hasText: `Cannot load ${ID}` })).toContainText(c.says, { timeout: 30_000 });

    // What Cache Storage holds: never the weights, and every entry exactly the server's file.
    const entries = () =>
      page.evaluate(async (name) => {
        const cache = await caches.open(name);
        const out: [string, string][] = [];
        for (const request of await cache.keys()) {
          const bytes = await (await cache.match(request))!.arrayBuffer();
          const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) =>
            b.toString(16).padStart(2, '0'),
          ).join('');
          out.push([new URL(request.url).pathname, digest]);
        }
        return out;
      }, HUB_CACHE_NAME);
    const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
    const prefix = `/${ID}/resolve/main/`;
    const cached = (await entries()).filter(([path]) => path.startsWith(prefix));
    expect(cached.map(([path]) => path)).not.toContain(`${prefix}model.safetensors`);
    for (const [path, digest] of cached) expect(digest, path).toBe(sha256(files.get(path.slice(prefix.length))!));

    // The fault is over: the same load completes, and the weights are cached whole.
    await page.getByRole('button', { name: 'Load from the Hub' }).click();
    await expect(page.getByTestId('hub-status')).toHaveText(/^Current model: hf:/, { timeout: 30_000 });
    const weights = (await entries()).find(([path]) => path === `${prefix}model.safetensors`);
    expect(weights?.[1]).toBe(sha256(files.get('model.safetensors')!));
  } finally {
    await server.close();
  }
});
