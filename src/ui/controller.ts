// The page's side of the engine worker: reads the model index, loads models, decides when to
// evaluate, and runs Fit c, Drop RoPE, recalibration and the kept variants, each through the worker
// client (worker/client.ts: a request's progress to a callback, its end as a promise) and into the
// store. Components read the store and call the controller's actions; none of them talks to the
// worker except through `controller.worker`.
//
// Evaluation is automatic: whenever the current settings (variant, RoPE, scaling, c) name a series
// that lacks a measured point at some evaluated length, the controller asks the worker for the
// missing lengths, after a short pause so a dragged slider asks once. A newer request cancels an
// older one that is still running. Cancelling by hand stops that until the user asks again.

import { parseConfig, usesRope, type ModelConfig } from '../model/config.ts';
import { F32_STORAGE, type StorageFormat } from '../model/precision.ts';
import { TRAIN_BOOKS, VALIDATION_BOOK } from '../train/data.ts';
import { readRecordedEval, readShippedModels, type RecordedCurve } from './recorded-curves.ts';
import { BASE_VARIANT, positionSetting, evaluationLengths, seriesLabel, type VariantInfo } from './settings.ts';
import type { ModelEntry, ModelMeta } from './store/run-slice.ts';
import { activeVariant, currentSeriesId, fitting, recalibrating, type AppState, type AppStore } from './store/store.ts';
import { parseUrlConfig, syncUrl } from './store/url-state.ts';
import { watchWeights } from './store/weights-watch.ts';
import { WorkerClient } from './worker/client.ts';
import type { FinalEvent, ProgressEvent, RequestBody } from './worker/protocol.ts';
import { hubSource } from '../model/source-hub.ts';
import { cacheStorageByteCache } from './hub-cache.ts';
import { checkFit, currentWeightsNote, FitError, type FitReport } from './hub-memory.ts';
import { compareState } from './compare/slice.ts';
import { downloadVariant, ImportError, readImportFiles, validateImport } from './persist/import-export.ts';
import { markStored, patchSaved, savedState, setSavedMessage, unmarkStored } from './persist/saved.ts';
import { newVariantKey, VariantStore, VariantStoreError } from './persist/variant-store.ts';

/** How long settings must stay still before an evaluation starts. */
const EVALUATE_DELAY_MS = 350;

/**
 * Worker events are applied in batches at most this often: one store update, so one React render,
 * per batch, however fast points, progress and training steps arrive.
 */
const EVENT_BATCH_MS = 100;

/** The c values "Fit c" tries (the slider's range, denser where the reference runs found the best c). */
export const FIT_GRID = [0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 1];

type DownloadListener = (file: string, loaded: number, total: number | undefined) => void;
type RecalibrateCommand = Extract<RequestBody, { type: 'recalibrate' }>;

/** Paths under the site's base (Vite's BASE_URL), as absolute URLs the worker can fetch. */
function siteUrl(path: string): string {
  return new URL(`${import.meta.env.BASE_URL}${path}`, window.location.href).href;
}

/** Why there is no WebGPU, as far as the page can tell without asking the worker. */
export function pageWebGpuProblem(): string | null {
  if (!window.isSecureContext) {
    return 'This page is not a secure context, and browsers expose WebGPU only over https or on localhost.';
  }
  if (!navigator.gpu) return 'This browser does not expose WebGPU (navigator.gpu is missing).';
  return null;
}

/** A file's text, or undefined when it is missing (a dev server answers that with its index.html). */
async function fetchText(url: string): Promise<string | undefined> {
  const response = await fetch(url);
  if (!response.ok || (response.headers.get('content-type') ?? '').includes('text/html')) return undefined;
  return response.text();
}

async function fetchJson(url: string): Promise<unknown | undefined> {
  const text = await fetchText(url);
  return text === undefined ? undefined : JSON.parse(text);
}

function readModelIndex(json: unknown): ModelEntry[] {
  if (!Array.isArray(json)) return [];
  const models: ModelEntry[] = [];
  for (const item of json) {
    if (typeof item !== 'object' || item === null) continue;
    const { name, label, description } = item as Record<string, unknown>;
    if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) continue;
    models.push({ name, label: typeof label === 'string' ? label : name, description: typeof description === 'string' ? description : '' });
  }
  return models;
}

function compactCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : String(n);
}

/** What the page shows and compares of a model, from its config. */
function modelMeta(name: string, config: ModelConfig, recordedProblem: string | null): ModelMeta {
  return {
    name,
    trainContext: config.maxPositionEmbeddings,
    hasRope: usesRope(config),
    summary: `${config.numLayers} layers, ${config.numHeads} heads, hidden size ${config.hiddenSize}, vocabulary ${compactCount(config.vocabSize)}`,
    vocabSize: config.vocabSize,
    recordedProblem,
  };
}

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

/** A Hub model's config.json, read on the page through the same Cache Storage cache as the worker's. */
async function readHubConfig(id: string, endpoint: string): Promise<ModelConfig> {
  const source = hubSource(id, { endpoint, cache: cacheStorageByteCache() });
  const text = await source.readText('config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`config.json of ${id} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return parseConfig(raw);
}

export class Controller {
  private readonly store: AppStore;
  /** The engine worker: every command goes through it (features call `controller.worker.request`). */
  readonly worker: WorkerClient;
  private evaluateTimer: ReturnType<typeof setTimeout> | null = null;
  /** Series whose evaluation the user cancelled: not restarted automatically. */
  private readonly held = new Set<string>();
  private modelToken = 0;
  private stopListening: (() => void) | null = null;
  private lastTrigger = '';
  /** The attention heatmap's request in the worker, and the newest one waiting for it to finish. */
  private heatmap: { running: number | null; waiting: (() => void) | null } = { running: null, waiting: null };
  /** The loaded model's config.json, parsed: imports must match its shapes. */
  private baseConfig: ModelConfig | null = null;
  /** The last Hub model loaded as the current model: its config and storage format (a shipped model is f32). */
  private hubWeights: { name: string; config: ModelConfig; format: StorageFormat } | null = null;
  /** "Resume recalibration" after a lost device: the kept run to resume once the model is back. */
  private resumeAfterLoad: string | null = null;
  /**
   * False with `?live=0` in the page's URL: no automatic evaluation, so the chart shows the recorded
   * eval.json curves alone and stays as it is (visual-regression screenshots, a projector demo on a
   * slow GPU). "Evaluate" still measures by hand. Read once at start: the flag is not a shareable
   * setting, so the URL table leaves it out and syncUrl drops it from the address bar.
   */
  private live = true;

  constructor(store: AppStore) {
    this.store = store;
    this.worker = new WorkerClient({
      create: () => new Worker(new URL('./worker/engine-worker.ts', import.meta.url), { type: 'module', name: 'engine' }),
      onGpuFailure: (event) => this.onGpuFailure(event.message, event.lost),
      onWorkerError: (message) => this.state.setGpu({ kind: 'failed', message: `the engine worker failed: ${message}` }),
      batchMs: EVENT_BATCH_MS,
    });
  }

  private get state(): AppState {
    return this.store.getState();
  }

  /** Reads the URL, checks for WebGPU, starts the worker and reads the model index. */
  start(): void {
    this.live = new URLSearchParams(window.location.search).get('live') !== '0';
    // Tests only: `?test-hooks` in the URL exposes window.__playgroundTest.loseDevice(), which
    // destroys the worker's GPU device (a real loss, as a driver reset causes; e2e/device-loss.spec.ts).
    // A URL flag rather than Vite's dev mode: it works against a production build as well, stays
    // off in everyday dev sessions, and can only harm the tab that asked for it. Read before
    // syncUrl, which drops it from the address bar.
    if (new URLSearchParams(window.location.search).has('test-hooks')) {
      (window as unknown as { __playgroundTest?: { loseDevice(): void } }).__playgroundTest = {
        loseDevice: () => this.worker.control({ type: 'loseDevice' }),
      };
    }
    this.state.replaceConfig(parseUrlConfig(window.location.search));
    syncUrl(this.state.config, window);
    const stopWatchingWeights = watchWeights(this.store, (target) => this.worker.control({ type: 'cancel', target }));
    const stopSyncing = this.store.subscribe((state, previous) => {
      if (state.config !== previous.config) syncUrl(state.config, window);
      if (state.config.model !== previous.config.model) void this.selectModel(state.config.model);
      // Only what decides whether to evaluate: progress events alone must not push the timer back.
      const trigger = this.evaluationTrigger(state);
      if (trigger !== this.lastTrigger) {
        this.lastTrigger = trigger;
        this.scheduleEvaluation();
      }
    });
    this.stopListening = () => {
      stopWatchingWeights();
      stopSyncing();
    };
    this.startWorker();
    void this.readIndex();
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
        this.loadWeights();
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

  /**
   * One head's attention pattern (components/AttentionHeatmap.tsx) for the current variant and
   * settings: `onResult` gets the pattern, `onEnd` the request's end. At most one such request is
   * in the worker at a time: a newer call cancels the running one and waits for it to finish, and
   * only the newest waiting call is sent then, so changing layers or settings quickly never stacks
   * GPU work.
   */
  attentionMap(
    layer: number,
    head: number,
    onResult: (event: ProgressEvent<'attentionMap'>) => void,
    onEnd: (event: FinalEvent<'attentionMap'>) => void,
  ): void {
    const s = this.state;
    const variant = activeVariant(s);
    if (s.gpu.kind !== 'ready' || s.weights.kind !== 'ready' || !variant) return;
    const settings = { rope: s.config.rope, scaling: s.config.scaling, factor: s.config.factor, c: s.config.c };
    const start = () => {
      // A superseded request's result is dropped: the newer one is on its way.
      const request = this.worker.request({ type: 'attentionMap', variant: variant.id, settings, layer, head }, (event) => {
        if (this.heatmap.waiting === null) onResult(event);
      });
      this.heatmap.running = request.id;
      void request.result.then((end) => {
        if (this.heatmap.waiting === null || end.type === 'error') onEnd(end);
        this.heatmap.running = null;
        const next = this.heatmap.waiting;
        this.heatmap.waiting = null;
        next?.();
      });
    };
    if (this.heatmap.running === null) return start();
    if (this.heatmap.waiting === null) this.worker.control({ type: 'cancel', target: this.heatmap.running });
    this.heatmap.waiting = start;
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
    this.heatmap.waiting = null;
    this.worker.stop();
    this.startWorker();
  }

  // ------------------------------------------------------------------------------ models

  private async readIndex(): Promise<void> {
    let models: ModelEntry[];
    try {
      models = readModelIndex(await fetchJson(siteUrl('models/index.json')));
    } catch {
      models = [];
    }
    if (models.length === 0) {
      this.state.setModels({ kind: 'missing', message: 'No models are published yet: /models/index.json lists none.' });
      return;
    }
    this.state.setModels({ kind: 'ready', models });
    // Every listed model's recorded curves (config.json and eval.json, no weights), beside the loaded one's.
    void readShippedModels(models, (path) => fetchText(siteUrl(`models/${path}`))).then(({ models: shipped, problems }) =>
      this.state.setShipped(shipped, problems),
    );
    const wanted = this.state.config.model;
    const name = models.some((m) => m.name === wanted) ? wanted : models[0].name;
    if (name !== wanted) this.state.setSetting('model', name);
    else void this.selectModel(name);
  }

  /** Reads config.json and eval.json on the page (no GPU needed), shows the recorded curves, loads weights. */
  private async selectModel(name: string): Promise<void> {
    const token = ++this.modelToken;
    const models = this.state.models;
    const entry = models.kind === 'ready' ? models.models.find((m) => m.name === name) : undefined;
    if (!entry) return;
    const base = siteUrl(`models/${name}/`);
    let meta: ModelMeta | null = null;
    let variant: VariantInfo | null = null;
    let recorded: RecordedCurve[] = [];
    let problem: string | null = null;
    try {
      const [rawConfig, evalText] = await Promise.all([
        fetchJson(`${base}config.json`),
        fetchText(`${base}eval.json`).catch(() => undefined),
      ]);
      if (rawConfig === undefined) throw new Error(`${base}config.json is missing`);
      const config = parseConfig(rawConfig);
      this.baseConfig = config;
      const hasRope = usesRope(config);
      const M = config.maxPositionEmbeddings;
      // eval.json's text: parseEvalJson reports bad JSON itself, naming the file.
      const recordedEval = readRecordedEval(evalText, { trainContext: M, maxPositionEmbeddings: M }, `${name}/eval.json`);
      recorded = recordedEval.curves;
      meta = modelMeta(name, config, recordedEval.problem);
      variant = { id: BASE_VARIANT, label: hasRope ? 'RoPE' : entry.label, kind: 'base', hasRope, detail: 'As trained' };
    } catch (error) {
      problem = `Cannot read ${name}: ${(error as Error).message}`;
    }
    if (token !== this.modelToken) return;
    this.held.clear();
    this.stopRunning();
    this.state.startModel(meta, recorded, variant);
    if (problem) {
      this.state.setWeights({ kind: 'failed', name, message: problem });
      return;
    }
    this.loadWeights();
  }

  /** Asks the worker to end whatever it runs for the page (a model switch makes it moot). */
  private stopRunning(): void {
    const s = this.state;
    if (s.evaluation) this.worker.control({ type: 'cancel', target: s.evaluation.requestId });
    if (s.fit && fitting(s)) this.worker.control({ type: 'cancel', target: s.fit.requestId });
    if (s.recalibration && recalibrating(s)) this.worker.control({ type: 'stop', target: s.recalibration.requestId });
  }

  /**
   * Loads a Hugging Face Hub model (ORG/NAME, from the Hub at `endpoint`) as the current model:
   * config.json first, on the page and through the same Cache Storage cache as the worker, then
   * its GPU memory estimate at the longest evaluated length, stored as `format` (the card resolves
   * its Precision choice, src/model/precision.ts), against the adapter's limits, then the weights
   * in the worker, stored as `format`, with download progress. Resolves with the fit report once loading
   * has started (the store's `weights` says when it ends); rejects when the id, the Hub or the
   * config fails, or when the weights alone cannot fit.
   */
  async loadHubModel(
    id: string,
    endpoint: string,
    onDownload?: (file: string, loaded: number, total: number | undefined) => void,
    format: StorageFormat = F32_STORAGE,
  ): Promise<FitReport> {
    const gpu = this.state.gpu;
    if (gpu.kind !== 'ready') throw new Error('WebGPU is not ready: a Hub model needs the GPU to run.');
    const config = await readHubConfig(id, endpoint);
    const M = config.maxPositionEmbeddings;
    const report = checkFit(config, Math.max(...evaluationLengths(M)), gpu.adapter, format);
    if (!report.weightsFit) throw new FitError(report);
    const name = `hf:${id}`;
    this.hubWeights = { name, config, format };
    const hasRope = usesRope(config);
    const meta = modelMeta(name, config, null);
    const variant: VariantInfo = { id: BASE_VARIANT, label: hasRope ? 'RoPE' : id, kind: 'base', hasRope, detail: 'As trained' };
    // A model chosen from the list meanwhile loses to this one.
    ++this.modelToken;
    this.held.clear();
    this.stopRunning();
    this.state.startModel(meta, [], variant);
    this.state.setWeights({ kind: 'loading', name });
    this.loadModel(
      {
        type: 'loadModel',
        name,
        baseUrl: '',
        validationUrl: siteUrl(`data/austen/${VALIDATION_BOOK}`),
        hub: { id, endpoint },
        weights: format.weights,
        activations: format.activations,
      },
      onDownload,
    );
    return report;
  }

  /**
   * "Compare with the current model": the Hub model `id` into the worker beside the loaded one
   * (loadVariant with `hub`, src/ui/compare/hub-variants.ts), stored as `format`, then selected in
   * Side by side's second slot. config.json first, on the page, for the memory check (checkFit at
   * the loaded model's longest evaluated length) and a sentence on the current model's weights,
   * which stay on the GPU beside it. Resolves with both once the download has started; the worker
   * checks vocabulary and tokenizer before fetching the weights. `onDownload` gets the progress,
   * `onEnd` the variant (or the error message) when the request ends. Rejects when no model is
   * loaded, on the current model's own id, or when the id, the Hub, the config or the fit fails.
   */
  async compareHubModel(
    id: string,
    endpoint: string,
    handlers: {
      onDownload?: (file: string, loaded: number, total: number | undefined) => void;
      onEnd?: (result: { variant: VariantInfo } | { message: string }) => void;
    } = {},
    format: StorageFormat = F32_STORAGE,
  ): Promise<{ report: FitReport; current: string }> {
    const { gpu, weights, meta } = this.state;
    if (gpu.kind !== 'ready') throw new Error('WebGPU is not ready: a Hub model needs the GPU to run.');
    if (weights.kind !== 'ready' || !meta) throw new Error('no model is loaded yet: load one first, then compare another with it.');
    if (meta.name === `hf:${id}`) throw new Error(`${id} is the current model already: compare it with another one.`);
    const config = await readHubConfig(id, endpoint);
    const report = checkFit(config, Math.max(...evaluationLengths(meta.trainContext)), gpu.adapter, format);
    if (!report.weightsFit) throw new FitError(report);
    // The model on the GPU already: its own weights stay there beside the new one.
    const own =
      this.hubWeights?.name === meta.name ? this.hubWeights : this.baseConfig ? { config: this.baseConfig, format: F32_STORAGE } : null;
    const current = own
      ? currentWeightsNote(meta.name, own.config, own.format)
      : `The current model’s weights (${meta.name}) are on the GPU too.`;
    // A load of another model meanwhile takes the worker's variants with it: this one is then not listed.
    const loadedWith = this.state.weights;
    const request = this.worker.request(
      { type: 'loadVariant', name: id, baseUrl: '', hub: { id, endpoint }, weights: format.weights, activations: format.activations },
      (event) => {
        if (event.type === 'download') return handlers.onDownload?.(event.file, event.loaded, event.total);
        if (this.state.weights === loadedWith) {
          const compare = compareState();
          compare.addHubVariant(event.variant);
          // As trained: with its rotary embeddings, where it has them.
          compare.setSlot('B', { variant: event.variant.id, rope: true });
        }
        handlers.onEnd?.({ variant: event.variant });
      },
    );
    void request.result.then((end) => {
      if (end.type === 'error') handlers.onEnd?.({ message: end.message });
      else if (end.type === 'cancelled') handlers.onEnd?.({ message: 'cancelled' });
    });
    return { report, current };
  }

  private loadWeights(): void {
    const { gpu, meta, weights } = this.state;
    if (gpu.kind !== 'ready' || !meta || weights.kind !== 'idle') return;
    this.state.setWeights({ kind: 'loading', name: meta.name });
    this.loadModel({
      type: 'loadModel',
      name: meta.name,
      baseUrl: siteUrl(`models/${meta.name}/`),
      validationUrl: siteUrl(`data/austen/${VALIDATION_BOOK}`),
    });
  }

  /** The weights into the worker; once there, the variants kept for this model come back. */
  private loadModel(command: Extract<RequestBody, { type: 'loadModel' }>, onDownload?: DownloadListener): void {
    const { name } = command;
    const request = this.worker.request(command, (event) => onDownload?.(event.file, event.loaded, event.total));
    void request.result.then((end) => {
      const s = this.state;
      if (s.meta?.name !== name) return;
      if (end.type === 'modelLoaded') {
        s.setWeights({ kind: 'ready', name, summary: end.summary });
        // The worker's variants start afresh with each load: bring back the stored ones.
        patchSaved({ stored: {}, interrupted: [] });
        this.restoreVariants();
        void this.listInterrupted(name).then(() => this.resumeKept());
      } else if (end.type === 'error') s.setWeights({ kind: 'failed', name, message: end.message });
      this.scheduleEvaluation();
    });
  }

  // ------------------------------------------------------------------------------ evaluation

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

  private scheduleEvaluation(): void {
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
    if (s.evaluation) this.worker.control({ type: 'cancel', target: s.evaluation.requestId });
    const position = positionSetting(s.config, variant.hasRope);
    const label = seriesLabel(variant, position, s.config.c, s.meta.trainContext);
    const settings = { rope: s.config.rope, scaling: s.config.scaling, factor: s.config.factor, c: s.config.c };
    const request = this.worker.request({ type: 'evaluate', variant: variant.id, settings, lengths, tokens: s.config.tokens }, (event) => {
      const state = this.state;
      if (event.type === 'point') {
        // Points of a cancelled request are still measurements: keep them.
        state.addMeasuredPoint(id, label, event.length, event.ppl);
        this.keepPoint(id, label, event.length, event.ppl);
      } else if (state.evaluation?.requestId === request.id) {
        state.setEvaluation({ ...state.evaluation, done: event.done, total: event.total, length: event.length });
      }
    });
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
      this.worker.control({ type: 'cancel', target: evaluation.requestId });
      this.state.setEvaluation(null);
    }
    if (fit && !fit.result) {
      this.worker.control({ type: 'cancel', target: fit.requestId });
      this.state.setFit(null);
    }
  }

  /** "Fit c": the c with the lowest perplexity at the two longest lengths, for the current settings. */
  fitC(): void {
    const s = this.state;
    const variant = activeVariant(s);
    if (s.weights.kind !== 'ready' || !variant || !s.meta || fitting(s)) return;
    const lengths = evaluationLengths(s.meta.trainContext).slice(-2);
    const settings = { rope: s.config.rope, scaling: s.config.scaling, factor: s.config.factor, c: s.config.c };
    const request = this.worker.request(
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

  // ------------------------------------------------------------------------------ variants

  dropRope(): void {
    const variant = activeVariant(this.state);
    if (!variant?.hasRope || this.state.weights.kind !== 'ready') return;
    const request = this.worker.request({ type: 'dropRope', from: variant.id }, (event) => this.state.addVariant(event.variant, true));
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
      this.worker.control({ type: 'cancel', target: s.evaluation.requestId });
      s.setEvaluation(null);
    }
    const request = this.worker.request(command, (event) => this.onRecalibrationProgress(request.id, event));
    void request.result.then((end) => this.onRecalibrationEnd(request.id, end));
    s.setNotice(null);
    const { from, steps, lr, batch } = command;
    s.setRecalibration({ requestId: request.id, status: 'preparing', from, steps, lr, batch, losses: [], ...start });
  }

  pauseOrResume(): void {
    const r = this.state.recalibration;
    if (!r || !recalibrating(this.state)) return;
    this.worker.control({ type: r.status === 'paused' ? 'resume' : 'pause', target: r.requestId });
  }

  stopRecalibration(): void {
    const r = this.state.recalibration;
    if (!r || !recalibrating(this.state)) return;
    this.worker.control({ type: 'stop', target: r.requestId });
    this.state.updateRecalibration(r.requestId, { message: 'Stopping after this step…' });
  }

  // ------------------------------------------------------------------------------ kept variants

  /** Stored variants back into the worker: all of the loaded model's (after a load), or the one just imported. */
  private restoreVariants(imported?: string): void {
    const request = this.worker.request({ type: 'restoreVariants', ...(imported ? { keys: [imported] } : {}) }, (event) => {
      this.state.addVariant(event.variant, imported !== undefined);
      if (event.stored) {
        markStored(event.variant.id, event.stored);
        void this.restorePoints(event.variant, event.stored);
      }
      if (imported) setSavedMessage({ kind: 'info', text: `Imported as "${event.variant.label}".` });
    });
    void request.result.then((end) => {
      if (end.type === 'error') {
        if (imported) {
          // Nothing half-loaded: the record goes when the worker could not load it.
          void this.withStore((store) => store.delete(imported)).catch(() => undefined);
          setSavedMessage({ kind: 'error', text: `Import failed: ${end.message}` });
        } else setSavedMessage({ kind: 'error', text: `Some kept variants could not be restored: ${end.message}` });
      }
      if (imported) patchSaved({ importing: false });
    });
  }

  private async withStore<T>(job: (store: VariantStore) => Promise<T>): Promise<T> {
    const store = await VariantStore.open();
    try {
      return await job(store);
    } finally {
      store.close();
    }
  }

  /** Offers the recalibrations a reload or a lost device cut short. */
  private async listInterrupted(model: string): Promise<void> {
    try {
      const runs = await this.withStore((store) => store.interrupted(model));
      if (this.state.meta?.name === model) patchSaved({ interrupted: runs });
    } catch {
      // No IndexedDB: nothing was kept either.
    }
  }

  /** "Resume": continues an interrupted recalibration from its kept step, with its settings. */
  resumeRecalibration(key: string): void {
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
    this.restart();
    this.resumeAfterLoad = key;
  }

  /** After a load: resumes the run "Resume recalibration" asked for, if any. */
  private resumeKept(): void {
    const key = this.resumeAfterLoad;
    this.resumeAfterLoad = null;
    if (!key) return;
    if (!savedState().interrupted.some((run) => run.key === key)) {
      this.state.setNotice('Cannot resume the recalibration: its checkpoint is no longer kept (deleted in another tab?).');
      return;
    }
    this.resumeRecalibration(key);
  }

  /** "Discard": forgets an interrupted recalibration. */
  async discardInterrupted(key: string): Promise<void> {
    try {
      await this.withStore((store) => store.delete(key));
      patchSaved((x) => ({ interrupted: x.interrupted.filter((r) => r.key !== key) }));
    } catch (error) {
      setSavedMessage({ kind: 'error', text: `Discard failed: ${(error as Error).message}` });
    }
  }

  /** The points measured for a kept variant before the reload, back in the chart. */
  private async restorePoints(variant: VariantInfo, key: string): Promise<void> {
    try {
      const stored = await this.withStore((store) => store.points(key));
      if (savedState().stored[variant.id] !== key) return;
      for (const [suffix, series] of Object.entries(stored.series)) {
        for (const p of series.points) this.state.addMeasuredPoint(`${variant.id}|${suffix}`, series.label, p.length, p.ppl);
      }
    } catch {
      // Points are a convenience: without them the variant is simply measured again.
    }
  }

  /** Keeps a measured point of a kept variant, so the chart shows it after a reload. */
  private keepPoint(seriesId: string, label: string, length: number, ppl: number): void {
    const bar = seriesId.indexOf('|');
    const key = bar < 0 ? undefined : savedState().stored[seriesId.slice(0, bar)];
    if (!key) return;
    void this.withStore((store) => store.addPoint(key, seriesId.slice(bar + 1), label, length, ppl)).catch(() => undefined);
  }

  /** "Export": the variant's config.json and model.safetensors, as two downloads. */
  async exportVariant(variantId: string): Promise<void> {
    const key = savedState().stored[variantId];
    if (!key) return;
    try {
      const record = await this.withStore((store) => store.get(key));
      if (!record) throw new Error('it is no longer stored (deleted in another tab?)');
      downloadVariant(record);
      setSavedMessage({
        kind: 'info',
        text: `Exported "${record.label}": config.json and model.safetensors. Put both in one folder to load it.`,
      });
    } catch (error) {
      setSavedMessage({ kind: 'error', text: `Export failed: ${(error as Error).message}` });
    }
  }

  /** "Delete": the variant leaves the store, the worker, the list and the chart. */
  async deleteVariant(variantId: string): Promise<void> {
    const key = savedState().stored[variantId];
    if (!key || recalibrating(this.state)) return;
    try {
      await this.withStore((store) => store.delete(key));
    } catch (error) {
      setSavedMessage({ kind: 'error', text: `Delete failed: ${(error as Error).message}` });
      return;
    }
    const s = this.state;
    unmarkStored(variantId);
    if (s.evaluation?.seriesId.startsWith(`${variantId}|`)) {
      this.worker.control({ type: 'cancel', target: s.evaluation.requestId });
      s.setEvaluation(null);
    }
    this.worker.request({ type: 'forgetVariant', variant: variantId });
    const label = s.variants.find((v) => v.id === variantId)?.label ?? variantId;
    this.store.setState((state) => ({
      variants: state.variants.filter((v) => v.id !== variantId),
      series: state.series.filter((x) => !x.id.startsWith(`${variantId}|`)),
      activeVariant: state.activeVariant === variantId ? BASE_VARIANT : state.activeVariant,
    }));
    setSavedMessage({ kind: 'info', text: `Deleted "${label}".` });
  }

  /** "Import checkpoint" and drops: validated on the page, kept, then loaded by the worker. */
  async importFiles(files: File[]): Promise<void> {
    const s = this.state;
    const model = this.baseConfig;
    if (savedState().importing) return;
    if (!model || !s.meta || s.weights.kind !== 'ready') {
      setSavedMessage({ kind: 'error', text: 'Import failed: load a model first (imports are variants of the loaded model).' });
      return;
    }
    patchSaved({ importing: true, message: { kind: 'info', text: 'Checking the files…' } });
    try {
      const { checkpoint, config, weights } = await validateImport(await readImportFiles(files, model), model);
      const imported = s.variants.filter((v) => v.label.startsWith('Imported')).length;
      const hasRope = usesRope(checkpoint.config);
      const key = newVariantKey();
      await this.withStore((store) =>
        store.put({
          key,
          model: s.meta!.name,
          label: `Imported #${imported + 1}`,
          detail: `Imported from ${files.map((f) => f.name).join(', ')}${hasRope ? '' : ' (no RoPE)'}`,
          origin: 'imported',
          parent: '',
          settings: {},
          created: Date.now(),
          config,
          weights,
        }),
      );
      this.restoreVariants(key);
    } catch (error) {
      const known = error instanceof ImportError || error instanceof VariantStoreError;
      const text = known ? error.message : `could not read the files: ${(error as Error).message}`;
      patchSaved({ importing: false, message: { kind: 'error', text: `Import failed: ${text}` } });
    }
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
