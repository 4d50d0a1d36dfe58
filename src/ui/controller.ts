// The page's shell: the store, the engine worker's client, and one object per feature that talks to
// them (features/*/actions.ts). It reads the URL, starts the worker, restarts it after a lost
// device and routes store changes (URL sync, model switch, automatic evaluation, weights changes).
// Components read the store and call a feature's actions (`controller.evaluation.fitC()`); the
// side-by-side, long-context and retrieval features are functions over `controller.worker`.

import { parseUrlConfig, syncUrl } from './store/url-state.ts';
import { watchWeights } from './store/weights-watch.ts';
import { recalibrating, type AppState, type AppStore } from './store/store.ts';
import { BASE_VARIANT } from './settings.ts';
import { WorkerClient } from './worker/client.ts';
import { Evaluation } from './features/evaluation/actions.ts';
import { Heatmap } from './features/heatmap/actions.ts';
import { Models } from './features/model/actions.ts';
import { deviceLossSummary, Recalibration } from './features/recalibration/actions.ts';
import { KeptVariants } from './features/saved-variants/actions.ts';

/**
 * Worker events are applied in batches at most this often: one store update, so one React render,
 * per batch, however fast points, progress and training steps arrive.
 */
const EVENT_BATCH_MS = 100;

/** Why there is no WebGPU, as far as the page can tell without asking the worker. */
export function pageWebGpuProblem(): string | null {
  if (!window.isSecureContext) {
    return 'This page is not a secure context, and browsers expose WebGPU only over https or on localhost.';
  }
  if (!navigator.gpu) return 'This browser does not expose WebGPU (navigator.gpu is missing).';
  return null;
}

export class Controller {
  readonly store: AppStore;
  /** The engine worker: every command goes through it. */
  readonly worker: WorkerClient;
  readonly models: Models;
  readonly evaluation: Evaluation;
  readonly recalibration: Recalibration;
  readonly kept: KeptVariants;
  readonly heatmap: Heatmap;
  private stopListening: (() => void) | null = null;

  constructor(store: AppStore) {
    this.store = store;
    this.worker = new WorkerClient({
      create: () => new Worker(new URL('./worker/engine-worker.ts', import.meta.url), { type: 'module', name: 'engine' }),
      onGpuFailure: (event) => this.onGpuFailure(event.message, event.lost),
      onWorkerError: (message) => this.state.setGpu({ kind: 'failed', message: `the engine worker failed: ${message}` }),
      batchMs: EVENT_BATCH_MS,
    });
    this.models = new Models(this);
    this.evaluation = new Evaluation(this);
    this.recalibration = new Recalibration(this);
    this.kept = new KeptVariants(this);
    this.heatmap = new Heatmap(this);
  }

  get state(): AppState {
    return this.store.getState();
  }

  /** Reads the URL, checks for WebGPU, starts the worker and reads the model index. */
  start(): void {
    const query = new URLSearchParams(window.location.search);
    this.evaluation.live = query.get('live') !== '0';
    // Tests only: `?test-hooks` in the URL exposes window.__playgroundTest.loseDevice(), which
    // destroys the worker's GPU device (a real loss, as a driver reset causes; e2e/device-loss.spec.ts).
    // A URL flag rather than Vite's dev mode: it works against a production build as well, stays
    // off in everyday dev sessions, and can only harm the tab that asked for it. Read before
    // syncUrl, which drops it from the address bar.
    if (query.has('test-hooks')) {
      (window as unknown as { __playgroundTest?: { loseDevice(): void } }).__playgroundTest = {
        loseDevice: () => this.worker.control({ type: 'loseDevice' }),
      };
    }
    this.state.replaceConfig(parseUrlConfig(window.location.search));
    syncUrl(this.state.config, window);
    const stopWatchingWeights = watchWeights(this.store, (target) => this.worker.control({ type: 'cancel', target }));
    const stopSyncing = this.store.subscribe((state, previous) => {
      if (state.config !== previous.config) syncUrl(state.config, window);
      if (state.config.model !== previous.config.model) void this.models.selectModel(state.config.model);
      this.evaluation.watch(state);
    });
    this.stopListening = () => {
      stopWatchingWeights();
      stopSyncing();
    };
    this.startWorker();
    void this.models.readIndex();
  }

  stop(): void {
    this.stopListening?.();
    this.worker.stop();
  }

  // ------------------------------------------------------------------------------ worker

  private startWorker(): void {
    const problem = pageWebGpuProblem();
    if (problem) {
      this.state.setGpu({ kind: 'unavailable', reason: problem });
      return;
    }
    this.state.setGpu({ kind: 'checking' });
    this.worker.start();
    void this.worker.request({ type: 'init' }).result.then((end) => {
      const s = this.state;
      if (end.type === 'ready') {
        s.setGpu({ kind: 'ready', adapter: end.adapter });
        this.models.loadWeights();
      } else if (end.type === 'noWebGPU') s.setGpu({ kind: 'unavailable', reason: end.reason });
      else if (end.type === 'error') s.setGpu({ kind: 'failed', message: end.message });
    });
  }

  /** A lost device or an uncaught GPU error (the worker's gpuFailure). */
  private onGpuFailure(message: string, lost: boolean): void {
    const s = this.state;
    s.setGpu({ kind: 'failed', message });
    this.store.setState({ evaluation: null, fit: null });
    const r = s.recalibration;
    if (!r || !recalibrating(s)) return;
    // A lost device: say how much is kept (GpuAlert offers to resume from it); the request's own
    // error, which follows, keeps this message.
    if (lost)
      s.updateRecalibration(r.requestId, { status: 'failed', lostAt: r.step, message: deviceLossSummary(r.step, r.steps, r.kept?.step) });
    else s.updateRecalibration(r.requestId, { status: 'failed', message });
  }

  /** After a lost device: a fresh worker and device, the model reloaded (variants made here are gone). */
  restart(): void {
    const s = this.state;
    const base = s.variants.find((v) => v.id === BASE_VARIANT);
    this.store.setState({
      evaluation: null,
      fit: null,
      recalibration: null,
      notice: null,
      weights: { kind: 'idle' },
      variants: base ? [base] : [],
      activeVariant: BASE_VARIANT,
    });
    // The requests still open end as cancelled; none of them is the page's any more.
    this.heatmap.forgetWaiting();
    this.worker.stop();
    this.startWorker();
  }
}
