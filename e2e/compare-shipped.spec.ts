// Side by side with the shipped models (public/models, real weights) in a real browser (Chromium,
// WebGPU on SwiftShader): beside the loaded austen-rope, each slot's "Weights" offers the other
// shipped models of the same shapes; Model B starts on austen-drope, so Generate and "Measure
// per-token loss" show RoPE against DroPE at once. Picking austen-drope loads its weights into the
// worker; a few greedy tokens and the per-token loss come back for both slots, B's named after
// austen-drope. The main chart keeps one "DroPE (recalibrated) · c = … · austen-drope" series: the
// side-by-side variant never joins the page's variant list.
//
// `?live=0`: no automatic evaluation of the main chart, so the worker is free for side by side.

import { expect, test, type Page } from '@playwright/test';
import { collectErrors, slot } from './helpers/page.ts';

const CONTEXT = 64; // austen-rope's max_position_embeddings
/** austen-drope's recorded series, at its fitted c (named when c > 0). */
const DROPE_LABEL = /^DroPE \(recalibrated\)( · c = [\d.]+)? · austen-drope$/;

const weights = (page: Page, name: 'A' | 'B') => slot(page, name).getByRole('combobox', { name: 'Weights' });

test('side by side: austen-drope picked in Model B beside austen-rope, generation and per-token loss for both', async ({ page }) => {
  test.setTimeout(180_000);
  const errors = collectErrors(page);
  await page.goto('/?live=0');
  const generate = page.getByRole('button', { name: 'Generate', exact: true });
  await expect(generate).toBeEnabled({ timeout: 60_000 });
  await expect(page.getByRole('combobox', { name: 'Model', exact: true })).toHaveValue('austen-rope');

  // The contract names stay unique with the shipped models offered in both slots.
  await expect(page.getByRole('group', { name: 'Model A' })).toHaveCount(1);
  await expect(page.getByRole('group', { name: 'Model B' })).toHaveCount(1);
  await expect(page.getByRole('switch', { name: 'RoPE' })).toHaveCount(1);
  for (const name of ['Drop RoPE', 'Stop', 'Pause', 'Recalibrate', 'Fit c'])
    await expect(page.getByRole('button', { name })).toHaveCount(1);

  // Offers: the other three shipped models, in both slots; A on the loaded model, B on austen-drope by default.
  for (const name of ['A', 'B'] as const) {
    await expect(weights(page, name).locator('optgroup option')).toHaveText([
      'austen-drope (DroPE, 12.5%)',
      'austen-drope-long (DroPE, 50%)',
      'austen-nope (NoPE)',
    ]);
  }
  await expect(weights(page, 'A')).toHaveValue('base');
  await expect(weights(page, 'B')).toHaveValue('shipped:austen-drope');

  // Pick austen-drope in B (nope first, then drope: a real change each time), as a user would.
  await weights(page, 'B').selectOption({ label: 'austen-nope (NoPE)' });
  await expect(slot(page, 'B').locator('.slot-label')).toHaveText('NoPE (from scratch) · austen-nope');
  await weights(page, 'B').selectOption({ label: 'austen-drope (DroPE, 12.5%)' });
  await expect(slot(page, 'B').locator('.slot-label')).toHaveText(DROPE_LABEL);
  await expect(slot(page, 'A').locator('.slot-label')).toHaveText('RoPE');
  // Trained without RoPE: the rotary controls of B are off.
  await expect(slot(page, 'B').getByRole('checkbox', { name: 'Rotary embeddings' })).toBeDisabled();

  // A few greedy tokens each (a prefill of the prompt, then one KV-cached step per token).
  await page.getByRole('spinbutton', { name: 'New tokens' }).fill('4');
  await generate.click();
  for (const name of ['A', 'B'] as const) {
    await expect(slot(page, name).getByText('Done: 4 tokens')).toBeVisible({ timeout: 60_000 });
    await expect(page.getByRole('log', { name: `Model ${name} continuation` })).toHaveAttribute('data-count', '4');
  }
  await expect(slot(page, 'B').getByText(/Could not load|Failed/)).toHaveCount(0);

  // Per-token loss along 4× the training context, for both.
  await page.getByRole('button', { name: 'Measure per-token loss' }).click();
  const means: number[] = [];
  for (const name of ['A', 'B'] as const) {
    const figure = page.getByRole('figure', { name: `Per-token loss, Model ${name}` });
    await expect(figure).toBeVisible({ timeout: 60_000 });
    await expect(figure.locator('.token')).toHaveCount(4 * CONTEXT);
    const caption = figure.locator('figcaption');
    await expect(caption).toContainText(
      name === 'A' ? /^RoPE, 256 tokens/ : /^DroPE \(recalibrated\)( · c = [\d.]+)? · austen-drope, 256 tokens/,
    );
    // Trained models: within the training context well below ln 256 ≈ 5.5 nats.
    const within = Number((await caption.textContent())!.match(/mean loss ([\d.]+) nats within/)![1]);
    expect(within).toBeGreaterThan(0.3);
    expect(within).toBeLessThan(4);
    means.push(within);
  }
  // Two different models: not the same numbers.
  expect(means[0]).not.toBe(means[1]);

  // The main chart: still one DroPE (recalibrated) · austen-drope series, the recorded one.
  const legend = page.getByRole('list', { name: 'Legend', exact: true });
  await expect(legend.getByText(DROPE_LABEL)).toHaveCount(1);
  await expect(legend.getByText(/· austen-drope$/)).toHaveCount(1);

  expect(errors).toEqual([]);
});
