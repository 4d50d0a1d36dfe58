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
import { perplexityByLength } from '../../eval/perplexity.ts';
import { loadCheckpoint } from '../../model/checkpoint.ts';
import type { ModelConfig } from '../../model/config.ts';
import { LlamaModel } from '../../model/model.ts';
import { urlSource } from '../../model/source-url.ts';
import { loadTokenizer, type TextTokenizer } from '../../model/tokenizer.ts';
import { TokenStream } from '../../train/data.ts';
import { NonFiniteError, Trainer } from '../../train/trainer.ts';
import { BASE_VARIANT, effectiveMode, positionModeAt, type EvalSettings, type VariantInfo } from '../settings.ts';
import type { Command, WorkerEvent } from './protocol.ts';

declare const self: DedicatedWorkerGlobalScope;

/** Progress events at most this often (the last one of a request always goes out). */
const PROGRESS_INTERVAL_MS = 100;

interface Variant {
  info: VariantInfo;
  /** A dropped variant shares its parent's LlamaModel: same weights, evaluated without RoPE. */
  model: LlamaModel;
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
    engine.onFailure((message) => post({ type: 'gpuFailure', id: 0, message }));
  }
  post({
    type: 'ready',
    id,
    adapter: {
      name: engine.adapterName,
      software: engine.adapter.software,
      maxBufferSize: engine.limits.maxBufferSize,
      maxStorageBinding: engine.limits.maxStorageBufferBindingSize,
    },
  });
}

function unload(): void {
  if (!loaded) return;
  const models = new Set([...loaded.variants.values()].map((v) => v.model));
  for (const model of models) model.destroy();
  loaded = null;
}

async function loadModel(command: Extract<Command, { type: 'loadModel' }>): Promise<void> {
  const gpu = requireEngine();
  unload();
  const source = urlSource(command.baseUrl);
  const [checkpoint, tokenizer, text] = await Promise.all([loadCheckpoint(source), loadTokenizer(source), fetchText(command.validationUrl)]);
  const validation = tokenizer.encode(text);
  const model = LlamaModel.fromCheckpoint(gpu, checkpoint);
  const config = checkpoint.config;
  const hasRope = model.defaultPositions.kind !== 'none';
  const base: VariantInfo = { id: BASE_VARIANT, label: hasRope ? 'RoPE' : 'No RoPE', kind: 'base', hasRope, detail: 'As trained' };
  loaded = { name: command.name, config, tokenizer, validation, variants: new Map([[BASE_VARIANT, { info: base, model }]]), training: null, made: 0 };
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
  const trainContext = requireModel().config.maxPositionEmbeddings;
  const context = { trainContext, maxPositionEmbeddings: trainContext };
  const mode = effectiveMode(settings, variant.info.hasRope);
  for (const L of lengths) {
    const before = progress.done;
    const result = await perplexityByLength(variant.model, tokens, {
      lengths: [L],
      positions: positionModeAt(mode, L, context),
      betaC: settings.c,
      trainContext,
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

async function evaluate(command: Extract<Command, { type: 'evaluate' }>): Promise<void> {
  const { id, lengths } = command;
  const variant = variantOf(command.variant);
  const tokens = validationTokens(command.tokens, lengths);
  const progress = { done: 0, total: windowsOf(tokens, lengths), report: throttledProgress(id) };
  await measure(id, variant, command.settings, tokens, lengths, (length, ppl) => post({ type: 'point', id, length, ppl }), progress);
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
  const parent = variantOf(command.from);
  if (parent.info.hasRope) throw new Error('recalibration trains a model without RoPE: drop RoPE first');
  const control = controls.get(id) ?? { paused: false, stopped: false, resume: null };
  controls.set(id, control);

  post({ type: 'status', id, message: 'Reading the training text…' });
  const stream = await trainingStream(command.trainUrls);
  if (control.stopped) throw new CancelledError();

  // A copy of the parent's weights: the parent stays as it was, for comparison.
  const config = loadedModel.config;
  const model = LlamaModel.fromCheckpoint(gpu, { config, tensors: await parent.model.readWeights() });
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
  post({ type: 'status', id, message: 'Training' });
  try {
    while (!trainer.done && !control.stopped) {
      if (control.paused) {
        post({ type: 'paused', id });
        await new Promise<void>((resolve) => (control.resume = resolve));
        control.resume = null;
        if (!control.stopped) post({ type: 'resumed', id });
        continue;
      }
      const record = await trainer.trainStep();
      post({ type: 'step', id, step: record.step, steps, loss: record.loss, lr: record.lr });
    }
  } catch (error) {
    model.destroy();
    throw error instanceof NonFiniteError ? new Error(`${error.message}; try a lower learning rate`) : error;
  } finally {
    trainer.destroy();
  }
  if (trainer.step === 0) {
    model.destroy();
    throw new CancelledError();
  }
  const base = `Recalibrated (${trainer.step} steps, LR ${formatLr(lr)})`;
  const same = [...loadedModel.variants.values()].filter((v) => v.info.label === base || v.info.label.startsWith(`${base} #`)).length;
  const info: VariantInfo = {
    id: `recalibrated-${++loadedModel.made}`,
    label: same === 0 ? base : `${base} #${same + 1}`,
    kind: 'recalibrated',
    hasRope: false,
    parent: parent.info.id,
    detail: `${parent.info.label}, trained ${trainer.step} steps at context ${config.maxPositionEmbeddings}, batch ${batch}, peak LR ${formatLr(lr)}, seed ${seed}`,
  };
  loadedModel.variants.set(info.id, { info, model });
  post({ type: 'variant', id, variant: info });
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
    case 'fitC':
      return enqueue(command.id, () => fitC(command));
    case 'dropRope':
      return enqueue(command.id, async () => dropRope(command));
    case 'recalibrate':
      return enqueue(command.id, () => recalibrate(command));
  }
};
