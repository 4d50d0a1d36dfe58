// Side by side and teaching in a real browser (Chromium, WebGPU on SwiftShader) with the tiny
// random model routed under /models/: the section is always shown; both slots stream a greedy
// continuation of one prompt; a slot's "Remove rotary embeddings", and the main "Drop RoPE" for a
// slot running the current model, in the middle of a generation switch the following tokens to no
// rotary embeddings and generation goes on; the per-token loss of both slots along 4× the training context is drawn;
// the RoPE frequency chart is there; presentation mode toggles and survives a reload (URL hash).
//
// Set SCREENSHOTS=1 to also write screenshots at 1280×800 and 390×844 to test-results/screens/compare-*.

import { expect, test, type Page } from '@playwright/test';
import { collectErrors, continuation, slot, tokenCount } from './helpers/page.ts';
import { routeTinyModel, TINY_CONTEXT } from './helpers/tiny-model.ts';

async function screenshots(page: Page) {
  for (const [name, width, height] of [
    ['desktop', 1280, 800],
    ['phone', 390, 844],
  ] as const) {
    await page.setViewportSize({ width, height });
    await page.mouse.move(0, 0);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `test-results/screens/compare-${name}-${width}x${height}-top.png` });
    const top = await page
      .getByRole('heading', { name: 'How RoPE sees positions' })
      .evaluate((e) => e.getBoundingClientRect().top + window.scrollY);
    const total = await page.evaluate(() => document.documentElement.scrollHeight);
    for (let y = top - 20, i = 0; y < total; y += height - 60, i++) {
      await page.evaluate((t) => window.scrollTo(0, t), y);
      await page.screenshot({ path: `test-results/screens/compare-${name}-${width}x${height}-${i}.png` });
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

test('side by side: streamed tokens, RoPE removed mid-generation (per slot and main Drop RoPE), per-token loss, frequencies, presentation mode', async ({
  page,
}) => {
  test.setTimeout(150_000);
  const errors = collectErrors(page);
  await routeTinyModel(page);
  // Few evaluation tokens: the main chart's automatic evaluation finishes quickly and leaves the worker free.
  await page.goto('/?tokens=256');

  // The contract names stay unique with the side-by-side section shown (Playwright matches names as
  // case-insensitive substrings): one control each.
  for (const name of ['Drop RoPE', 'Stop', 'Pause', 'Recalibrate', 'Fit c'])
    await expect(page.getByRole('button', { name })).toHaveCount(1);
  await expect(page.getByRole('switch', { name: 'RoPE' })).toHaveCount(1);
  await expect(page.getByRole('group', { name: 'Model A' })).toHaveCount(1);
  await expect(page.getByRole('group', { name: 'Model B' })).toHaveCount(1);

  // The RoPE frequency chart, for the tiny model's head_dim 16: 8 pairs, lines for C_train and 4×.
  const frequencies = page.getByRole('figure', { name: 'RoPE frequencies' });
  await expect(frequencies).toBeVisible();
  await expect(frequencies).toContainText('head_dim 16, rope_theta 10,000');
  await expect(frequencies.locator('.recharts-line')).toHaveCount(2);
  await page.getByRole('combobox', { name: 'Position scaling' }).selectOption('yarn');
  await expect(frequencies.locator('.recharts-line')).toHaveCount(3);
  await page.getByRole('combobox', { name: 'Position scaling' }).selectOption('none');

  // The section is always there; nothing runs before Generate.
  await expect(slot(page, 'A')).toBeVisible();
  await expect(slot(page, 'B')).toBeVisible();
  await expect(continuation(page, 'A')).toContainText('Press Generate');
  // B runs the same weights with RoPE too, so both drops below act on a generation with RoPE.
  await slot(page, 'B').getByRole('checkbox', { name: 'Rotary embeddings' }).check();
  await page.getByRole('spinbutton', { name: 'New tokens' }).fill('120');
  const generate = page.getByRole('button', { name: 'Generate', exact: true });
  await expect(generate).toBeEnabled({ timeout: 30_000 });
  await generate.click();

  // Both slots stream: the count grows token by token in each.
  await expect.poll(() => tokenCount(page, 'A'), { timeout: 20_000 }).toBeGreaterThan(0);
  await expect.poll(() => tokenCount(page, 'B'), { timeout: 20_000 }).toBeGreaterThan(0);
  await expect(slot(page, 'A').getByText(/^Generating: \d+ tokens?$/)).toBeVisible();

  // B's own "Remove rotary embeddings" while it generates (120 tokens: a fast machine must not
  // finish before the click): B switches off RoPE and its next tokens come without it; A goes on with RoPE.
  expect(await tokenCount(page, 'B')).toBeLessThan(120);
  await slot(page, 'B').getByRole('button', { name: 'Remove rotary embeddings from Model B' }).click();
  await expect(slot(page, 'B').getByRole('checkbox', { name: 'Rotary embeddings' })).not.toBeChecked();
  await expect(slot(page, 'A').getByRole('checkbox', { name: 'Rotary embeddings' })).toBeChecked();
  await expect(continuation(page, 'B').locator('.after-drop')).toHaveCount(1, { timeout: 20_000 });

  // The main "Drop RoPE" (DroPE card) acts on A's generation, which runs the current model with RoPE.
  expect(await tokenCount(page, 'A')).toBeLessThan(120);
  await page.getByRole('button', { name: 'Drop RoPE' }).click();
  await expect(slot(page, 'A').getByRole('checkbox', { name: 'Rotary embeddings' })).not.toBeChecked();
  // Tokens after the drop prove A went on without RoPE; whether it is still generating at this
  // instant is a race (the drop may land on one of its last tokens), so the end is what is checked.
  await expect(continuation(page, 'A').locator('.after-drop')).toHaveCount(1, { timeout: 20_000 });
  await expect(slot(page, 'A').getByText('Done: 120 tokens')).toBeVisible({ timeout: 60_000 });
  await expect(slot(page, 'B').getByText('Done: 120 tokens')).toBeVisible({ timeout: 60_000 });
  await expect(continuation(page, 'A').locator('.after-drop')).toHaveCount(1);
  await expect(continuation(page, 'B').locator('.after-drop')).toHaveCount(1);

  // Per-token loss along 4× the training context, for both slots.
  await page.getByRole('button', { name: 'Measure per-token loss' }).click();
  for (const name of ['A', 'B'] as const) {
    const figure = page.getByRole('figure', { name: `Per-token loss, Model ${name}` });
    await expect(figure).toBeVisible({ timeout: 20_000 });
    await expect(figure.locator('.token')).toHaveCount(4 * TINY_CONTEXT);
    // A random byte-level model: losses near ln 256 ≈ 5.5 nats.
    const loss = Number(await figure.locator('.token').nth(5).getAttribute('data-loss'));
    expect(loss).toBeGreaterThan(3);
    expect(loss).toBeLessThan(8);
    await expect(figure.getByText('C_train')).toHaveCount(1);
  }

  if (process.env.SCREENSHOTS) await screenshots(page);

  // Presentation mode: hides the adapter facts, survives a reload through the URL, and turns off again.
  const presentation = page.getByRole('button', { name: 'Presentation mode' });
  await expect(presentation).toHaveAttribute('aria-pressed', 'false');
  await presentation.click();
  await expect(presentation).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('adapter-name')).toHaveCount(0);
  expect(new URL(page.url()).hash).toBe('#present');
  if (process.env.SCREENSHOTS) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: 'test-results/screens/compare-presenting-1280x800.png', fullPage: true });
  }
  await page.reload();
  await expect(page.getByRole('button', { name: 'Presentation mode' })).toHaveAttribute('aria-pressed', 'true');
  expect(new URL(page.url()).searchParams.get('tokens')).toBe('256');
  await page.getByRole('button', { name: 'Presentation mode' }).click();
  await expect(page.getByRole('button', { name: 'Presentation mode' })).toHaveAttribute('aria-pressed', 'false');
  expect(new URL(page.url()).hash).toBe('');
  await expect(page.getByTestId('adapter-name')).toBeVisible();

  expect(errors).toEqual([]);
});
