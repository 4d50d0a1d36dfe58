/// <reference lib="webworker" />
// The engine worker: owns the WebGPU device (Engine.create(navigator.gpu)), the loaded weights and
// every variant made from them, the tokenizer and the token arrays. The page sends commands and
// gets events (protocol.ts); nothing here touches the DOM, and the page never touches the GPU, so
// evaluation and training never block a frame.
//
// GPU work runs one request at a time, in arrival order (a promise chain). Control commands
// (cancel, pause, resume, stop) act at once: they set flags that the running loop checks between
// batches or optimizer steps.

import { Engine, EngineError } from '../../engine/engine.ts';
import { logitScale, perplexityByLength } from '../../eval/perplexity.ts';
import { needleByLength } from '../../eval/needle.ts';
import { retrievalByLength } from '../../eval/records.ts';
import { needleFits } from '../long-context/logic.ts';
import { expectedTensorShapes, loadCheckpoint, loadConfig, type ModelSource } from '../../model/checkpoint.ts';
import type { ModelConfig } from '../../model/config.ts';
import { LlamaModel } from '../../model/model.ts';
import { serializeCheckpoint } from '../../model/save.ts';
import { urlSource } from '../../model/source-url.ts';
import { hubSource } from '../../model/source-hub.ts';
import { cacheStorageByteCache } from '../hub-cache.ts';
import { loadTokenizer, TOKENIZER_FILE, type TextTokenizer } from '../../model/tokenizer.ts';
import { TokenStream } from '../../train/data.ts';
import { NonFiniteError, Trainer } from '../../train/trainer.ts';
import { attentionWindowOf, BASE_VARIANT, effectiveMode, positionModeAt, type EvalSettings, type VariantInfo } from '../settings.ts';
import type { Command, WorkerEvent } from './protocol.ts';
import { generate, PASSAGE_START, retune, tokenLoss, type CompareHost } from '../compare/compare-worker.ts';
import { shippedVariantId } from '../compare/shipped-variants.ts';
import { hubVariantId, hubVariantInfo, incompatible, tokenizerDifference, vocabSizeDifference } from '../compare/hub-variants.ts';
import { memorySource, newVariantKey, storedFiles, VariantStore, type StoredVariant } from '../persist/variant-store.ts';

declare const self: DedicatedWorkerGlobalScope;

/** Progress events at most this often (the last one of a request always goes out). */
const PROGRESS_INTERVAL_MS = 100;

interface Variant {
  info: VariantInfo;
  /** A dropped variant shares its parent's LlamaModel: same weights, evaluated without RoPE. */
  model: LlamaModel;
  /** Its key in the variant store (src/ui/persist/variant-store.ts), when it is kept there. */
  stored?: string;
}

interface Loaded {
  name: string;
  config: ModelConfig;
  tokenizer: TextTokenizer;
  /** persuasion.txt, tokenized: [N] */
  validation: number[];
  variants: Map<string, Variant>;
  /** The training text, tokenized once per model on the first recalibration. */
  training: { key: string; stream: TokenStream } | null;
  made: number;
  /**
   * Where its files are, without download events: a Hub model put beside it (loadVariant with
   * `hub`) reads its tokenizer.json from here to compare (Cache Storage for a Hub model).
   */
  files: ModelSource;
  /** Its tokenizer.json, parsed, once a Hub model was compared with it. */
  tokenizerJson: Promise<unknown> | null;
}

interface RecalibrationControl {
  paused: boolean;
  stopped: boolean;
  resume: (() => void) | null;
}

let engine: Engine | null = null;
let loaded: Loaded | null = null;
let queue: Promise<void> = Promise.resolve();
const cancelled = new Set<number>();
const controls = new Map<number, RecalibrationControl>();

function post(event: WorkerEvent): void {
  self.postMessage(event);
}

class CancelledError extends Error {}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs a GPU request after the ones before it; its errors become events, never a dead queue. */
function enqueue(id: number, job: () => Promise<void>): void {
  queue = queue.then(async () => {
    if (cancelled.has(id)) {
      post({ type: 'cancelled', id });
      return;
    }
    try {
      await job();
    } catch (error) {
      if (error instanceof CancelledError || cancelled.has(id)) post({ type: 'cancelled', id });
      else post({ type: 'error', id, message: messageOf(error) });
    } finally {
      cancelled.delete(id);
      controls.delete(id);
    }
  });
}

function throttledProgress(id: number) {
  let last = -Infinity;
  return (done: number, total: number, length: number) => {
    const now = performance.now();
    if (done < total && now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    post({ type: 'progress', id, done, total, length });
  };
}

function requireEngine(): Engine {
  if (!engine) throw new Error('WebGPU is not ready (init has not succeeded)');
  return engine;
}

function requireModel(): Loaded {
  if (!loaded) throw new Error('no model is loaded');
  return loaded;
}

function variantOf(id: string): Variant {
  const variant = requireModel().variants.get(id);
  if (!variant) throw new Error(`no variant "${id}" in the worker (was the model reloaded?)`);
  return variant;
}

async function fetchText(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} fetching ${url}`);
  if ((response.headers.get('content-type') ?? '').includes('text/html')) {
    throw new Error(`fetching ${url} returned an HTML page, not the text (is the file missing?)`);
  }
  return response.text();
}

// ------------------------------------------------------------------------------------ requests

async function init(id: number): Promise<void> {
  if (!engine) {
    try {
      engine = await Engine.create(navigator.gpu);
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      const reason = navigator.gpu
        ? 'This browser supports WebGPU but offered no adapter: the GPU may be blocklisted, or hardware acceleration is off.'
        : 'This browser does not expose WebGPU to workers (navigator.gpu is missing there).';
      post({ type: 'noWebGPU', id, reason });
      return;
    }
    engine.onFailure((message, lost) => {
      post({ type: 'gpuFailure', id: 0, message, lost });
      // A paused recalibration waits for no GPU work: wake it, so it ends with the loss as its error.
      if (lost) for (const c of controls.values()) c.resume?.();
    });
  }
  post({
    type: 'ready',
    id,
    adapter: {
      name: engine.adapterName,
      software: engine.adapter.software,
      maxBufferSize: engine.limits.maxBufferSize,
      maxStorageBinding: engine.limits.maxStorageBufferBindingSize,
      shaderF16: engine.supportsF16,
    },
  });
}

function unload(): void {
  if (!loaded) return;
  const models = new Set([...loaded.variants.values()].map((v) => v.model));
  for (const model of models) model.destroy();
  loaded = null;
}

/** A Hub model through the Cache Storage cache, with `download` events at most every 100 ms per file (and at each file's end). */
function hubModelSource(id: number, hub: { id: string; endpoint: string }) {
  let last = 0;
  return hubSource(hub.id, {
    endpoint: hub.endpoint,
    cache: cacheStorageByteCache(),
    onProgress: (file, loaded, total) => {
      const now = performance.now();
      const complete = total !== undefined && loaded === total;
      if (!complete && loaded !== 0 && now - last < 100) return;
      last = now;
      post({ type: 'download', id, file, loaded, total });
    },
  });
}

async function loadModel(command: Extract<Command, { type: 'loadModel' }>): Promise<void> {
  const gpu = requireEngine();
  unload();
  const source = command.hub ? hubModelSource(command.id, command.hub) : urlSource(command.baseUrl);
  const [checkpoint, tokenizer, text] = await Promise.all([
    loadCheckpoint(source),
    loadTokenizer(source),
    fetchText(command.validationUrl),
  ]);
  const validation = tokenizer.encode(text);
  const model = LlamaModel.fromCheckpoint(gpu, checkpoint, { weights: command.weights, activations: command.activations });
  const config = checkpoint.config;
  const hasRope = model.defaultPositions.kind !== 'none';
  const base: VariantInfo = { id: BASE_VARIANT, label: hasRope ? 'RoPE' : 'No RoPE', kind: 'base', hasRope, detail: 'As trained' };
  const files = command.hub ? hubSource(command.hub.id, { endpoint: command.hub.endpoint, cache: cacheStorageByteCache() }) : source;
  loaded = {
    name: command.name,
    config,
    tokenizer,
    validation,
    variants: new Map([[BASE_VARIANT, { info: base, model }]]),
    training: null,
    made: 0,
    files,
    tokenizerJson: null,
  };
  let parameters = 0;
  for (const data of checkpoint.tensors.values()) parameters += data.length;
  post({
    type: 'modelLoaded',
    id: command.id,
    summary: { name: command.name, trainContext: config.maxPositionEmbeddings, parameters, validationTokens: validation.length },
  });
}

/** The first tokens of the validation text, at least one window of the longest length. */
function validationTokens(budget: number, lengths: number[]): number[] {
  const { validation } = requireModel();
  const longest = Math.max(...lengths);
  if (validation.length < longest) {
    throw new Error(`the validation text has ${validation.length} tokens, fewer than one window of ${longest}`);
  }
  return validation.slice(0, Math.max(budget, longest));
}

/**
 * What a measurement at length L runs with under these settings, as the eval functions take it:
 * the position mode at L, the attention window (C_train for crop), c and C_train.
 */
function lengthOptions(settings: EvalSettings, hasRope: boolean) {
  const trainContext = requireModel().config.maxPositionEmbeddings;
  const context = { trainContext, maxPositionEmbeddings: trainContext };
  const mode = effectiveMode(settings, hasRope);
  return (L: number) => ({
    positions: positionModeAt(mode, L, context),
    window: attentionWindowOf(mode, trainContext),
    betaC: settings.c,
    trainContext,
  });
}

/** Perplexity at each length, reported point by point as each length finishes; progress counts windows over all lengths. */
async function measure(
  id: number,
  variant: Variant,
  settings: EvalSettings,
  tokens: number[],
  lengths: number[],
  onPoint: (length: number, ppl: number) => void,
  progress: { done: number; total: number; report: (done: number, total: number, length: number) => void },
): Promise<void> {
  const optionsAt = lengthOptions(settings, variant.info.hasRope);
  for (const L of lengths) {
    const before = progress.done;
    const result = await perplexityByLength(variant.model, tokens, {
      lengths: [L],
      ...optionsAt(L),
      onProgress: (done, _total, length) => {
        progress.done = before + done;
        progress.report(progress.done, progress.total, length);
      },
      cancelled: () => cancelled.has(id),
    });
    onPoint(L, result.get(L)!);
  }
}

const windowsOf = (tokens: number[], lengths: number[]) => lengths.reduce((sum, L) => sum + Math.floor(tokens.length / L), 0);

/** The last text tokenized for the page (Long context): counting it and then evaluating it tokenizes once. */
let textCache: { model: string; text: string; ids: number[] } | null = null;

/** A text the user pasted, tokenized by the loaded model's tokenizer. */
function tokenizeText(text: string): number[] {
  const model = requireModel();
  if (textCache?.model !== model.name || textCache.text !== text)
    textCache = { model: model.name, text, ids: model.tokenizer.encode(text) };
  return textCache.ids;
}

/** The first tokens of a pasted text, as validationTokens does for the validation text. */
function pastedTokens(text: string, budget: number, lengths: number[]): number[] {
  const ids = tokenizeText(text);
  const longest = Math.max(...lengths);
  if (ids.length < longest) throw new Error(`the text has ${ids.length} tokens, fewer than one window of ${longest}`);
  return ids.slice(0, Math.max(budget, longest));
}

async function evaluate(command: Extract<Command, { type: 'evaluate' }>): Promise<void> {
  const { id, lengths } = command;
  const variant = variantOf(command.variant);
  const tokens =
    command.text === undefined ? validationTokens(command.tokens, lengths) : pastedTokens(command.text, command.tokens, lengths);
  const progress = { done: 0, total: windowsOf(tokens, lengths), report: throttledProgress(id) };
  await measure(id, variant, command.settings, tokens, lengths, (length, ppl) => post({ type: 'point', id, length, ppl }), progress);
  post({ type: 'done', id });
}

/**
 * The needle test at each length (src/eval/needle.ts), filler from the pasted text or the validation
 * text. Lengths too short for four needles and the question are reported first (tooShort), then the
 * others are measured, one needlePoint per length; progress counts trials.
 */
async function needle(command: Extract<Command, { type: 'needle' }>): Promise<void> {
  const { id, lengths, trials, seed } = command;
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`trials ${trials} must be a positive integer`);
  const variant = variantOf(command.variant);
  const { tokenizer } = requireModel();
  const filler = command.text === undefined ? requireModel().validation : tokenizeText(command.text);
  if (filler.length === 0) throw new Error('the filler text has no tokens');
  const optionsAt = lengthOptions(command.settings, variant.info.hasRope);
  const fitting = lengths.filter((L) => needleFits(tokenizer, filler, L, seed, trials));
  for (const L of lengths) if (!fitting.includes(L)) post({ type: 'needlePoint', id, length: L, successes: 0, trials, tooShort: true });
  const report = throttledProgress(id);
  const total = fitting.length * trials;
  let before = 0;
  for (const L of fitting) {
    const [result] = await needleByLength(variant.model, tokenizer, filler, {
      lengths: [L],
      trials,
      seed,
      ...optionsAt(L),
      onProgress: (done, _total, length) => report(before + done, total, length),
      cancelled: () => cancelled.has(id),
    });
    before += trials;
    post({ type: 'needlePoint', id, length: L, successes: result.trials.filter((t) => t.correct).length, trials });
  }
  post({ type: 'done', id });
}

/**
 * The records test at each length on the validation text (src/eval/records.ts), one retrievalPoint
 * per length as it finishes; progress counts trials over all lengths.
 */
async function retrieval(command: Extract<Command, { type: 'retrieval' }>): Promise<void> {
  const { id, lengths, trials, seed } = command;
  const variant = variantOf(command.variant);
  const { validation } = requireModel();
  const optionsAt = lengthOptions(command.settings, variant.info.hasRope);
  const report = throttledProgress(id);
  const total = lengths.length * trials;
  let before = 0;
  for (const L of lengths) {
    const result = await retrievalByLength(variant.model, validation, {
      lengths: [L],
      trials,
      seed,
      format: 'lookup',
      ...optionsAt(L),
      onProgress: (done, _total, length) => report(before + done, total, length),
      cancelled: () => cancelled.has(id),
    });
    before += trials;
    post({ type: 'retrievalPoint', id, length: L, point: result.get(L)! });
  }
  post({ type: 'done', id });
}

/** Grid search of c: the c with the lowest mean ln(perplexity) over `lengths`. */
async function fitC(command: Extract<Command, { type: 'fitC' }>): Promise<void> {
  const { id, lengths, grid } = command;
  const variant = variantOf(command.variant);
  const tokens = validationTokens(command.tokens, lengths);
  const progress = { done: 0, total: windowsOf(tokens, lengths) * grid.length, report: throttledProgress(id) };
  const scores: { c: number; score: number }[] = [];
  for (const c of grid) {
    let sum = 0;
    await measure(id, variant, { ...command.settings, c }, tokens, lengths, (_L, ppl) => (sum += Math.log(ppl)), progress);
    scores.push({ c, score: sum / lengths.length });
  }
  const best = scores.reduce((a, b) => (b.score < a.score ? b : a));
  post({ type: 'fitted', id, c: best.c, lengths, scores });
}

function dropRope(command: Extract<Command, { type: 'dropRope' }>): void {
  const model = requireModel();
  const parent = variantOf(command.from);
  if (!parent.info.hasRope) throw new Error(`${parent.info.label} has no RoPE to drop`);
  const existing = [...model.variants.values()].find((v) => v.info.kind === 'dropped' && v.info.parent === parent.info.id);
  if (existing) {
    post({ type: 'variant', id: command.id, variant: existing.info });
    post({ type: 'done', id: command.id });
    return;
  }
  const info: VariantInfo = {
    id: `dropped-${++model.made}`,
    label: 'RoPE dropped',
    kind: 'dropped',
    hasRope: false,
    parent: parent.info.id,
    detail: `${parent.info.label}'s weights, rotary embeddings removed from every layer`,
  };
  model.variants.set(info.id, { info, model: parent.model });
  post({ type: 'variant', id: command.id, variant: info });
  post({ type: 'done', id: command.id });
}

async function trainingStream(urls: string[]): Promise<TokenStream> {
  const model = requireModel();
  const key = urls.join('\n');
  if (model.training?.key === key) return model.training.stream;
  const texts = await Promise.all(urls.map(fetchText));
  // The CLI's `train` joins the novels the same way (src/cli/train.ts trainingTokens).
  const stream = new TokenStream(model.tokenizer.encode(texts.join('\n\n')));
  model.training = { key, stream };
  return stream;
}

/** 0.001 → "1e-3": how learning rates are usually written. */
function formatLr(lr: number): string {
  return lr.toExponential();
}

async function recalibrate(command: Extract<Command, { type: 'recalibrate' }>): Promise<void> {
  const { id, steps, lr, batch, seed } = command;
  const gpu = requireEngine();
  const loadedModel = requireModel();
  // Resuming an interrupted run: its kept weights and trainer state, instead of a parent's weights.
  const resumed = command.resume ? await readInterrupted(command.resume) : null;
  const parent = resumed ? null : variantOf(command.from);
  if (parent?.info.hasRope) throw new Error('recalibration trains a model without RoPE: drop RoPE first');
  // A half-precision model (a Hub model loaded as f16) is for inference: its f32 copy would need the
  // memory f16 was chosen to save, and would train from rounded weights.
  parent?.model.assertTrainable();
  const parentLabel = resumed?.record.parent ?? parent!.info.label;
  const key = command.resume ?? newVariantKey();
  const control = controls.get(id) ?? { paused: false, stopped: false, resume: null };
  controls.set(id, control);

  post({ type: 'status', id, message: 'Reading the training text…' });
  const stream = await trainingStream(command.trainUrls);
  if (control.stopped) throw new CancelledError();

  // A copy of the parent's weights: the parent stays as it was, for comparison.
  const config = loadedModel.config;
  const model = LlamaModel.fromCheckpoint(gpu, { config, tensors: resumed ? resumed.tensors : await parent!.model.readWeights() });
  const trainer = new Trainer(model, stream, {
    steps,
    ctx: config.maxPositionEmbeddings,
    batch,
    lr,
    // The reference runs warm up over the first 4% of steps, then decay by a cosine to 0.
    warmup: Math.round(steps * 0.04),
    seed,
    positions: { kind: 'none' },
  });
  // Kept every `every` steps, so a reload or a lost device loses at most the steps since then.
  const every = checkpointInterval(steps);
  const keep = async () => {
    try {
      const interrupted = { step: trainer.step, steps, trainerState: await trainer.saveState() };
      await storeVariant(
        model,
        { label: 'Recalibration (interrupted)', detail: `${parentLabel}, interrupted`, hasRope: false },
        { steps, lr, batch, seed },
        parentLabel,
        key,
        interrupted,
      );
      post({ type: 'checkpointed', id, step: trainer.step, key });
    } catch {
      // Keeping is best effort (a full disk): training goes on.
    }
  };
  post({ type: 'status', id, message: 'Training' });
  try {
    if (resumed) {
      trainer.restoreState(resumed.trainerState);
      // The loss chart picks up where the run was cut.
      for (const r of trainer.log) post({ type: 'step', id, step: r.step, steps, loss: r.loss, lr: r.lr });
    }
    while (!trainer.done && !control.stopped) {
      if (control.paused) {
        post({ type: 'paused', id });
        await new Promise<void>((resolve) => (control.resume = resolve));
        control.resume = null;
        gpu.assertAlive();
        if (!control.stopped) post({ type: 'resumed', id });
        continue;
      }
      const record = await trainer.trainStep();
      post({ type: 'step', id, step: record.step, steps, loss: record.loss, lr: record.lr });
      if (!trainer.done && !control.stopped && trainer.step % every === 0) await keep();
    }
  } catch (error) {
    model.destroy();
    if (error instanceof NonFiniteError) {
      // Resuming would diverge again: nothing worth keeping.
      await deleteStored(key);
      throw new Error(`${error.message}; try a lower learning rate`, { cause: error });
    }
    throw error;
  } finally {
    trainer.destroy();
  }
  if (trainer.step === 0) {
    model.destroy();
    throw new CancelledError();
  }
  const parentId = parent?.info.id ?? command.from;
  const base = `Recalibrated (${trainer.step} steps, LR ${formatLr(lr)})`;
  const same = [...loadedModel.variants.values()].filter((v) => v.info.label === base || v.info.label.startsWith(`${base} #`)).length;
  const info: VariantInfo = {
    id: `recalibrated-${++loadedModel.made}`,
    label: same === 0 ? base : `${base} #${same + 1}`,
    kind: 'recalibrated',
    hasRope: false,
    parent: parentId,
    detail: `${parentLabel}, trained ${trainer.step} steps at context ${config.maxPositionEmbeddings}, batch ${batch}, peak LR ${formatLr(lr)}, seed ${seed}`,
  };
  // Kept in IndexedDB, so a reload (or a lost device) does not lose it; failing that, it still
  // works in this page.
  let stored: string | undefined;
  let storeProblem: string | undefined;
  try {
    stored = await storeVariant(model, info, { steps: trainer.step, lr, batch, seed }, parentLabel, key);
  } catch (error) {
    storeProblem = `not kept for a reload: ${messageOf(error)}`;
  }
  loadedModel.variants.set(info.id, { info, model, stored });
  post({ type: 'variant', id, variant: info, stored, storeProblem });
  post({ type: 'done', id });
}

/** Steps between kept checkpoints of a recalibration: about ten per run, at least every 50 steps. */
function checkpointInterval(steps: number): number {
  return Math.min(50, Math.max(1, Math.ceil(steps / 10)));
}

/** An interrupted recalibration's kept weights (f32, checked) and trainer state. */
async function readInterrupted(
  key: string,
): Promise<{ record: StoredVariant; tensors: Map<string, Float32Array>; trainerState: Uint8Array }> {
  const store = await VariantStore.open();
  try {
    const record = await store.get(key);
    if (!record?.interrupted) throw new Error('that interrupted recalibration is no longer kept');
    const checkpoint = await loadCheckpoint(memorySource(storedFiles(record), record.label));
    if (!sameShapes(expectedTensorShapes(checkpoint.config), expectedTensorShapes(requireModel().config))) {
      throw new Error(`its tensor shapes differ from ${requireModel().name}'s`);
    }
    return { record, tensors: checkpoint.tensors, trainerState: record.interrupted.trainerState };
  } finally {
    store.close();
  }
}

async function deleteStored(key: string): Promise<void> {
  try {
    const store = await VariantStore.open();
    await store.delete(key).finally(() => store.close());
  } catch {
    // Nothing stored, or no IndexedDB.
  }
}

/**
 * Saves a variant made here into the variant store, as an F32 Hugging Face checkpoint, under
 * `key` (a newer save of the same run replaces the older); its key. With `interrupted`, the record
 * is a resumable checkpoint of an unfinished run.
 */
async function storeVariant(
  model: LlamaModel,
  info: Pick<VariantInfo, 'label' | 'detail' | 'hasRope'>,
  settings: StoredVariant['settings'],
  parentLabel: string,
  key: string = newVariantKey(),
  interrupted?: StoredVariant['interrupted'],
): Promise<string> {
  const loadedModel = requireModel();
  const config = loadedModel.config;
  // No RoPE in these weights: attention_type "nope" says so (src/model/config.ts), so loading the
  // file back, here or with our CLI, evaluates it without rotary embeddings.
  const raw = info.hasRope ? config.raw : { ...config.raw, attention_type: 'nope' };
  const files = serializeCheckpoint(raw, await model.readWeights(), expectedTensorShapes(config), 'F32');
  const record: StoredVariant = {
    key,
    model: loadedModel.name,
    label: info.label,
    detail: info.detail,
    origin: 'recalibrated',
    parent: parentLabel,
    settings,
    created: Date.now(),
    config: new TextDecoder().decode(files.get('config.json')!),
    weights: files.get('model.safetensors')!,
    ...(interrupted ? { interrupted } : {}),
  };
  const store = await VariantStore.open();
  try {
    await store.put(record);
  } finally {
    store.close();
  }
  return record.key;
}

function sameShapes(a: Map<string, number[]>, b: Map<string, number[]>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, shape] of a) {
    const other = b.get(name);
    if (!other || other.length !== shape.length || other.some((d, i) => d !== shape[i])) return false;
  }
  return true;
}

/** Loads the stored variants of the loaded model (or those `keys`) into the GPU, one event each. */
async function restoreVariants(command: Extract<Command, { type: 'restoreVariants' }>): Promise<void> {
  const gpu = requireEngine();
  const loadedModel = requireModel();
  const store = await VariantStore.open();
  const problems: string[] = [];
  try {
    const keys = command.keys ?? (await store.keys(loadedModel.name));
    for (const key of keys) {
      if (cancelled.has(command.id)) throw new CancelledError();
      const id = `saved-${key}`;
      const existing = loadedModel.variants.get(id);
      if (existing) {
        post({ type: 'variant', id: command.id, variant: existing.info, stored: key });
        continue;
      }
      try {
        const record = await store.get(key);
        if (!record) throw new Error('it is no longer stored');
        // An unfinished recalibration is offered to resume (the page lists it), not shown as a variant.
        if (record.interrupted) continue;
        const checkpoint = await loadCheckpoint(memorySource(storedFiles(record), record.label));
        if (!sameShapes(expectedTensorShapes(checkpoint.config), expectedTensorShapes(loadedModel.config))) {
          throw new Error(`its tensor shapes differ from ${loadedModel.name}'s`);
        }
        const model = LlamaModel.fromCheckpoint(gpu, checkpoint);
        const info: VariantInfo = {
          id,
          label: record.label,
          kind: 'recalibrated',
          hasRope: model.defaultPositions.kind !== 'none',
          parent: BASE_VARIANT,
          detail: record.detail,
        };
        loadedModel.variants.set(id, { info, model, stored: key });
        post({ type: 'variant', id: command.id, variant: info, stored: key });
      } catch (error) {
        problems.push(`${key}: ${messageOf(error)}`);
      }
    }
  } finally {
    store.close();
  }
  if (problems.length > 0) throw new Error(`could not restore ${problems.length} stored variant(s): ${problems.join('; ')}`);
  post({ type: 'done', id: command.id });
}

/**
 * Side by side: another shipped model of the loaded one's tensor shapes as a variant, read as
 * loadModel reads a model (checkpoint.ts through urlSource) and checked as a restored variant is.
 * Loaded once; it goes with every other variant at the next loadModel (unload).
 */
async function loadVariant(command: Extract<Command, { type: 'loadVariant' }>): Promise<void> {
  if (command.hub) return loadHubVariant(command, command.hub);
  const gpu = requireEngine();
  const loadedModel = requireModel();
  const id = shippedVariantId(command.name);
  let variant = loadedModel.variants.get(id);
  if (!variant) {
    const checkpoint = await loadCheckpoint(urlSource(command.baseUrl));
    if (!sameShapes(expectedTensorShapes(checkpoint.config), expectedTensorShapes(loadedModel.config))) {
      throw new Error(`${command.name}'s tensor shapes differ from ${loadedModel.name}'s`);
    }
    const model = LlamaModel.fromCheckpoint(gpu, checkpoint);
    // attention_type "nope" in its config.json: no rotary embeddings (src/model/positions.ts).
    const hasRope = model.defaultPositions.kind !== 'none';
    variant = { info: { id, label: command.name, kind: 'base', hasRope, detail: `${command.name}, as trained` }, model };
    loadedModel.variants.set(id, variant);
  }
  post({ type: 'variant', id: command.id, variant: variant.info });
  post({ type: 'done', id: command.id });
}

/** A tokenizer.json, parsed; `where` names the model in errors. */
async function readTokenizerJson(source: ModelSource, where: string): Promise<unknown> {
  if (!(await source.has(TOKENIZER_FILE)))
    throw new Error(`${where} has no ${TOKENIZER_FILE}, so it cannot be checked against the current model's tokenizer`);
  const text = await source.readText(TOKENIZER_FILE);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${TOKENIZER_FILE} of ${where} is not valid JSON: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * Side by side: a Hub model beside the loaded one, as the variant "hub:ORG/NAME" (protocol.ts).
 * What generation needs is checked before the weights are fetched: config.json's vocab_size, then
 * tokenizer.json against the loaded model's (hub-variants.ts tokenizerDifference: vocab map,
 * merges and added tokens, not the file's bytes). Its tensors are checked by loadCheckpoint against
 * its own config.json, not against the loaded model's shapes (SmolLM-360M-DroPE has q_norm/k_norm
 * where SmolLM-360M has none). Loaded once; it goes with every other variant at the next loadModel.
 */
async function loadHubVariant(command: Extract<Command, { type: 'loadVariant' }>, hub: { id: string; endpoint: string }): Promise<void> {
  const gpu = requireEngine();
  if (!loaded) throw new Error(`cannot put ${hub.id} beside the current model: no model is loaded yet (load one first, then compare)`);
  const loadedModel = loaded;
  const id = hubVariantId(hub.id);
  let variant = loadedModel.variants.get(id);
  if (!variant) {
    const names = { a: loadedModel.name, b: hub.id };
    const source = hubModelSource(command.id, hub);
    const config = await loadConfig(source);
    const sizes = vocabSizeDifference(loadedModel.config.vocabSize, config.vocabSize, names);
    if (sizes) throw new Error(incompatible(names, sizes));
    loadedModel.tokenizerJson ??= readTokenizerJson(loadedModel.files, loadedModel.name);
    // A failed read is not kept: the next try reads again.
    const current = await loadedModel.tokenizerJson.catch((error: unknown) => {
      loadedModel.tokenizerJson = null;
      throw error;
    });
    const tokenizers = tokenizerDifference(current, await readTokenizerJson(source, hub.id), names);
    if (tokenizers) throw new Error(incompatible(names, tokenizers));
    const checkpoint = await loadCheckpoint(source);
    const model = LlamaModel.fromCheckpoint(gpu, checkpoint, { weights: command.weights, activations: command.activations });
    // Its own config.json decides its positions: attention_type nope / qk_norm_nope, no rotary embeddings.
    variant = { info: hubVariantInfo(hub.id, model.defaultPositions.kind !== 'none'), model };
    loadedModel.variants.set(id, variant);
  }
  post({ type: 'variant', id: command.id, variant: variant.info });
  post({ type: 'done', id: command.id });
}

/** Frees a variant's weights (unless another variant shares them). */
function forgetVariant(command: Extract<Command, { type: 'forgetVariant' }>): void {
  const loadedModel = requireModel();
  const variant = loadedModel.variants.get(command.variant);
  if (variant && command.variant !== BASE_VARIANT) {
    loadedModel.variants.delete(command.variant);
    const shared = [...loadedModel.variants.values()].some((v) => v.model === variant.model);
    if (!shared) variant.model.destroy();
  }
  post({ type: 'done', id: command.id });
}

/** Tokens the heatmap shows at most: a T x T grid stays readable. */
const ATTENTION_MAP_MAX = 64;

/**
 * One head's attention pattern on the first `length` tokens of the validation text (default: the
 * training context, at most ATTENTION_MAP_MAX), with the positions and logit scale the current
 * settings give an evaluation at that length.
 */
async function attentionMap(command: Extract<Command, { type: 'attentionMap' }>): Promise<void> {
  const { id } = command;
  const { info, model } = variantOf(command.variant);
  const { validation, tokenizer, config } = requireModel();
  // A layer or head the model does not have (a link made for a bigger model) falls back to 0, as a
  // bad URL value falls back to its default; the event says which one is shown.
  const { numLayers: layers, numHeads: heads } = config;
  const layer = Number.isInteger(command.layer) && command.layer >= 0 && command.layer < layers ? command.layer : 0;
  const head = Number.isInteger(command.head) && command.head >= 0 && command.head < heads ? command.head : 0;
  const trainContext = config.maxPositionEmbeddings;
  const T = Math.min(Math.floor(command.length ?? Math.min(trainContext, ATTENTION_MAP_MAX)), validation.length);
  if (!(T >= 1)) throw new Error(`the attention map needs at least one token, got length ${command.length}`);
  const mode = effectiveMode(command.settings, info.hasRope);
  // The passage the per-token loss view uses: prose, not the title page at the text's start.
  const start = Math.max(0, Math.min(PASSAGE_START, validation.length - T));
  const ids = validation.slice(start, start + T);
  const probs = await model.attentionMap(ids, T, layer, head, {
    positions: positionModeAt(mode, T, { trainContext, maxPositionEmbeddings: trainContext }),
    window: attentionWindowOf(mode, trainContext),
    beta: logitScale(command.settings.c, T, trainContext),
  });
  post({ type: 'attentionMap', id, tokens: ids.map((t) => tokenizer.decode([t])), probs: Array.from(probs), layer, head, layers, heads });
  post({ type: 'done', id });
}

// ------------------------------------------------------------------------------------ dispatch

function control(target: number): RecalibrationControl {
  let c = controls.get(target);
  if (!c) {
    // A control for a request still in the queue: it starts in that state.
    c = { paused: false, stopped: false, resume: null };
    controls.set(target, c);
  }
  return c;
}

/** What the side-by-side requests (src/ui/compare/compare-worker.ts) use of this worker. */
const compareHost: CompareHost = {
  post,
  enqueue,
  isCancelled: (id) => cancelled.has(id),
  cancelledError: () => new CancelledError(),
  variant: variantOf,
  tokenizer: () => requireModel().tokenizer,
  trainContext: () => requireModel().config.maxPositionEmbeddings,
  validation: () => requireModel().validation,
};

self.onmessage = (event: MessageEvent<Command>) => {
  const command = event.data;
  switch (command.type) {
    case 'cancel':
      cancelled.add(command.target);
      return;
    case 'pause':
      control(command.target).paused = true;
      return;
    case 'resume': {
      const c = control(command.target);
      c.paused = false;
      c.resume?.();
      return;
    }
    case 'loseDevice':
      // Tests only: a real loss, now, whatever runs (see protocol.ts). The engine reports it.
      engine?.device.destroy();
      return;
    case 'stop': {
      const c = control(command.target);
      c.stopped = true;
      c.paused = false;
      c.resume?.();
      return;
    }
    case 'init':
      return enqueue(command.id, () => init(command.id));
    case 'loadModel':
      return enqueue(command.id, () => loadModel(command));
    case 'evaluate':
      return enqueue(command.id, () => evaluate(command));
    case 'countTokens':
      // No GPU work: answered at once, with the tokenizer loaded now.
      try {
        post({ type: 'tokenCount', id: command.id, tokens: tokenizeText(command.text).length });
        post({ type: 'done', id: command.id });
      } catch (error) {
        post({ type: 'error', id: command.id, message: messageOf(error) });
      }
      return;
    case 'needle':
      return enqueue(command.id, () => needle(command));
    case 'retrieval':
      return enqueue(command.id, () => retrieval(command));
    case 'fitC':
      return enqueue(command.id, () => fitC(command));
    case 'dropRope':
      return enqueue(command.id, async () => dropRope(command));
    case 'recalibrate':
      return enqueue(command.id, () => recalibrate(command));
    case 'restoreVariants':
      return enqueue(command.id, () => restoreVariants(command));
    case 'forgetVariant':
      return enqueue(command.id, async () => forgetVariant(command));
    case 'loadVariant':
      return enqueue(command.id, () => loadVariant(command));
    case 'generate':
      return generate(compareHost, command);
    case 'retune':
      return retune(command);
    case 'tokenLoss':
      return tokenLoss(compareHost, command);
    case 'attentionMap':
      return enqueue(command.id, () => attentionMap(command));
  }
};
