// Runs that measure the loaded model (long context, retrieval) end when what they measure goes
// away: a model switch, a reload of the weights or a lost device makes their request moot.

import type { Controller } from '../controller.ts';
import { appStore, type AppState } from './store.ts';

export interface WatchedRun {
  model: string;
  requestId: number;
}

/**
 * A function to call with the controller of each new run: on the first call it subscribes to the
 * app store, and from then on cancels the run `currentRun` reports (through the latest controller;
 * the page has one, tests make several) and calls `stop` once the model, its weights or the GPU change.
 */
export function runWatcher(
  currentRun: (app: AppState) => WatchedRun | null,
  stop: (app: AppState) => void,
): (controller: Controller) => void {
  let watched: Controller | null = null;
  return (controller) => {
    const first = watched === null;
    watched = controller;
    if (!first) return;
    appStore().subscribe((app) => {
      const run = currentRun(app);
      if (!run) return;
      if (app.meta?.name !== run.model || app.weights.kind !== 'ready' || app.gpu.kind !== 'ready') {
        watched?.worker.control({ type: 'cancel', target: run.requestId });
        stop(app);
      }
    });
  };
}
