// The playground journey in a real browser (Chromium, WebGPU on SwiftShader) with a tiny random
// model routed under /models/: recorded curves show at once and the adapter is named; switching
// RoPE off adds a measured series (and the URL says so); "Drop RoPE" makes a variant;
// "Recalibrate" trains it in the worker with a progress bar and a loss chart, and the result is a
// new series in the chart and the "Show data" table. The main thread never blocks for a frame
// while the worker trains.
//
// Set SCREENSHOTS=1 to also write full-page screenshots at 1280×800 and 390×844 to
// test-results/screens/ (for looking at the layout, not compared against baselines).

import { expect, test, type Page } from '@playwright/test';
import { collectErrors } from './helpers/page.ts';
import { routeShortTrainingText, routeTinyModel } from './helpers/tiny-model.ts';

const CHART = 'Perplexity vs sequence length';

/** A series' name in the chart's legend. */
function legendItem(page: Page, name: string) {
  return page.getByRole('list', { name: 'Legend' }).getByText(name, { exact: true });
}

/** Viewport screenshots down the page at 1280×800 and 390×844 (and one dark), into test-results/screens/. */
async function screenshots(page: Page) {
  for (const [name, width, height] of [
    ['desktop', 1280, 800],
    ['phone', 390, 844],
  ] as const) {
    await page.setViewportSize({ width, height });
    // Away from the chart, so no tooltip covers it.
    await page.mouse.move(0, 0);
    const total = await page.evaluate(() => document.documentElement.scrollHeight);
    for (let y = 0, i = 0; y < total; y += height - 60, i++) {
      await page.evaluate((top) => window.scrollTo(0, top), y);
      await page.screenshot({ path: `test-results/screens/${name}-${width}x${height}-${i}.png` });
    }
    await page.getByRole('figure', { name: CHART }).screenshot({ path: `test-results/screens/${name}-chart.png` });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: 'test-results/screens/desktop-dark-1280x800.png' });
  await page.emulateMedia({ colorScheme: 'light' });
}

function measuredEverything(page: Page) {
  return expect(page.getByText('Every length of the current settings is measured.')).toBeVisible({ timeout: 30_000 });
}

test('the journey: recorded curves, RoPE off, Drop RoPE, Recalibrate', async ({ page }) => {
  test.setTimeout(90_000);
  const errors = collectErrors(page);
  await routeTinyModel(page);
  await routeShortTrainingText(page);
  // The default 8192 evaluation tokens per length at first: the first evaluation lasts seconds,
  // long enough to cancel it without a race.
  await page.goto('/');

  // Recorded curves from eval.json, before any GPU work finishes; the adapter is named.
  const chart = page.getByRole('application', { name: CHART });
  await expect(chart).toBeVisible();
  await expect(legendItem(page, 'RoPE')).toHaveCount(1);
  await expect(legendItem(page, 'RoPE + YaRN')).toHaveCount(1);
  await expect(legendItem(page, 'Dynamic NTK')).toHaveCount(1);
  await expect(page.getByTestId('adapter-name')).toContainText(/swiftshader/i);
  await expect(page.getByTestId('adapter-type')).toContainText(/^Software/);

  // Live evaluation starts by itself, with progress, and can be cancelled and resumed.
  const evaluation = page.getByRole('progressbar', { name: 'Evaluation progress' });
  await expect(evaluation).toBeVisible({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(evaluation).toHaveCount(0);
  await expect(page.getByText('The current settings are not fully measured.')).toBeVisible();
  // 256 tokens per length from here on: SwiftShader is a CPU.
  await page.getByRole('combobox', { name: 'Evaluation tokens' }).selectOption('256');
  await expect(page).toHaveURL(/[?&]tokens=256/);
  await page.getByRole('button', { name: 'Evaluate' }).click();

  // Live evaluation refines the recorded RoPE curve: its points become measured.
  await measuredEverything(page);
  await page.getByRole('button', { name: 'Show data' }).click();
  await expect(page.getByRole('button', { name: 'Show data' })).toHaveAttribute('aria-pressed', 'true');
  const table = page.getByRole('table');
  const ropeRow = table.getByRole('row', { name: /^RoPE \d/ });
  await expect(ropeRow.getByRole('cell')).toHaveCount(6);
  await expect(ropeRow).not.toContainText('*');
  await expect(table.getByRole('row', { name: 'RoPE + YaRN' })).toContainText('180*');
  await expect(table.getByRole('row', { name: 'Dynamic NTK' })).toContainText('120*');

  // RoPE off: a new series, measured, and the URL carries the setting.
  const rope = page.getByRole('switch', { name: 'RoPE' });
  await expect(rope).toBeChecked();
  await rope.click();
  await expect(rope).not.toBeChecked();
  await expect(page).toHaveURL(/[?&]rope=0/);
  await expect(page.getByRole('combobox', { name: 'Position scaling' })).toBeDisabled();
  await expect(legendItem(page, 'RoPE switched off')).toHaveCount(1);
  await expect(table.getByRole('row', { name: /RoPE switched off/ })).toBeVisible();
  await measuredEverything(page);

  // Drop RoPE: a new variant, selected.
  await page.getByRole('button', { name: 'Drop RoPE' }).click();
  await expect(page.getByRole('combobox', { name: 'Variant' })).toHaveValue(/^dropped-/);
  await expect(page.getByRole('button', { name: 'Drop RoPE' })).toBeDisabled();
  await expect(rope).toBeDisabled();
  await expect(legendItem(page, 'RoPE dropped')).toHaveCount(1);
  // Let its measurement finish, so the frames below measure training alone.
  await measuredEverything(page);

  // Recalibrate 3 steps, batch 2, watching for main-thread long tasks meanwhile.
  await page.getByRole('spinbutton', { name: 'Steps' }).fill('3');
  await page.getByRole('spinbutton', { name: 'Batch' }).fill('2');
  await expect(page).toHaveURL(/[?&]steps=3/);
  // From the click until the page says training is done, the page itself records long tasks
  // (> 50 ms of main thread) and what it showed: the test does not poll the page meanwhile, since
  // Playwright's own polling and trace snapshots run on the page's main thread too.
  type Watch = { longTasks: { start: number; duration: number }[]; doneAt?: number; sawRunning: boolean; sawLoss: boolean };
  await page.evaluate(() => {
    const w = { longTasks: [], sawRunning: false, sawLoss: false } as Watch;
    (window as unknown as { watch: Watch }).watch = w;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) w.longTasks.push({ start: entry.startTime, duration: entry.duration });
    }).observe({ type: 'longtask' });
    const enabled = (name: string) => [...document.querySelectorAll('button')].some((b) => b.textContent === name && !b.disabled);
    new MutationObserver((_, observer) => {
      const running =
        document.querySelector('progress[aria-label="Recalibration progress"]') !== null && enabled('Pause') && enabled('Stop');
      w.sawRunning ||= running;
      w.sawLoss ||= document.querySelector('[role=img][aria-labelledby=loss-title]') !== null;
      if (document.querySelector('.recal-status [role=status]')?.textContent?.startsWith('Done')) {
        w.doneAt = performance.now();
        observer.disconnect();
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  await page.getByRole('button', { name: 'Recalibrate' }).click();
  await page.waitForFunction(() => (window as unknown as { watch: Watch }).watch.doneAt !== undefined, null, {
    timeout: 45_000,
    polling: 1000,
  });
  const watch = await page.evaluate(() => (window as unknown as { watch: Watch }).watch);
  expect(watch.sawRunning, 'the progress bar with Pause and Stop enabled, while training').toBe(true);
  expect(watch.sawLoss, 'the loss chart, while training').toBe(true);
  const longTasks = watch.longTasks.filter((t) => t.start < watch.doneAt!).map((t) => Math.round(t.duration));
  expect(Math.max(0, ...longTasks), `main-thread long tasks while recalibrating: ${longTasks.join(', ')} ms`).toBeLessThan(100);
  const progress = page.getByRole('progressbar', { name: 'Recalibration progress' });
  await expect(page.getByRole('img', { name: 'Recalibration loss' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Stop' })).toBeDisabled();
  await expect(page.getByRole('status').filter({ hasText: 'Done: 3 steps' })).toBeVisible();
  await expect(progress).toHaveAttribute('value', '3');

  // The recalibrated variant is selected, measured, in the chart's legend and in the table.
  const recalibrated = 'Recalibrated (3 steps, LR 1e-3)';
  await expect(page.getByRole('combobox', { name: 'Variant' })).toHaveValue(/^recalibrated-/);
  await expect(legendItem(page, recalibrated)).toHaveCount(1);
  const recalibratedRow = table.getByRole('row', { name: recalibrated });
  await expect(recalibratedRow).toBeVisible();
  await measuredEverything(page);
  await expect(recalibratedRow.getByRole('cell')).not.toContainText(['–']);
  await expect(page.getByRole('alert')).toHaveCount(0);

  // Fit c on the recalibrated variant (DroPE's logit scale): a grid search in the worker.
  await page.getByRole('button', { name: 'Fit c' }).click();
  await expect(page.getByRole('status').filter({ hasText: /^Best c = \d\.\d\d at lengths 128 and 256\.$/ })).toBeVisible({
    timeout: 45_000,
  });

  if (process.env.SCREENSHOTS) {
    await measuredEverything(page);
    await screenshots(page);
  }
  expect(errors).toEqual([]);
});

test('without WebGPU: says how to enable it and still shows the recorded curves', async ({ page }) => {
  const errors = collectErrors(page);
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { configurable: true, get: () => undefined });
  });
  await routeTinyModel(page);
  await page.goto('/?rope=0&c=0.3&scaling=bogus');
  await expect(page.getByRole('alert')).toContainText('WebGPU is not available');
  await expect(page.getByRole('alert')).toContainText('--enable-unsafe-webgpu');
  await expect(page.getByRole('application', { name: CHART })).toBeVisible();
  await expect(legendItem(page, 'RoPE')).toHaveCount(1);
  await expect(legendItem(page, 'RoPE + YaRN')).toHaveCount(1);
  await expect(legendItem(page, 'Dynamic NTK')).toHaveCount(1);
  await expect(page.getByText('Showing recorded curves only')).toBeVisible();
  // The URL's valid settings are kept, the bad one falls back to its default and leaves the URL.
  await expect(page.getByRole('switch', { name: 'RoPE' })).not.toBeChecked();
  await expect(page.getByRole('slider', { name: 'Logit scale c' })).toHaveValue('0.3');
  await expect(page).toHaveURL(/\?model=tiny-rope&rope=0&c=0\.3$/);
  await expect(page.getByRole('button', { name: 'Recalibrate' })).toBeDisabled();
  expect(errors).toEqual([]);
});
