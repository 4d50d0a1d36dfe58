// What every command of the CLI shares: its options, argument checks, progress output and
// opening a model on the Node WebGPU device.

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Engine } from '../engine/engine.ts';
import { nodeGpu } from '../engine/node-gpu.ts';
import { directoryCache } from '../model/cache-node.ts';
import { loadCheckpoint, type Checkpoint, type ModelSource } from '../model/checkpoint.ts';
import { LlamaModel } from '../model/model.ts';
import { seriesMode, type SeriesContext, type SeriesKind } from '../eval/curves.ts';
import { parsePositionMode, type PositionMode } from '../model/positions.ts';
import { PRECISION_CHOICES, resolvePrecision, type PrecisionChoice, type StorageFormat } from '../model/precision.ts';
import { DEFAULT_HUB_ENDPOINT, HubError, hubSource, type HubProgress } from '../model/source-hub.ts';
import { directorySource } from '../model/source-node.ts';
import { formatBytes } from '../model/format-bytes.ts';

export class UsageError extends Error {}

export const OPTIONS = {
  model: { type: 'string' },
  ids: { type: 'string' },
  out: { type: 'string' },
  pos: { type: 'string' },
  beta: { type: 'string' },
  text: { type: 'string' },
  lengths: { type: 'string' },
  tokens: { type: 'string' },
  'beta-c': { type: 'string' },
  'train-ctx': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
  // train
  init: { type: 'string' },
  config: { type: 'string' },
  from: { type: 'string' },
  steps: { type: 'string' },
  ctx: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  warmup: { type: 'string' },
  seed: { type: 'string' },
  resume: { type: 'boolean' },
  'qk-norm': { type: 'boolean' },
  data: { type: 'string' },
  'save-minutes': { type: 'string' },
  'stop-after': { type: 'string' },
  records: { type: 'string' },
  'records-plain': { type: 'string' },
  'records-max': { type: 'string' },
  'monitor-every': { type: 'string' },
  'monitor-trials': { type: 'string' },
  // convert
  dtype: { type: 'string' },
  // fit-beta
  grid: { type: 'string' },
  // eval
  modes: { type: 'string' },
  retrieval: { type: 'string' },
  'retrieval-lengths': { type: 'string' },
  'none-label': { type: 'string' },
  // needle
  trials: { type: 'string' },
  task: { type: 'string' },
  format: { type: 'string' },
  window: { type: 'string' },
  // logits, ppl, eval, needle (any command that opens a model; training refuses f16)
  weights: { type: 'string' },
  precision: { type: 'string' },
} as const;

export type Args = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** A text file's contents, or an error naming the file. */
export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

export function required(args: Args, name: keyof Args): string {
  const value = args[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function number(text: string | undefined, name: string, fallback: number, check: (n: number) => boolean = Number.isFinite): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !check(n)) throw new UsageError(`--${name} must be a valid number, got "${text}"`);
  return n;
}

export const isPositiveInteger = (n: number) => Number.isInteger(n) && n >= 1;

export function numberList(text: string, name: string, check: (n: number) => boolean): number[] {
  return text.split(',').map((s) => number(s, name, NaN, check));
}

export function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${message}`);
  else process.stderr.write(`${message}\n`);
}

export function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write('\n');
}

export async function openEngine(): Promise<Engine> {
  const engine = await Engine.create(nodeGpu());
  engine.onFailure((message) => {
    process.stderr.write(`error: ${message}\n`);
    process.exit(1);
  });
  return engine;
}

/** `--model hf:ORG/NAME[@REVISION]`: a model on the Hugging Face Hub (or the mirror HF_ENDPOINT names). */
export const HUB_PREFIX = 'hf:';

/**
 * Download progress on stderr: on a terminal one line rewritten at most 5 times a second;
 * otherwise (logs, CI) a line when a file is complete and one every 10 s for a long download.
 */
function downloadProgress(describe: string): HubProgress {
  let lastShown = 0;
  return (file, loaded, total) => {
    const done = total !== undefined && loaded === total;
    const now = Date.now();
    const interval = process.stderr.isTTY ? 200 : 10_000;
    if (!done && (loaded === 0 ? !process.stderr.isTTY : now - lastShown < interval)) return;
    lastShown = now;
    const size =
      total === undefined
        ? formatBytes(loaded)
        : `${formatBytes(loaded)} of ${formatBytes(total)} (${total === 0 ? 100 : Math.floor((100 * loaded) / total)}%)`;
    progress(`download ${describe}/${file}: ${size}${done ? ', done' : ''}`);
  };
}

/**
 * Where `--model` points: `hf:ORG/NAME[@REVISION]` downloads from the Hub (HF_ENDPOINT from the
 * environment, default https://huggingface.co) through the cache in DROPE_CACHE_DIR (default
 * ~/.cache/drope-playground/hub), with progress on stderr; anything else is a checkpoint directory.
 */
export function modelSource(spec: string): ModelSource {
  if (!spec.startsWith(HUB_PREFIX)) return directorySource(spec);
  const rest = spec.slice(HUB_PREFIX.length);
  const at = rest.indexOf('@');
  const id = at < 0 ? rest : rest.slice(0, at);
  const revision = at < 0 ? undefined : rest.slice(at + 1);
  const endpoint = process.env.HF_ENDPOINT || DEFAULT_HUB_ENDPOINT;
  try {
    return hubSource(id, { endpoint, revision, cache: directoryCache(), onProgress: downloadProgress(`${HUB_PREFIX}${id}`) });
  } catch (error) {
    if (!(error instanceof HubError)) throw error;
    const where = process.env.HF_ENDPOINT ? ` (HF_ENDPOINT=${process.env.HF_ENDPOINT})` : '';
    throw new UsageError(`--model ${spec}${where}: ${error.message}`);
  }
}

/** `--weights f32|f16` (default f32): f16 stores the 2-D weights as binary16 pairs, half the GPU memory. */
export function weightFormat(args: Args): 'f32' | 'f16' {
  const value = args.weights ?? 'f32';
  if (value !== 'f32' && value !== 'f16') throw new UsageError(`--weights must be f32 or f16, got "${value}"`);
  return value;
}

/**
 * `--precision f32|f16|auto` (default f32, exact) with `--weights`: how the model is stored on the
 * GPU (src/model/precision.ts). f16 is binary16 weights and activations, which needs the adapter's
 * shader-f16; auto is f16 where the adapter has it; `--weights f16` alone halves only the weights.
 */
export function storageFormat(args: Args, engine: Engine): StorageFormat {
  const choice = (args.precision ?? 'f32') as PrecisionChoice;
  if (!PRECISION_CHOICES.includes(choice))
    throw new UsageError(`--precision must be one of ${PRECISION_CHOICES.join(', ')}, got "${choice}"`);
  let storage: StorageFormat;
  try {
    storage = resolvePrecision(choice, engine.supportsF16, engine.adapterName);
  } catch (error) {
    throw new UsageError(`--precision ${choice}: ${(error as Error).message}`);
  }
  return args.weights === undefined ? storage : { ...storage, weights: weightFormat(args) };
}

export async function openModel(args: Args, checkpoint?: Checkpoint): Promise<{ engine: Engine; model: LlamaModel; dir: string }> {
  const dir = required(args, 'model');
  weightFormat(args); // a bad --weights is a usage error before anything loads
  const loaded = checkpoint ?? (await loadCheckpoint(modelSource(dir)));
  const engine = await openEngine();
  try {
    return { engine, model: LlamaModel.fromCheckpoint(engine, loaded, storageFormat(args, engine)), dir };
  } catch (error) {
    engine.destroy();
    throw error;
  }
}

export function positions(args: Args): PositionMode | undefined {
  return args.pos === undefined ? undefined : parsePositionMode(args.pos);
}

/**
 * `--pos MODE` for commands that run several lengths: a scaled mode may also take its factor per
 * length, `KIND:L/C` (pi, ntk, yarn, dynamic with s = max(1, L / C_train), as eval's series do).
 */
export function positionsByLength(args: Args, context: SeriesContext): PositionMode | ((length: number) => PositionMode) | undefined {
  const perLength = /^(pi|ntk|yarn|dynamic):L\/C$/.exec(args.pos ?? '');
  if (perLength) return (length) => seriesMode(perLength[1] as SeriesKind, length, context);
  try {
    return positions(args);
  } catch (e) {
    throw new UsageError(`--pos: ${(e as Error).message} (or KIND:L/C for a factor of L / C_train at each length)`, { cause: e });
  }
}

/** `--window W`: each query attends to at most the last W tokens (RoPE cropped to C_train: W = C_train). */
export function attentionWindow(args: Args): number | undefined {
  return args.window === undefined ? undefined : number(args.window, 'window', 0, isPositiveInteger);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${s}s`;
}
