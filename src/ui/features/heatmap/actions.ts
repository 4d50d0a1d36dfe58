// The attention heatmap's requests: one head's attention pattern for the current variant and
// settings, at most one request in the worker at a time.

import { evalSettingsOf } from '../../settings.ts';
import { activeVariant, type AppState } from '../../store/store.ts';
import type { FinalEvent, ProgressEvent } from '../../worker/protocol.ts';
import type { Controller } from '../../controller.ts';

export class Heatmap {
  /** The request in the worker, and the newest one waiting for it to finish. */
  private pending: { running: number | null; waiting: (() => void) | null } = { running: null, waiting: null };

  constructor(private readonly app: Controller) {}

  private get state(): AppState {
    return this.app.store.getState();
  }

  /** A fresh worker ends the running request; nothing waits for it any more. */
  forgetWaiting(): void {
    this.pending.waiting = null;
  }

  /**
   * One head's attention pattern (features/heatmap/AttentionHeatmap.tsx) for the current variant and
   * settings: `onResult` gets the pattern, `onEnd` the request's end. At most one such request is
   * in the worker at a time: a newer call cancels the running one and waits for it to finish, and
   * only the newest waiting call is sent then, so changing layers or settings quickly never stacks
   * GPU work.
   */
  request(
    layer: number,
    head: number,
    onResult: (event: ProgressEvent<'attentionMap'>) => void,
    onEnd: (event: FinalEvent<'attentionMap'>) => void,
  ): void {
    const s = this.state;
    const variant = activeVariant(s);
    if (s.gpu.kind !== 'ready' || s.weights.kind !== 'ready' || !variant) return;
    const settings = evalSettingsOf(s.config);
    const start = () => {
      // A superseded request's result is dropped: the newer one is on its way.
      const request = this.app.worker.request({ type: 'attentionMap', variant: variant.id, settings, layer, head }, (event) => {
        if (this.pending.waiting === null) onResult(event);
      });
      this.pending.running = request.id;
      void request.result.then((end) => {
        if (this.pending.waiting === null || end.type === 'error') onEnd(end);
        this.pending.running = null;
        const next = this.pending.waiting;
        this.pending.waiting = null;
        next?.();
      });
    };
    if (this.pending.running === null) return start();
    if (this.pending.waiting === null) this.app.worker.control({ type: 'cancel', target: this.pending.running });
    this.pending.waiting = start;
  }
}
