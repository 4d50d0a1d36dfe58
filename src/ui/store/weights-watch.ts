// The one place that notices the worker's weights changing: another model chosen, a load
// beginning (the worker drops what it held), or the GPU lost. Then the store's resetForWeights()
// clears what depended on them, and the worker is told to cancel the runs it ended.

import type { AppState, AppStore } from './store.ts';

/** Whether the weights the worker runs are no longer the ones `previous` saw. */
export function weightsChanged(state: AppState, previous: AppState): boolean {
  if (state.meta?.name !== previous.meta?.name) return true;
  if (state.gpu !== previous.gpu && state.gpu.kind !== 'ready') return true;
  // Only the end of a load keeps them: the same weights, now ready.
  return state.weights !== previous.weights && state.weights.kind !== 'ready';
}

/** Subscribes to `store`; returns the unsubscribe. `cancel` gets each ended run's request id. */
export function watchWeights(store: AppStore, cancel: (requestId: number) => void): () => void {
  return store.subscribe((state, previous) => {
    if (!weightsChanged(state, previous)) return;
    for (const id of state.resetForWeights()) cancel(id);
  });
}
