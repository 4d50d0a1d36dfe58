// What a user makes is kept: a recalibrated variant is stored in IndexedDB and survives a reload
// (variant list, chart legend, "Show data" table); "Export" downloads config.json and
// model.safetensors that parse and import back as a variant; a corrupt import, picked or dropped,
// says what is wrong and adds nothing; "Delete" removes a kept variant for good.

import { readFileSync } from 'node:fs';
import { expect, test, type Download, type Page } from '@playwright/test';
import { expectedTensorShapes } from '../src/model/checkpoint.ts';
import { parseConfig } from '../src/model/config.ts';
import { parseSafetensors } from '../src/model/safetensors.ts';
import { routeShortTrainingText, routeTinyModel, TINY_CONFIG } from './helpers/tiny-model.ts';

const RECALIBRATED = 'Recalibrated (2 steps, LR 1e-3)';

function legendItem(page: Page, name: string) {
  return page.getByRole('list', { name: 'Legend' }).getByText(name, { exact: true });
}

function keptItem(page: Page, name: string) {
  return page.getByRole('list', { name: 'Kept variants' }).getByRole('listitem').filter({ hasText: name });
}

function measuredEverything(page: Page) {
  return expect(page.getByText('Every length of the current settings is measured.')).toBeVisible({ timeout: 30_000 });
}

test('a recalibrated variant survives a reload, exports, imports back; a corrupt import is refused', async ({ page }) => {
  test.setTimeout(90_000);
  await routeTinyModel(page);
  await routeShortTrainingText(page);
  await page.goto('/?tokens=256&steps=2&batch=2');
  await measuredEverything(page);

  // Drop RoPE, recalibrate 2 steps: the variant is kept.
  await page.getByRole('button', { name: 'Drop RoPE' }).click();
  await measuredEverything(page);
  await page.getByRole('button', { name: 'Recalibrate' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Done: 2 steps' })).toBeVisible({ timeout: 45_000 });
  await expect(keptItem(page, RECALIBRATED)).toHaveCount(1);
  await measuredEverything(page);
  await expect(legendItem(page, RECALIBRATED)).toHaveCount(1);

  // Reload: back in the variant list, the kept list, the legend and the table, without training.
  await page.reload();
  await expect(keptItem(page, RECALIBRATED)).toHaveCount(1, { timeout: 30_000 });
  await expect(page.getByRole('combobox', { name: 'Variant' }).getByRole('option', { name: RECALIBRATED })).toHaveCount(1);
  await expect(legendItem(page, RECALIBRATED)).toHaveCount(1);
  await page.getByRole('button', { name: 'Show data' }).click();
  const row = page.getByRole('table').getByRole('row', { name: RECALIBRATED });
  await expect(row).toBeVisible();
  await expect(row.getByRole('cell')).not.toContainText(['–']);
  await expect(page.getByRole('status').filter({ hasText: /^Recalibrated/ })).toHaveCount(0);

  // Export: two downloads that parse, with every tensor the config implies.
  const both = new Promise<Download[]>((resolve) => {
    const got: Download[] = [];
    page.on('download', (d) => {
      got.push(d);
      if (got.length === 2) resolve(got);
    });
  });
  await page.getByRole('button', { name: `Export ${RECALIBRATED}` }).click();
  const files = new Map<string, string>();
  for (const download of await both) files.set(download.suggestedFilename(), await download.path());
  expect([...files.keys()].sort()).toEqual(['config.json', 'model.safetensors']);
  const rawConfig = JSON.parse(readFileSync(files.get('config.json')!, 'utf8'));
  expect(rawConfig.hidden_size).toBe(TINY_CONFIG.hidden_size);
  expect(rawConfig.attention_type).toBe('nope');
  expect(rawConfig.torch_dtype).toBe('float32');
  const weights = parseSafetensors(new Uint8Array(readFileSync(files.get('model.safetensors')!)), 'model.safetensors');
  const expected = expectedTensorShapes(parseConfig(rawConfig));
  expect([...weights.tensors.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [name, info] of weights.tensors) {
    expect(info.dtype).toBe('F32');
    expect(info.shape, name).toEqual(expected.get(name));
  }

  // Import the exported files: a new variant, selected, measured.
  const input = page.getByLabel('Checkpoint files');
  await input.setInputFiles(
    [files.get('config.json')!, files.get('model.safetensors')!].map((path, i) => ({
      name: i === 0 ? 'config.json' : 'model.safetensors',
      mimeType: i === 0 ? 'application/json' : 'application/octet-stream',
      buffer: readFileSync(path),
    })),
  );
  await expect(page.getByRole('status').filter({ hasText: 'Imported as "Imported #1".' })).toBeVisible({ timeout: 20_000 });
  await expect(page.getByRole('combobox', { name: 'Variant' })).toHaveValue(/^saved-/);
  await expect(keptItem(page, 'Imported #1')).toHaveCount(1);
  await measuredEverything(page);
  await expect(legendItem(page, 'Imported #1')).toHaveCount(1);

  // A corrupt import, picked: a clear error, no new variant.
  const options = page.getByRole('combobox', { name: 'Variant' }).getByRole('option');
  const before = await options.count();
  await input.setInputFiles([
    { name: 'config.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(TINY_CONFIG)) },
    { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not a safetensors file at all') },
  ]);
  await expect(page.getByRole('alert')).toContainText('Import failed');
  await expect(page.getByRole('alert')).toContainText('model.safetensors');
  await expect(options).toHaveCount(before);

  // The same by drag and drop, with a bad config this time.
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File(['{ "hidden_size": '], 'config.json', { type: 'application/json' }));
    data.items.add(new File([new Uint8Array(16)], 'model.safetensors'));
    document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  await expect(page.getByRole('alert')).toContainText('config.json is not valid JSON');
  await expect(options).toHaveCount(before);

  // Delete the import: gone from the lists and the chart, and after a reload.
  await page.getByRole('button', { name: 'Delete Imported #1' }).click();
  await expect(keptItem(page, 'Imported #1')).toHaveCount(0);
  await expect(legendItem(page, 'Imported #1')).toHaveCount(0);
  await expect(options).toHaveCount(before - 1);
  await page.reload();
  await expect(keptItem(page, RECALIBRATED)).toHaveCount(1, { timeout: 30_000 });
  await expect(keptItem(page, 'Imported #1')).toHaveCount(0);
});

test('a recalibration cut short by a reload is offered to resume from its last checkpoint', async ({ page }) => {
  test.setTimeout(90_000);
  await routeTinyModel(page);
  await routeShortTrainingText(page);
  await page.goto('/?tokens=256&steps=30&batch=2');
  await expect(page.getByRole('button', { name: 'Drop RoPE' })).toBeEnabled({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Drop RoPE' }).click();
  await page.getByRole('button', { name: 'Recalibrate' }).click();
  // 30 steps keep a checkpoint every 3 steps; pause after the first, long before the run could
  // finish on its own (with 6 steps a fast machine finished before the click), so the reload cuts it.
  await expect(page.getByRole('status').filter({ hasText: /kept at step \d+\)/ })).toBeVisible({ timeout: 45_000 });
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Paused' })).toBeVisible();
  await page.reload();

  const offer = page.getByRole('group', { name: 'Interrupted recalibration' });
  await expect(offer).toContainText(/kept at step (3|6|9|12|15|18|21|24|27) of 30/, { timeout: 30_000 });
  // Not a variant until it finishes.
  await expect(page.getByRole('combobox', { name: 'Variant' }).getByRole('option', { name: /interrupted/ })).toHaveCount(0);
  await offer.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Done: 30 steps' })).toBeVisible({ timeout: 45_000 });
  await expect(offer).toHaveCount(0);
  await expect(keptItem(page, 'Recalibrated (30 steps, LR 1e-3)')).toHaveCount(1);
  await expect(page.getByRole('progressbar', { name: 'Recalibration progress' })).toHaveAttribute('value', '30');
});
