// The retrieval panel's actions: "Measure retrieval" runs the records test on the worker for the
// current variant and settings (the worker's `retrieval` command, src/ui/worker/protocol.ts) and
// puts each length's result into the chart as it arrives; "Stop retrieval" cancels it. Requests
// go through the controller's `request` / `control`, as the long-context panel's do.

import type { Controller } from '../../controller.ts';
import { evalSettingsOf, positionSetting, seriesLabel } from '../../settings.ts';
import { activeVariant, appStore, currentSeriesId, type AppState } from '../../store/store.ts';
import { retrievalLengths, RETRIEVAL_SEED } from './logic.ts';

/** Every length a live run can measure for the loaded model (logic.ts retrievalLengths). */
export function modelRetrievalLengths(state: AppState): number[] {
  if (!state.meta) return [];
  const { name, trainContext } = state.meta;
  return retrievalLengths(trainContext, state.shipped.find((m) => m.name === name)?.retrieval ?? null);
}

/** The lengths "Measure retrieval" runs now: the loaded model's, up to the chosen longest. */
export function plannedLengths(state: AppState): number[] {
  const upTo = state.retrievalUpTo;
  const all = modelRetrievalLengths(state);
  return upTo === null ? all : all.filter((L) => L <= upTo);
}

/** True when "Measure retrieval" can start. */
export function canMeasureRetrieval(state: AppState): boolean {
  return (
    state.gpu.kind === 'ready' &&
    state.weights.kind === 'ready' &&
    activeVariant(state) !== null &&
    state.retrievalRun === null &&
    plannedLengths(state).length > 0
  );
}

/** "Measure retrieval": the records test for the current variant and settings, length by length. */
export function measureRetrieval(controller: Controller): void {
  const state = appStore().getState();
  const variant = activeVariant(state);
  const id = currentSeriesId(state);
  if (!canMeasureRetrieval(state) || !variant || !id || !state.meta) return;
  const lengths = plannedLengths(state);
  const position = positionSetting(state.config, variant.hasRope);
  const label = seriesLabel(variant, position, state.config.c, state.meta.trainContext);
  const trials = state.retrievalTrials;
  const request = controller.worker.request(
    { type: 'retrieval', variant: variant.id, settings: evalSettingsOf(state.config), lengths, trials, seed: RETRIEVAL_SEED },
    (event) => {
      const app = appStore().getState();
      if (app.retrievalRun?.requestId !== request.id) return;
      if (event.type === 'progress') app.retrievalProgress(request.id, event.done, event.total, event.length);
      else app.addRetrievalPoint(id, label, { length: event.length, ...event.point, source: 'measured' });
    },
  );
  void request.result.then((end) => {
    const app = appStore().getState();
    if (app.retrievalRun?.requestId !== request.id) return;
    if (end.type === 'done') app.setRetrievalRun(null);
    else if (end.type === 'error') app.setRetrievalRun(null, { kind: 'error', text: `${label}: ${end.message}` });
    else app.setRetrievalRun(null, { kind: 'info', text: 'Stopped.' });
  });
  state.setRetrievalRun({
    requestId: request.id,
    model: state.meta.name,
    seriesId: id,
    label,
    trials,
    done: 0,
    total: lengths.length * trials,
    length: lengths[0],
  });
}

/** "Stop retrieval": the running request ends; the lengths it finished stay on the chart. */
export function stopRetrieval(controller: Controller): void {
  const run = appStore().getState().retrievalRun;
  if (!run) return;
  controller.worker.control({ type: 'cancel', target: run.requestId });
  appStore().getState().setRetrievalRun(null, { kind: 'info', text: 'Stopped.' });
}
