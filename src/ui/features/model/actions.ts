// Models: the shipped models' index (/models/index.json) and their recorded curves, the one chosen
// (config.json and eval.json read on the page, then its weights in the worker), a Hugging Face Hub
// model as the current one or beside it. A model switch makes whatever ran for the old one moot.

import { parseConfig, usesRope, type ModelConfig } from '../../../model/config.ts';
import { F32_STORAGE, type StorageFormat } from '../../../model/precision.ts';
import { hubSource } from '../../../model/source-hub.ts';
import { VALIDATION_BOOK } from '../../../train/data.ts';
import { fetchJson, fetchText, siteUrl } from '../../site.ts';
import { BASE_VARIANT, evaluationLengths, type VariantInfo } from '../../settings.ts';
import type { ModelEntry, ModelMeta } from '../../store/run-slice.ts';
import { fitting, recalibrating, type AppState } from '../../store/store.ts';
import type { RequestBody } from '../../worker/protocol.ts';
import { compareState } from '../side-by-side/slice.ts';
import { patchSaved } from '../saved-variants/saved.ts';
import { cacheStorageByteCache } from './hub-cache.ts';
import { checkFit, currentWeightsNote, FitError, type FitReport } from './hub-memory.ts';
import { readRecordedEval, readShippedModels, type RecordedCurve } from './recorded-curves.ts';

type DownloadListener = (file: string, loaded: number, total: number | undefined) => void;
import type { Controller } from '../../controller.ts';

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

export class Models {
  /** The loaded model's config.json, parsed: imports must match its shapes. */
  baseConfig: ModelConfig | null = null;
  /** The last Hub model loaded as the current model: its config and storage format (a shipped model is f32). */
  private hubWeights: { name: string; config: ModelConfig; format: StorageFormat } | null = null;
  /** Each selection's number: a slower read of an earlier choice loses to the latest. */
  private modelToken = 0;

  constructor(private readonly app: Controller) {}

  private get state(): AppState {
    return this.app.store.getState();
  }

  async readIndex(): Promise<void> {
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
  async selectModel(name: string): Promise<void> {
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
    this.app.evaluation.forgetHeld();
    this.stopRunning();
    this.state.startModel(meta, recorded, variant);
    if (problem) {
      this.state.setWeights({ kind: 'failed', name, message: problem });
      return;
    }
    this.loadWeights();
  }

  /** Asks the worker to end whatever it runs for the page (a model switch makes it moot). */
  stopRunning(): void {
    const s = this.state;
    if (s.evaluation) this.app.worker.control({ type: 'cancel', target: s.evaluation.requestId });
    if (s.fit && fitting(s)) this.app.worker.control({ type: 'cancel', target: s.fit.requestId });
    if (s.recalibration && recalibrating(s)) this.app.worker.control({ type: 'stop', target: s.recalibration.requestId });
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
    this.app.evaluation.forgetHeld();
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
   * (loadVariant with `hub`, src/ui/features/side-by-side/hub-variants.ts), stored as `format`, then selected in
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
    const request = this.app.worker.request(
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

  loadWeights(): void {
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
    const request = this.app.worker.request(command, (event) => onDownload?.(event.file, event.loaded, event.total));
    void request.result.then((end) => {
      const s = this.state;
      if (s.meta?.name !== name) return;
      if (end.type === 'modelLoaded') {
        s.setWeights({ kind: 'ready', name, summary: end.summary });
        // The worker's variants start afresh with each load: bring back the stored ones.
        patchSaved({ stored: {}, interrupted: [] });
        this.app.kept.restore();
        void this.app.kept.listInterrupted(name).then(() => this.app.recalibration.resumeKept());
      } else if (end.type === 'error') s.setWeights({ kind: 'failed', name, message: end.message });
      this.app.evaluation.schedule();
    });
  }
}
