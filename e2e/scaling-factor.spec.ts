// The "Scaling factor" select in a real browser (Chromium, WebGPU on SwiftShader) with the tiny
// random model: it is enabled only with a scaling chosen and RoPE on; YaRN with a fixed factor 8
// lives in the URL, and Evaluate measures it as a series of its own ("RoPE + YaRN ×8"), beside the
// recorded per-length YaRN curve, which it never refines.
//
// `?live=0`: nothing is measured until Evaluate is clicked, so the click is not racing the page's
// automatic evaluation; `tokens=256` keeps the measurement short (SwiftShader is a CPU).

import { expect, test } from '@playwright/test';
import { routeTinyModel } from './helpers/tiny-model.ts';

test('a fixed YaRN factor is measured as a series of its own', async ({ page }) => {
  test.setTimeout(90_000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await routeTinyModel(page);
  await page.goto('/?live=0&tokens=256');

  const scaling = page.getByRole('combobox', { name: 'Position scaling' });
  const factor = page.getByRole('combobox', { name: 'Scaling factor' });
  await expect(factor).toHaveValue('length');
  await expect(factor).toBeDisabled();
  await scaling.selectOption('yarn');
  await expect(factor).toBeEnabled();
  await factor.selectOption('8');
  await expect(page).toHaveURL(/[?&]scaling=yarn&factor=8(&|$)/);

  await page.getByRole('button', { name: 'Evaluate', exact: true }).click();
  await expect(page.getByText('Every length of the current settings is measured.')).toBeVisible({ timeout: 45_000 });

  const legend = page.getByRole('list', { name: 'Legend' });
  await expect(legend.getByText('RoPE + YaRN ×8', { exact: true })).toHaveCount(1);
  await expect(legend.getByText('RoPE + YaRN', { exact: true })).toHaveCount(1);
  await page.getByRole('button', { name: 'Show data' }).click();
  const table = page.getByRole('table');
  const fixedRow = table.getByRole('row', { name: /^RoPE \+ YaRN ×8 / });
  await expect(fixedRow.getByRole('cell')).toHaveCount(6);
  await expect(fixedRow).not.toContainText('*');
  await expect(fixedRow.getByRole('cell')).not.toContainText(['–']);
  // The recorded per-length YaRN curve is untouched: still recorded (*) at every length.
  await expect(table.getByRole('row', { name: /^RoPE \+ YaRN \d/ })).toContainText('180*');

  // Back to None: the factor select is disabled again (it keeps its value for the next scaling).
  await scaling.selectOption('none');
  await expect(factor).toBeDisabled();
  expect(errors).toEqual([]);
});
