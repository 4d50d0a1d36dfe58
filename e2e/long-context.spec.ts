// "Long context" on the shipped austen-rope model (byte-level, trained at C = 64): a pasted text too
// short for the chosen lengths says so; perplexity on the bundled Persuasion at two lengths draws its
// chart with values; the needle test with one trial per length shows "too short" where four needles
// and a question (~310 bytes) do not fit (64, 128, 256) and a success rate at 512; a run can be
// cancelled. Lengths stay at most 512 tokens, so SwiftShader finishes in seconds. Then two models
// compared: perplexity measured with austen-rope, the loaded model switched to austen-drope (same C =
// 64, same byte vocabulary, same text), measured again: the chart lists both, austen-rope's prefixed.

import { expect, test, type Page } from '@playwright/test';

function card(page: Page) {
  return page.locator('section', { has: page.getByRole('heading', { name: 'Long context', exact: true }) });
}

test('long context: too-short text, perplexity on Persuasion, needle test with too-short lengths, cancel', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  // 256 tokens per length for the main panel's own automatic evaluation, which shares the worker.
  await page.goto('/?tokens=256');
  await expect(page.getByText(/^Weights loaded/)).toBeVisible({ timeout: 60_000 });
  const lc = card(page);
  await lc.scrollIntoViewIfNeeded();

  // A pasted text: counted in the worker (byte-level: one token a byte), too short for 32..512.
  await lc.getByLabel('Evaluation text').fill('Too short to measure.');
  await expect(lc.getByTestId('long-context-tokens')).toHaveText('Your text: 21 tokens.');
  await expect(lc.getByTestId('long-context-too-short')).toContainText('The text is too short: it has 21 tokens');
  await expect(lc.getByRole('button', { name: 'Measure perplexity' })).toBeDisabled();

  // The bundled Persuasion at 32 and 64 tokens, 128 tokens per length.
  await lc.getByLabel('Persuasion (bundled, public domain)').check();
  await expect(lc.getByTestId('long-context-tokens')).toHaveText(/^Persuasion: [\d,]+ tokens\.$/);
  await expect(lc.getByTestId('long-context-too-short')).toHaveCount(0);
  for (const L of [128, 256, 512]) await lc.getByRole('checkbox', { name: `${L} tokens`, exact: true }).uncheck();
  await lc.getByLabel('Tokens per length').fill('128');
  await lc.getByRole('button', { name: 'Measure perplexity' }).click();
  const figure = lc.getByRole('figure', { name: 'Perplexity on your text' });
  await expect(figure).toBeVisible({ timeout: 60_000 });
  const values = figure.getByRole('list', { name: 'Perplexity values' });
  await expect(values).toHaveText(/^RoPE: 32 → [\d.,]+, 64 → [\d.,]+$/, { timeout: 60_000 });
  await expect(figure.getByRole('application', { name: 'Perplexity on your text' })).toBeVisible();
  await expect(lc.getByRole('progressbar', { name: 'Long-context progress' })).toHaveCount(0);

  // Needle test, one trial per length: 64, 128 and 256 bytes cannot hold the prompt.
  await lc.getByLabel('Trials per length').fill('1');
  await lc.getByRole('button', { name: 'Run needle test' }).click();
  const needle = lc.getByRole('figure', { name: 'Needle-in-a-haystack success vs length' });
  await expect(needle).toBeVisible({ timeout: 60_000 });
  await expect(needle.getByTestId('needle-too-short')).toContainText('Too short at 64, 128, 256 tokens');
  await expect(needle.getByTestId('needle-too-short')).toContainText('SmolLM');
  await expect(lc.getByRole('progressbar', { name: 'Long-context progress' })).toHaveCount(0, { timeout: 90_000 });
  await lc.getByRole('button', { name: 'Show needle data' }).click();
  await expect(lc.getByRole('button', { name: 'Show needle data' })).toHaveAttribute('aria-pressed', 'true');
  const row = lc.getByRole('table').getByRole('row', { name: /^RoPE/ });
  const cells = row.getByRole('cell');
  await expect(cells).toHaveCount(4);
  for (const i of [0, 1, 2]) await expect(cells.nth(i)).toHaveText('too short');
  await expect(cells.nth(3)).toHaveText(/^(0|100)% \([01]\/1\)$/);
  // The chart itself says "too short" on those bars, and a rate on the last.
  await expect(needle.getByRole('application').getByText('too short', { exact: true })).toHaveCount(3);

  // Cancel: two trials at 512 take a few seconds, long enough to cancel.
  await lc.getByLabel('Trials per length').fill('2');
  await lc.getByRole('button', { name: 'Run needle test' }).click();
  await expect(lc.getByRole('progressbar', { name: 'Long-context progress' })).toBeVisible();
  await lc.getByRole('button', { name: 'Cancel long-context run' }).click();
  await expect(lc.getByRole('progressbar', { name: 'Long-context progress' })).toHaveCount(0);
  await expect(lc.getByRole('status').filter({ hasText: 'Cancelled.' })).toBeVisible();
  // The worker is free again: the button works.
  await expect(lc.getByRole('button', { name: 'Run needle test' })).toBeEnabled();
  expect(errors).toEqual([]);
});

test('long context: a second model of the same shape shares the perplexity chart with the first', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('/?tokens=256');
  await expect(page.getByText(/^Weights loaded/)).toBeVisible({ timeout: 60_000 });
  const models = page.getByRole('combobox', { name: 'Model', exact: true });
  await expect(models).toHaveValue('austen-rope');
  const lc = card(page);
  await lc.scrollIntoViewIfNeeded();

  // austen-rope on the bundled Persuasion at 32 and 64 tokens, 64 tokens per length.
  await expect(lc.getByTestId('long-context-tokens')).toHaveText(/^Persuasion: [\d,]+ tokens\.$/);
  for (const L of [128, 256, 512]) await lc.getByRole('checkbox', { name: `${L} tokens`, exact: true }).uncheck();
  await lc.getByLabel('Tokens per length').fill('64');
  await lc.getByRole('button', { name: 'Measure perplexity' }).click();
  const figure = lc.getByRole('figure', { name: 'Perplexity on your text' });
  const values = figure.getByRole('list', { name: 'Perplexity values' }).getByRole('listitem');
  await expect(values).toHaveText([/^RoPE: 32 → [\d.,]+, 64 → [\d.,]+$/], { timeout: 60_000 });
  await expect(lc.getByRole('progressbar', { name: 'Long-context progress' })).toHaveCount(0, { timeout: 60_000 });
  await expect(lc.getByTestId('long-context-also-shown')).toHaveCount(0);

  // austen-drope loaded: austen-rope's curve is there at once, named by its model, before any run.
  await models.selectOption('austen-drope');
  const alsoShown = lc.getByTestId('long-context-also-shown');
  await expect(alsoShown).toHaveText('Also shown: austen-rope (measured earlier this session).', { timeout: 30_000 });
  await expect(values).toHaveText([/^austen-rope: RoPE: 32 → [\d.,]+, 64 → [\d.,]+$/]);
  await expect(lc.getByRole('button', { name: 'Measure perplexity' })).toBeEnabled({ timeout: 60_000 });
  await lc.getByRole('button', { name: 'Measure perplexity' }).click();
  // Its own series first, unprefixed; austen-rope's after it, prefixed.
  await expect(values).toHaveText(
    [/^austen-drope \(DroPE, 12\.5%\): 32 → [\d.,]+, 64 → [\d.,]+$/, /^austen-rope: RoPE: 32 → [\d.,]+, 64 → [\d.,]+$/],
    {
      timeout: 60_000,
    },
  );
  await expect(lc.getByRole('progressbar', { name: 'Long-context progress' })).toHaveCount(0, { timeout: 60_000 });
  // The legend names both, and the line stays.
  const legend = figure.getByRole('list', { name: 'Long-context legend' });
  await expect(legend.getByRole('listitem')).toHaveText(['austen-drope (DroPE, 12.5%)', 'austen-rope: RoPE']);
  await expect(alsoShown).toHaveText('Also shown: austen-rope (measured earlier this session).');
  // The two models' numbers differ (different weights), so neither series is a copy of the other.
  const [own, other] = await values.allTextContents();
  expect(own.replace(/^[^:]+: /, '')).not.toBe(other.replace(/^austen-rope: RoPE: /, ''));
  expect(errors).toEqual([]);
});
