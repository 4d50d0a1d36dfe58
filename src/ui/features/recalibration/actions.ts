// Recalibration: "Drop RoPE" makes a variant without rotary embeddings; "Recalibrate" trains it in
// the worker (backward kernels and AdamW on the GPU) with pause, stop and a checkpoint kept every
// few steps, so a reload or a lost device resumes from the latest one.

import { TRAIN_BOOKS } from '../../../train/data.ts';
import { siteUrl } from '../../site.ts';
import { BASE_VARIANT } from '../../settings.ts';
import { activeVariant, recalibrating, type AppState } from '../../store/store.ts';
import type { FinalEvent, ProgressEvent, RequestBody } from '../../worker/protocol.ts';
import { markStored, patchSaved, savedState, setSavedMessage } from '../saved-variants/saved.ts';
import type { Controller } from '../../controller.ts';

type RecalibrateCommand = Extract<RequestBody, { type: 'recalibrate' }>;

/**
 * What a lost device cost a recalibration, in the progress bar's step numbers: `step` steps were
 * done when it was lost (the one under way is lost with the device), `kept` is the step of the
 * latest checkpoint kept in the variant store, if any.
 */
export function deviceLossSummary(step: number, steps: number, kept: number | undefined): string {
  const lost = `GPU device lost at step ${step} of ${steps}`;
  if (kept === undefined) return `${lost}, before the first checkpoint: nothing of this recalibration is kept.`;
  const redo = step - kept;
  return `${lost}; the checkpoint at step ${kept} is kept; ${redo === 0 ? 'no steps' : redo === 1 ? '1 step' : `${redo} steps`} will be redone.`;
}

export class Recalibration {
  /** "Resume recalibration" after a lost device: the kept run to resume once the model is back. */
  private resumeAfterLoad: string | null = null;

  constructor(private readonly app: Controller) {}

  private get state(): AppState {
    return this.app.store.getState();
  }

  dropRope(): void {
    const variant = activeVariant(this.state);
    if (!variant?.hasRope || this.state.weights.kind !== 'ready') return;
    const request = this.app.worker.request({ type: 'dropRope', from: variant.id }, (event) => this.state.addVariant(event.variant, true));
    void request.result.then((end) => {
      if (end.type === 'error') this.state.setNotice(`Drop RoPE failed: ${end.message}`);
    });
  }

  recalibrate(): void {
    const s = this.state;
    const variant = activeVariant(s);
    if (!variant || variant.hasRope || s.weights.kind !== 'ready' || recalibrating(s)) return;
    const { steps, lr, batch, seed } = s.config;
    const trainUrls = TRAIN_BOOKS.map((book) => siteUrl(`data/austen/${book}`));
    this.startRecalibration(
      { type: 'recalibrate', from: variant.id, steps, lr, batch, seed, trainUrls },
      { step: 0, message: 'Starting…' },
    );
  }

  /**
   * Sends a recalibration and follows it in the store: `start` is where its progress bar starts
   * (step 0, or the kept step it resumes from). Training goes first: a running evaluation stops
   * (and resumes by itself afterwards).
   */
  private startRecalibration(
    command: RecalibrateCommand,
    start: { step: number; message: string; kept?: { step: number; key: string } },
  ): void {
    const s = this.state;
    if (s.evaluation) {
      this.app.worker.control({ type: 'cancel', target: s.evaluation.requestId });
      s.setEvaluation(null);
    }
    const request = this.app.worker.request(command, (event) => this.onRecalibrationProgress(request.id, event));
    void request.result.then((end) => this.onRecalibrationEnd(request.id, end));
    s.setNotice(null);
    const { from, steps, lr, batch } = command;
    s.setRecalibration({ requestId: request.id, status: 'preparing', from, steps, lr, batch, losses: [], ...start });
  }

  pauseOrResume(): void {
    const r = this.state.recalibration;
    if (!r || !recalibrating(this.state)) return;
    this.app.worker.control({ type: r.status === 'paused' ? 'resume' : 'pause', target: r.requestId });
  }

  stop(): void {
    const r = this.state.recalibration;
    if (!r || !recalibrating(this.state)) return;
    this.app.worker.control({ type: 'stop', target: r.requestId });
    this.state.updateRecalibration(r.requestId, { message: 'Stopping after this step…' });
  }

  /** "Resume": continues an interrupted recalibration from its kept step, with its settings. */
  resume(key: string): void {
    const s = this.state;
    const run = savedState().interrupted.find((r) => r.key === key);
    if (!run?.interrupted || s.weights.kind !== 'ready' || recalibrating(s)) return;
    const { steps = run.interrupted.steps, lr = s.config.lr, batch = s.config.batch, seed = s.config.seed } = run.settings;
    const trainUrls = TRAIN_BOOKS.map((book) => siteUrl(`data/austen/${book}`));
    patchSaved((x) => ({ interrupted: x.interrupted.filter((r) => r.key !== key) }));
    this.startRecalibration(
      { type: 'recalibrate', from: BASE_VARIANT, steps, lr, batch, seed, trainUrls, resume: key },
      {
        step: run.interrupted.step,
        message: `Resuming at step ${run.interrupted.step}…`,
        // Still kept under the same key until the run's next checkpoint replaces it.
        kept: { step: run.interrupted.step, key },
      },
    );
  }

  /**
   * "Resume recalibration" after a lost device: a fresh worker and device, the model reloaded
   * (restart), then the run continues from its latest kept checkpoint to its end, exactly as
   * "Resume" does after a reload (resumeRecalibration, once the model is loaded).
   */
  resumeAfterLoss(): void {
    const r = this.state.recalibration;
    if (r?.lostAt === undefined || !r.kept) return;
    const key = r.kept.key;
    this.app.restart();
    this.resumeAfterLoad = key;
  }

  /** After a load: resumes the run "Resume recalibration" asked for, if any. */
  resumeKept(): void {
    const key = this.resumeAfterLoad;
    this.resumeAfterLoad = null;
    if (!key) return;
    if (!savedState().interrupted.some((run) => run.key === key)) {
      this.state.setNotice('Cannot resume the recalibration: its checkpoint is no longer kept (deleted in another tab?).');
      return;
    }
    this.resume(key);
  }

  private onRecalibrationProgress(requestId: number, event: ProgressEvent<'recalibrate'>): void {
    const s = this.state;
    const r = s.recalibration;
    if (r?.requestId !== requestId) return;
    switch (event.type) {
      case 'status':
        s.updateRecalibration(requestId, { status: event.phase === 'training' ? 'running' : 'preparing', message: event.message });
        return;
      case 'step':
        s.addLoss(requestId, event.step, event.loss);
        return;
      case 'checkpointed':
        s.updateRecalibration(requestId, { kept: { step: event.step, key: event.key } });
        if (r.status === 'running') s.updateRecalibration(requestId, { message: `Training (kept at step ${event.step})` });
        return;
      case 'paused':
        s.updateRecalibration(requestId, { status: 'paused', message: 'Paused' });
        return;
      case 'resumed':
        s.updateRecalibration(requestId, { status: 'running', message: 'Training' });
        return;
      case 'variant':
        s.addVariant(event.variant, true);
        s.updateRecalibration(requestId, { variant: event.variant.id });
        if (event.stored) markStored(event.variant.id, event.stored);
        if (event.storeProblem) setSavedMessage({ kind: 'error', text: `${event.variant.label}: ${event.storeProblem}` });
        return;
    }
  }

  private onRecalibrationEnd(requestId: number, end: FinalEvent<'recalibrate'>): void {
    const s = this.state;
    const r = s.recalibration;
    if (r?.requestId !== requestId) return;
    switch (end.type) {
      case 'done': {
        const message = r.step < r.steps ? `Stopped after ${r.step} of ${r.steps} steps` : `Done: ${r.steps} steps`;
        s.updateRecalibration(requestId, { status: 'done', message });
        return;
      }
      case 'cancelled':
        s.updateRecalibration(requestId, { status: 'stopped', message: 'Stopped before the first step: no variant made' });
        return;
      case 'error':
        // After a lost device the message says what is kept (gpuFailure); the error only repeats the loss.
        if (r.lostAt !== undefined) return;
        s.updateRecalibration(requestId, { status: 'failed', message: end.message });
        return;
    }
  }
}
