// The attention heatmap with the shipped model (austen-rope): it renders a causal pattern for the
// default layer and head; picking another layer or head changes it (and the URL keeps the choice);
// "Drop RoPE" recomputes it without rotary embeddings and it changes visibly (a different
// checksum of the weights, and different pixels in the grid), as does switching RoPE back on.
//
// `?live=0` keeps the perplexity evaluation from starting by itself, and tokens=256 keeps it
// short if it does: the worker runs one request at a time, and the heatmap should not wait behind
// a long evaluation on SwiftShader.

import { expect, test, type Locator, type Page } from '@playwright/test';

const TITLE = 'Attention heatmap';

function heatmap(page: Page): Locator {
  return page.getByRole('figure', { name: TITLE });
}

/** Waits until the figure shows a pattern for these attributes, and returns its checksum. */
async function settled(page: Page, want: Record<string, string>): Promise<string> {
  const figure = heatmap(page);
  for (const [name, value] of Object.entries(want)) await expect(figure).toHaveAttribute(`data-${name}`, value, { timeout: 60_000 });
  await expect(page.getByRole('region', { name: TITLE }).getByText('Computing…')).toHaveCount(0, { timeout: 60_000 });
  return (await figure.getAttribute('data-checksum'))!;
}

/** RGBA of a few cells' centres of the canvas (on or below the diagonal), as one flat list. */
async function samplePixels(page: Page): Promise<number[]> {
  return heatmap(page)
    .locator('canvas')
    .evaluate((canvas: HTMLCanvasElement) => {
      const ctx = canvas.getContext('2d')!;
      const out: number[] = [];
      const w = canvas.width;
      // Points spread over the lower triangle, away from the label margin.
      for (const [fx, fy] of [
        [0.1, 0.9],
        [0.3, 0.9],
        [0.5, 0.9],
        [0.7, 0.9],
        [0.88, 0.9],
        [0.2, 0.5],
        [0.45, 0.5],
        [0.3, 0.35],
      ]) {
        out.push(...ctx.getImageData(Math.floor(fx * w), Math.floor(fy * w), 1, 1).data);
      }
      return out;
    });
}

test('attention heatmap: renders, follows layer and head, changes when RoPE is dropped', async ({ page }) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));

  await page.goto('/?live=0&tokens=256');
  const card = page.getByRole('region', { name: TITLE });
  await expect(card.getByRole('heading', { name: TITLE })).toBeVisible();
  const figure = heatmap(page);

  // The default layer and head of the shipped model, with RoPE.
  const first = await settled(page, { state: 'ready', variant: 'base', rope: 'on', layer: '0', head: '0' });
  expect(first).toMatch(/^[0-9a-f]{8}$/);
  const tokens = Number(await figure.getAttribute('data-tokens'));
  expect(tokens).toBe(64); // the model's training context
  await expect(figure.locator('canvas')).toBeVisible();
  const rope0 = await samplePixels(page);
  // Something is drawn: opaque cells, and not all of one colour.
  const colours = new Set<string>();
  for (let i = 0; i < rope0.length; i += 4) {
    expect(rope0[i + 3], 'a sampled cell is painted').toBe(255);
    colours.add(rope0.slice(i, i + 3).join(','));
  }
  expect(colours.size).toBeGreaterThan(1);

  // Layer 1 (of 0..3), then head 2: each a different pattern, and the URL keeps the choice.
  await card.getByRole('combobox', { name: 'Layer' }).selectOption('1');
  const layer1 = await settled(page, { layer: '1', head: '0' });
  expect(layer1).not.toBe(first);
  await card.getByRole('combobox', { name: 'Head' }).selectOption('2');
  const head2 = await settled(page, { layer: '1', head: '2' });
  expect(head2).not.toBe(layer1);
  await expect(page).toHaveURL(/layer=1/);
  await expect(page).toHaveURL(/head=2/);
  const ropePixels = await samplePixels(page);

  // Drop RoPE: the dropped variant becomes current and its pattern differs from the RoPE one.
  await expect(page.getByRole('button', { name: 'Drop RoPE' })).toBeEnabled({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Drop RoPE' }).click();
  const dropped = await settled(page, { rope: 'off', layer: '1', head: '2' });
  await expect(figure).not.toHaveAttribute('data-variant', 'base');
  expect(dropped).not.toBe(head2);
  const droppedPixels = await samplePixels(page);
  expect(droppedPixels).not.toEqual(ropePixels);

  // Back to the model as trained, RoPE switch off: also no RoPE, same weights as dropped.
  await page.goto('/?live=0&tokens=256&layer=1&head=2&rope=0');
  const switchedOff = await settled(page, { state: 'ready', variant: 'base', rope: 'off', layer: '1', head: '2' });
  expect(switchedOff).toBe(dropped);
  // Switching RoPE on brings the RoPE pattern back.
  await page.getByRole('switch', { name: 'RoPE' }).click();
  expect(await settled(page, { rope: 'on', layer: '1', head: '2' })).toBe(head2);

  expect(errors).toEqual([]);
});
