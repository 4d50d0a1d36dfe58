// Evaluation: perplexity at every evaluated length for the current settings (variant, RoPE,
// scaling, c), measured automatically: whenever they name a series that lacks a measured point,
// the worker is asked for the missing lengths, after a short pause so a dragged slider asks once. A
// newer request cancels an older one still running; cancelling by hand stops that until the user
// asks again. "Fit c" is a grid search over the logit scale in the worker.

import { evalSettingsOf, evaluationLengths, positionSetting, seriesLabel } from '../../settings.ts';
import { activeVariant, currentSeriesId, fitting, recalibrating, type AppState } from '../../store/store.ts';
import type { Controller } from '../../controller.ts';

/** How long settings must stay still before an evaluation starts. */
const EVALUATE_DELAY_MS = 350;

/** The c values "Fit c" tries (the slider's range, denser where the reference runs found the best c). */
export const FIT_GRID = [0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 1];

export class Evaluation {
  /**
   * False with `?live=0` in the page's URL: no automatic evaluation, so the chart shows the recorded
   * eval.json curves alone and stays as it is (visual-regression screenshots, a projector demo on a
   * slow GPU). "Evaluate" still measures by hand. Read once at start: the flag is not a shareable
   * setting, so the URL table leaves it out and syncUrl drops it from the address bar.
   */
  live = true;
  private evaluateTimer: ReturnType<typeof setTimeout> | null = null;
  /** Series whose evaluation the user cancelled: not restarted automatically. */
  private readonly held = new Set<string>();
  private lastTrigger = '';

  constructor(private readonly app: Controller) {}

  private get state(): AppState {
    return this.app.store.getState();
  }

  /** A store change: evaluates again when it changed what decides whether to (not on progress alone). */
  watch(state: AppState): void {
    const trigger = this.evaluationTrigger(state);
    if (trigger === this.lastTrigger) return;
    this.lastTrigger = trigger;
    this.schedule();
  }

  /** Another model: the series cancelled by hand are measured automatically again. */
  forgetHeld(): void {
    this.held.clear();
  }

  private evaluationTrigger(s: AppState): string {
    return JSON.stringify([
      currentSeriesId(s),
      s.gpu.kind,
      s.weights.kind,
      recalibrating(s),
      fitting(s),
      s.evaluation?.seriesId ?? null,
      this.missingLengths(s).length,
    ]);
  }

  /** Evaluates after EVALUATE_DELAY_MS of still settings (a newer call restarts the pause). */
  schedule(): void {
    if (this.evaluateTimer !== null) clearTimeout(this.evaluateTimer);
    this.evaluateTimer = setTimeout(() => {
      this.evaluateTimer = null;
      this.evaluateIfNeeded(false);
    }, EVALUATE_DELAY_MS);
  }

  /** The lengths the current series still lacks a measured point at. */
  missingLengths(state: AppState = this.state): number[] {
    const id = currentSeriesId(state);
    if (!id || !state.meta) return [];
    const measured = new Set(
      state.series
        .find((s) => s.id === id)
        ?.points.filter((p) => p.source === 'measured')
        .map((p) => p.length) ?? [],
    );
    return evaluationLengths(state.meta.trainContext).filter((L) => !measured.has(L));
  }

  private evaluateIfNeeded(byHand: boolean): void {
    const s = this.state;
    const variant = activeVariant(s);
    const id = currentSeriesId(s);
    if (s.gpu.kind !== 'ready' || s.weights.kind !== 'ready' || !s.meta || !variant || !id || recalibrating(s) || fitting(s)) return;
    if (s.evaluation?.seriesId === id) return;
    if (!byHand && !this.live) return;
    if (byHand) this.held.delete(id);
    if (this.held.has(id)) return;
    const lengths = this.missingLengths(s);
    if (lengths.length === 0) return;
    if (s.evaluation) this.app.worker.control({ type: 'cancel', target: s.evaluation.requestId });
    const position = positionSetting(s.config, variant.hasRope);
    const label = seriesLabel(variant, position, s.config.c, s.meta.trainContext);
    const settings = evalSettingsOf(s.config);
    const request = this.app.worker.request(
      { type: 'evaluate', variant: variant.id, settings, lengths, tokens: s.config.tokens },
      (event) => {
        const state = this.state;
        if (event.type === 'point') {
          // Points of a cancelled request are still measurements: keep them.
          state.addMeasuredPoint(id, label, event.length, event.ppl);
          this.app.kept.keepPoint(id, label, event.length, event.ppl);
        } else if (state.evaluation?.requestId === request.id) {
          state.setEvaluation({ ...state.evaluation, done: event.done, total: event.total, length: event.length });
        }
      },
    );
    void request.result.then((end) => {
      const state = this.state;
      if (state.evaluation?.requestId !== request.id) return;
      state.setEvaluation(null);
      if (end.type === 'error') {
        this.held.add(id);
        state.setNotice(`Evaluation failed: ${end.message}`);
      }
    });
    s.setNotice(null);
    s.setEvaluation({ requestId: request.id, seriesId: id, label, done: 0, total: 0, length: lengths[0] });
  }

  /** The "Evaluate" button: measure the current settings now (also after a cancel). */
  evaluate(): void {
    this.evaluateIfNeeded(true);
  }

  /** The "Cancel" button: stops the running evaluation or fit. */
  cancel(): void {
    const { evaluation, fit } = this.state;
    if (evaluation) {
      this.held.add(evaluation.seriesId);
      this.app.worker.control({ type: 'cancel', target: evaluation.requestId });
      this.state.setEvaluation(null);
    }
    if (fit && !fit.result) {
      this.app.worker.control({ type: 'cancel', target: fit.requestId });
      this.state.setFit(null);
    }
  }

  /** "Fit c": the c with the lowest perplexity at the two longest lengths, for the current settings. */
  fitC(): void {
    const s = this.state;
    const variant = activeVariant(s);
    if (s.weights.kind !== 'ready' || !variant || !s.meta || fitting(s)) return;
    const lengths = evaluationLengths(s.meta.trainContext).slice(-2);
    const settings = evalSettingsOf(s.config);
    const request = this.app.worker.request(
      { type: 'fitC', variant: variant.id, settings, lengths, tokens: s.config.tokens, grid: FIT_GRID },
      (event) => {
        const fit = this.state.fit;
        if (fit?.requestId === request.id) this.state.setFit({ ...fit, done: event.done, total: event.total });
      },
    );
    void request.result.then((end) => {
      const state = this.state;
      const fit = state.fit;
      if (fit?.requestId !== request.id) return;
      if (end.type === 'fitted') {
        state.setFit({ ...fit, done: fit.total, result: { c: end.c, lengths: end.lengths, scores: end.scores } });
        state.setSetting('c', end.c);
        return;
      }
      state.setFit(null);
      if (end.type === 'error') state.setNotice(`Fit c failed: ${end.message}`);
    });
    s.setNotice(null);
    s.setFit({ requestId: request.id, done: 0, total: 0 });
  }
}
