// A GPU device lost during a recalibration costs at most the steps since its last checkpoint: the
// app says at which step it was lost, which checkpoint is kept and how many steps will be redone,
// and "Resume recalibration" restarts the worker and device, reloads the model and finishes the run
// from that checkpoint; the new variant is kept like any other (it survives a reload).
//
// The loss is real, not a mock: `?test-hooks` makes the page expose window.__playgroundTest, whose
// loseDevice() has the engine worker call device.destroy() on its GPUDevice (src/ui/controller.ts).

import { expect, test, type Page } from '@playwright/test';
import { routeShortTrainingText, routeTinyModel } from './helpers/tiny-model.ts';

const RECALIBRATED = 'Recalibrated (30 steps, LR 1e-3)';

function legendItem(page: Page, name: string) {
  return page.getByRole('list', { name: 'Legend' }).getByText(name, { exact: true });
}

function keptItem(page: Page, name: string) {
  return page.getByRole('list', { name: 'Kept variants' }).getByRole('listitem').filter({ hasText: name });
}

interface Recorded {
  type: string;
  id: number;
  message?: string;
  lost?: boolean;
}

/**
 * Records, from now on, the events the engine worker posts to the page (its `self.postMessage`,
 * wrapped inside the worker): what the UI cannot show, e.g. that the recalibration's own request
 * ended with an error rather than waiting forever.
 */
async function recordWorkerEvents(page: Page): Promise<() => Promise<Recorded[]>> {
  const worker = page.workers().find((w) => w.url().includes('engine-worker'));
  if (!worker)
    throw new Error(
      `no engine worker among ${page
        .workers()
        .map((w) => w.url())
        .join(', ')}`,
    );
  await worker.evaluate(() => {
    const scope = self as unknown as { postMessage(m: unknown): void; __events: unknown[] };
    const post = scope.postMessage.bind(scope);
    scope.__events = [];
    scope.postMessage = (m: unknown) => {
      scope.__events.push(m);
      post(m);
    };
  });
  return () => worker.evaluate(() => (self as unknown as { __events: Recorded[] }).__events);
}

/** The recalibration's request ended with the loss as its error, after one gpuFailure that says "lost". */
async function expectRequestEndedWithLoss(events: () => Promise<Recorded[]>): Promise<void> {
  await expect
    .poll(async () => (await events()).find((e) => e.type === 'error')?.message, { timeout: 15_000 })
    .toMatch(/^the GPU device was lost/);
  const recorded = await events();
  expect(recorded.filter((e) => e.type === 'gpuFailure').map((e) => e.lost)).toEqual([true]);
  expect(recorded.findIndex((e) => e.type === 'gpuFailure')).toBeLessThan(recorded.findIndex((e) => e.type === 'error'));
}

function measuredEverything(page: Page) {
  return expect(page.getByText('Every length of the current settings is measured.')).toBeVisible({ timeout: 60_000 });
}

test('a device lost mid-recalibration keeps the last checkpoint, says so, and resumes from it', async ({ page }) => {
  test.setTimeout(240_000);
  await routeTinyModel(page);
  await routeShortTrainingText(page);
  await page.goto('/?tokens=256&steps=30&batch=2&test-hooks');
  await expect(page.getByRole('button', { name: 'Drop RoPE' })).toBeEnabled({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Drop RoPE' }).click();
  await page.getByRole('button', { name: 'Recalibrate' }).click();

  // 30 steps keep a checkpoint every 3. After the first one, pause: the run stands still, however
  // fast the machine, so the step numbers can be read.
  await expect(page.getByRole('status').filter({ hasText: /kept at step \d+\)/ })).toBeVisible({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Paused' })).toBeVisible();
  const progress = page.getByRole('progressbar', { name: 'Recalibration progress' });
  const stepAtPause = Number(await progress.getAttribute('value'));
  expect(stepAtPause).toBeGreaterThanOrEqual(3);
  expect(stepAtPause).toBeLessThan(30);
  const events = await recordWorkerEvents(page);

  // Resume and lose the device in the same task: the worker receives both messages in this order,
  // starts the next step on "resume" and is waiting for its GPU work when the device goes.
  await page.evaluate(() => {
    const toggle = [...document.querySelectorAll('button')].filter((b) => b.textContent === 'Resume');
    if (toggle.length !== 1) throw new Error(`expected one Resume toggle, found ${toggle.length}`);
    toggle[0].click();
    (window as unknown as { __playgroundTest: { loseDevice(): void } }).__playgroundTest.loseDevice();
  });

  // The step under way is lost with the device; the checkpoint kept is the last multiple of 3.
  const kept = 3 * Math.floor(stepAtPause / 3);
  const redo = stepAtPause - kept;
  const summary = `GPU device lost at step ${stepAtPause} of 30; the checkpoint at step ${kept} is kept; ${
    redo === 0 ? 'no steps' : redo === 1 ? '1 step' : `${redo} steps`
  } will be redone.`;
  const alert = page.getByRole('alert').filter({ hasText: 'The GPU stopped' });
  await expect(alert).toBeVisible({ timeout: 30_000 });
  await expect(alert).toContainText('the GPU device was lost');
  await expect(alert.getByTestId('device-loss-summary')).toHaveText(summary);
  // The progress shown agrees, and the run is over (not hanging in "Training").
  await expect(progress).toHaveAttribute('value', String(stepAtPause));
  await expect(page.getByRole('status').filter({ hasText: summary })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Stop' })).toBeDisabled();
  await expectRequestEndedWithLoss(events);
  // The step under way never finished: no step event after the resume went past the pause.
  expect((await events()).filter((e) => e.type === 'step')).toEqual([]);

  // Resume: a new worker and device, the model reloaded, the run finished from the checkpoint.
  await alert.getByRole('button', { name: 'Resume recalibration' }).click();
  await expect(alert).toHaveCount(0, { timeout: 30_000 });
  await expect(page.getByRole('status').filter({ hasText: 'Done: 30 steps' })).toBeVisible({ timeout: 120_000 });
  await expect(progress).toHaveAttribute('value', '30');
  await expect(keptItem(page, RECALIBRATED)).toHaveCount(1);
  // Resumed, not redone from scratch, and no leftover offer to resume it again.
  await expect(page.getByRole('group', { name: 'Interrupted recalibration' })).toHaveCount(0);
  await measuredEverything(page);
  await expect(legendItem(page, RECALIBRATED)).toHaveCount(1);
  await page.getByRole('button', { name: 'Show data' }).click();
  await expect(page.getByRole('table').getByRole('row', { name: RECALIBRATED })).toBeVisible();

  // Kept: after a reload it is back in the kept list, the legend and the table, without training.
  await page.reload();
  await expect(keptItem(page, RECALIBRATED)).toHaveCount(1, { timeout: 30_000 });
  await expect(legendItem(page, RECALIBRATED)).toHaveCount(1);
  // "Show data" is a kept preference: still on after the reload.
  await expect(page.getByRole('button', { name: 'Show data' })).toHaveAttribute('aria-pressed', 'true');
  const row = page.getByRole('table').getByRole('row', { name: RECALIBRATED });
  await expect(row).toBeVisible();
  await expect(row.getByRole('cell')).not.toContainText(['–']);
  await expect(page.getByRole('group', { name: 'Interrupted recalibration' })).toHaveCount(0);
});

test('a device lost while a recalibration is paused ends it at once; restarting offers the kept run', async ({ page }) => {
  test.setTimeout(120_000);
  await routeTinyModel(page);
  await routeShortTrainingText(page);
  await page.goto('/?tokens=256&steps=30&batch=2&test-hooks');
  await expect(page.getByRole('button', { name: 'Drop RoPE' })).toBeEnabled({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Drop RoPE' }).click();
  await page.getByRole('button', { name: 'Recalibrate' }).click();
  await expect(page.getByRole('status').filter({ hasText: /kept at step \d+\)/ })).toBeVisible({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Paused' })).toBeVisible();
  const stepAtPause = Number(await page.getByRole('progressbar', { name: 'Recalibration progress' }).getAttribute('value'));
  const kept = 3 * Math.floor(stepAtPause / 3);
  const events = await recordWorkerEvents(page);

  // A paused run waits on no GPU work, yet it must not stay "Paused" on a dead device.
  await page.evaluate(() => (window as unknown as { __playgroundTest: { loseDevice(): void } }).__playgroundTest.loseDevice());
  const alert = page.getByRole('alert').filter({ hasText: 'The GPU stopped' });
  await expect(alert.getByTestId('device-loss-summary')).toContainText(
    `GPU device lost at step ${stepAtPause} of 30; the checkpoint at step ${kept} is kept;`,
    { timeout: 15_000 },
  );
  await expect(alert.getByRole('button', { name: 'Resume recalibration' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Stop' })).toBeDisabled();
  await expectRequestEndedWithLoss(events);

  // "Restart the engine" instead: WebGPU and the model come back, and the kept run is offered
  // like one a reload cut short.
  await alert.getByRole('button', { name: 'Restart the engine' }).click();
  await expect(alert).toHaveCount(0, { timeout: 30_000 });
  const offer = page.getByRole('group', { name: 'Interrupted recalibration' });
  await expect(offer).toContainText(`kept at step ${kept} of 30`, { timeout: 30_000 });
});
