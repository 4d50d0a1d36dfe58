// "Retrieval vs sequence length" on the shipped models (byte-level, trained at C = 64), with
// `?live=0` so no perplexity evaluation shares the worker: both charts at first paint, each with
// the training length marked (and chance on the retrieval chart, with its legend entry); the crop setting offered in
// Position scaling and in side by side; a short live refinement of the crop setting (2 trials at
// 64 tokens) that runs to completion and puts a measured point in "Show retrieval data".
//
// The second test needs the eval.json files with `retrieval` (eval.json version 2, written by
// `npm run cli -- eval --retrieval lookup`): it fails on files recorded before the records test.

import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { collectErrors, slot } from './helpers/page.ts';

const C = 64;
const CROP = `RoPE, cropped to the last ${C} tokens`;

/** A shipped model's recorded success (all trials) of one series at length L, from its eval.json. */
function shippedRetrieval(model: string, series: string, L: number): number {
  const file = JSON.parse(readFileSync(new URL(`../public/models/${model}/eval.json`, import.meta.url), 'utf8')) as {
    series: { id: string; retrieval: Record<string, { all: number }> }[];
  };
  return file.series.find((x) => x.id === series)!.retrieval[String(L)].all;
}

function retrievalCard(page: Page) {
  return page.getByRole('region', { name: 'Retrieval vs sequence length' });
}

async function openAtRest(page: Page): Promise<void> {
  await page.goto('/?live=0');
  await expect(page.getByRole('status').filter({ hasText: 'Weights loaded:' })).toBeVisible({ timeout: 60_000 });
}

test('retrieval: both charts at first paint with C_train marked, crop offered, a short live run', async ({ page }) => {
  test.setTimeout(180_000);
  const errors = collectErrors(page);
  await openAtRest(page);
  const perplexity = page.getByRole('figure', { name: 'Perplexity vs sequence length' });
  const card = retrievalCard(page);
  const retrieval = card.getByRole('figure', { name: 'Retrieval vs sequence length' });
  await expect(perplexity.getByText(`training length ${C}`)).toBeVisible();
  await expect(retrieval.getByText(`training length ${C}`)).toBeVisible();
  await expect(retrieval.getByRole('list', { name: 'Series on the retrieval chart' }).getByText('Chance (10%)')).toBeVisible();
  await expect(card.getByRole('heading', { name: 'What the two charts show' })).toBeVisible();

  // The crop setting, named as eval.json names it, in Position scaling and in side by side.
  await expect(slot(page, 'A').getByRole('combobox', { name: 'Scaling' }).getByRole('option', { name: CROP })).toHaveCount(1);
  await page.getByRole('combobox', { name: 'Position scaling' }).selectOption({ label: CROP });
  await expect(page.getByRole('combobox', { name: 'Scaling factor' })).toBeDisabled();

  // A short live run: 2 trials at 64 tokens only.
  await card.getByLabel('Trials per length').fill('2');
  await card.getByRole('combobox', { name: 'Longest length' }).selectOption({ label: `${C} tokens` });
  await expect(card.getByRole('status')).toHaveText(new RegExp(`^Measures the current settings at ${C} tokens, 2 trials per length\\b`));
  await card.getByRole('button', { name: 'Show retrieval data' }).click();
  await expect(retrieval.locator('circle:not([fill="var(--card)"])')).toHaveCount(0);
  await card.getByRole('button', { name: 'Measure retrieval' }).click();

  // The point arrives, measured (no *), in the table: at C every record is inside the window.
  const row = card.getByRole('table').getByRole('row', { name: new RegExp(`^${CROP} `) });
  await expect(row).toHaveText(new RegExp(`^${CROP}(0|50|100)% of 2 · (0|50|100)% of 2 · –(?!\\*)`), { timeout: 120_000 });
  await expect(card.getByRole('progressbar', { name: 'Retrieval progress' })).toHaveCount(0);
  await expect(card.getByRole('button', { name: 'Measure retrieval' })).toBeEnabled();
  // And on the chart: the crop series in the retrieval chart's own list of series, and one filled
  // (measured) dot, where before the run every dot was hollow (recorded).
  await expect(card.getByRole('list', { name: 'Series on the retrieval chart' }).getByText(CROP, { exact: true })).toHaveCount(1);
  await expect(retrieval.locator('circle:not([fill="var(--card)"])')).toHaveCount(1);
  expect(errors).toEqual([]);
});

test('retrieval: every shipped model’s recorded results at first paint, in the table with their trials', async ({ page }) => {
  await openAtRest(page);
  const card = retrievalCard(page);
  await expect(card.getByRole('note')).toHaveCount(0);
  await card.getByRole('button', { name: 'Show retrieval data' }).click();
  const table = card.getByRole('table');
  // The loaded model's crop series and another model's DroPE, recorded (*) with eval.json's trials.
  const crop = table.getByRole('row', { name: new RegExp(`^${CROP} `) });
  await expect(crop.getByRole('cell').first()).toHaveText(/^\d+% of \d+ · \d+% of \d+ · –\*$/);
  const drope = table.getByRole('row', { name: /^DroPE \(recalibrated\) · / }).first();
  await expect(drope).toContainText('*');
  // The explanations: where the shipped RoPE model retrieves inside its context, they compare the
  // methods outside the window, in numbers; where it does not, they say the task was not learned.
  const ropeAt1x = shippedRetrieval('austen-rope', 'rope', C);
  await expect(
    card.getByText(
      ropeAt1x > 0.2
        ? /^Outside the window \(records more than 64 tokens before the query\): at 2× C_train, /
        : /^Within the training context \(64 tokens\) RoPE finds \d+%.* no better than guessing \(10%\): these models did not learn/,
    ),
  ).toBeVisible();
});
