// What every command of the CLI shares: its options, argument checks, progress output and
// opening a model on the Node WebGPU device.

import { open, readFile, stat } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { Engine } from '../engine/engine.ts';
import { nodeGpu } from '../engine/node-gpu.ts';
import { directoryCache } from '../model/cache-node.ts';
import { loadCheckpoint, type ModelSource } from '../model/checkpoint.ts';
import { LlamaModel } from '../model/model.ts';
import { seriesMode, type SeriesContext, type SeriesKind } from '../eval/curves.ts';
import { parsePositionMode, type PositionMode } from '../model/positions.ts';
import { PRECISION_CHOICES, resolvePrecision, type PrecisionChoice, type StorageFormat } from '../model/precision.ts';
import { DEFAULT_HUB_ENDPOINT, HubError, hubSource, type HubProgress } from '../model/source-hub.ts';
import { directorySource } from '../model/source-node.ts';
import { formatBytes } from '../model/format-bytes.ts';
import { loadTokenizer, type TextTokenizer } from '../model/tokenizer.ts';

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
  force: { type: 'boolean' },
  // make-checkpoint
  like: { type: 'string' },
  'attention-type': { type: 'string' },
  shards: { type: 'string' },
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
  // generate
  prompt: { type: 'string' },
  'drop-at': { type: 'string' },
  // logits, ppl, eval, needle (any command that opens a model; training refuses f16)
  weights: { type: 'string' },
  precision: { type: 'string' },
} as const;

export type Args = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** A text file's contents, or an error naming the file; one larger than `maxBytes` is refused unread. */
export async function readText(path: string, maxBytes = Infinity): Promise<string> {
  let size;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (size > maxBytes) throw new Error(`${path} is ${formatBytes(size)}, more than the ${formatBytes(maxBytes)} it may be`);
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Tokens past the first N that a prefix of a text must also give, so that where it is cut cannot change the first N. */
const TOKEN_MARGIN = 256;

/** A text file checked at once by openTextFile (a missing file fails before any work), tokenized later. */
export interface TextFile {
  /**
   * The first `maxTokens` tokens of the text (all of them without `maxTokens`), reading only as
   * much of it as they need: a prefix of the file (16 bytes a token to start with, doubled as
   * needed), cut after its last line end, is tokenized until it gives maxTokens + TOKEN_MARGIN
   * tokens or is the whole file.
   */
  tokens(tokenizer: TextTokenizer, maxTokens?: number): Promise<number[]>;
}

export async function openTextFile(path: string): Promise<TextFile> {
  const fail = (e: unknown) => new Error(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  try {
    await (await open(path, 'r')).close();
  } catch (e) {
    throw fail(e);
  }
  return {
    async tokens(tokenizer, maxTokens = Infinity) {
      let file;
      try {
        file = await open(path, 'r');
        const { size } = await file.stat();
        for (let budget = maxTokens * 16 + 4096; ; budget *= 2) {
          const whole = budget >= size;
          const bytes = Buffer.alloc(Math.min(budget, size));
          await file.read(bytes, 0, bytes.length, 0);
          // After a line end: never inside a UTF-8 character, and rarely inside a token. A prefix
          // without one is cut before its last, possibly partial, character.
          let end = whole ? bytes.length : bytes.lastIndexOf(0x0a) + 1;
          if (end === 0) for (end = bytes.length - 1; end > 0 && (bytes[end] & 0xc0) === 0x80; end--);
          const tokens = tokenizer.encode(bytes.toString('utf8', 0, end));
          if (whole || tokens.length >= maxTokens + TOKEN_MARGIN) return tokens.slice(0, maxTokens);
        }
      } catch (e) {
        throw fail(e);
      } finally {
        await file?.close();
      }
    },
  };
}

export function required(args: Args, name: keyof Args): string {
  const value = args[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** What a numeric option accepts, and how its error says so. */
export interface NumberRange {
  check: (n: number) => boolean;
  expected: string;
}

export const integerIn = (min: number, max: number): NumberRange => ({
  check: (n) => Number.isInteger(n) && n >= min && n <= max,
  expected: `an integer in ${min}..${max}`,
});

/** min < n <= max, or min <= n <= max with `closed`. */
export const numberIn = (min: number, max: number, closed = false): NumberRange => ({
  check: (n) => (closed ? n >= min : n > min) && n <= max,
  expected: closed ? `a number in ${min}..${max}` : `a number > ${min} and <= ${max}`,
});

/**
 * A numeric option: `fallback` when it is absent, otherwise a finite number in `range`, or a usage
 * error that names the option and what it takes. Checked where it is parsed, before any work.
 */
export function number(text: string | undefined, name: string, fallback: number, range?: NumberRange | ((n: number) => boolean)): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  const inRange = range === undefined || (typeof range === 'function' ? range(n) : range.check(n));
  if (text.trim() === '' || !Number.isFinite(n) || !inRange) {
    const expected = typeof range === 'object' ? range.expected : 'a valid number';
    throw new UsageError(`--${name} must be ${expected}, got "${text}"`);
  }
  return n;
}

export const isPositiveInteger = (n: number) => Number.isInteger(n) && n >= 1;

export function numberList(text: string, name: string, range: NumberRange | ((n: number) => boolean)): number[] {
  return text.split(',').map((s) => number(s, name, NaN, range));
}

// Ranges of the options several commands share. A length or a token count beyond 2^24 cannot be
// a position in float32 (src/model/positions.ts); c and beta beyond these scale attention logits
// past anything meaningful (and towards float32 overflow).
export const MAX_TOKENS = 2 ** 24;
const BETA_C_RANGE = numberIn(0, 100, true);

/** --lengths L1,L2,...: sequence lengths, each at least 2. */
export const lengthsOption = (args: Args) => numberList(required(args, 'lengths'), 'lengths', integerIn(2, MAX_TOKENS));
/** --tokens N (default 16384): how many tokens of --text are used. */
export const tokensOption = (args: Args) => number(args.tokens, 'tokens', 16384, integerIn(2, MAX_TOKENS));
/** --beta-c C (default 0): c of DroPE's logit scale beta = 1 + c·ln(max(1, L / C_train)). */
export const betaCOption = (args: Args) => number(args['beta-c'], 'beta-c', 0, BETA_C_RANGE);
/** --grid C1,C2,... for fit-beta: values of c, as --beta-c takes them. */
export const gridOption = (args: Args) => numberList(args.grid ?? '0,0.05,0.1,0.15,0.2,0.3,0.4,0.6', 'grid', BETA_C_RANGE);
/** --train-ctx C_train, or undefined for the config's max_position_embeddings. */
export const trainContextOption = (args: Args) =>
  args['train-ctx'] === undefined ? undefined : number(args['train-ctx'], 'train-ctx', NaN, numberIn(0, MAX_TOKENS));
/** --seed S: a 32-bit seed (the random generator keeps 32 bits, so larger seeds would repeat smaller ones). */
export const seedOption = (args: Args) => number(args.seed, 'seed', 0, integerIn(0, 2 ** 32 - 1));

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

/** The number > 0 in the environment variable `name`, or `fallback` where it is unset; anything else is a usage error. */
function environmentNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a number > 0, got "${text}"`);
  return n;
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
  const limits = {
    stallTimeoutMs: environmentNumber('DROPE_HUB_TIMEOUT_S', 60) * 1000,
    minBytesPerSecond: environmentNumber('DROPE_HUB_MIN_RATE', 1024),
    deadlineMs: environmentNumber('DROPE_HUB_DEADLINE_S', 6 * 3600) * 1000,
    // A file is held in memory whole.
    maxFileBytes: totalmem(),
  };
  try {
    return hubSource(id, {
      endpoint,
      revision,
      cache: directoryCache(),
      onProgress: downloadProgress(`${HUB_PREFIX}${id}`),
      onWarning: (message) => {
        progressDone();
        process.stderr.write(`warning: ${message}\n`);
      },
      ...limits,
    });
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

/** A checkpoint from `source`, refusing before any weight is read one whose f32 parameters exceed this machine's memory. */
export function loadModelCheckpoint(source: ModelSource) {
  return loadCheckpoint(source, { memoryBytes: totalmem() });
}

/** The model `--model` names (or `source`, where the command opened it already) on a new engine. */
export async function openModel(
  args: Args,
  source: ModelSource = modelSource(required(args, 'model')),
): Promise<{ engine: Engine; model: LlamaModel; dir: string }> {
  const dir = required(args, 'model');
  weightFormat(args); // a bad --weights is a usage error before anything loads
  const loaded = await loadModelCheckpoint(source);
  const engine = await openEngine();
  try {
    return { engine, model: LlamaModel.fromCheckpoint(engine, loaded, storageFormat(args, engine)), dir };
  } catch (error) {
    engine.destroy();
    throw error;
  }
}

/**
 * What the perplexity commands (ppl, fit-beta, eval) share: the model `--model` names on a new
 * engine, its tokenizer, the first `maxTokens` tokens of `text` under it, and C_train
 * (`--train-ctx`, already parsed, or the config's max_position_embeddings).
 */
export async function openModelAndTokens(args: Args, text: TextFile, maxTokens: number, trainContext: number | undefined) {
  const source = modelSource(required(args, 'model'));
  const tokenizer = await loadTokenizer(source);
  const { engine, model } = await openModel(args, source);
  return {
    engine,
    model,
    tokenizer,
    tokens: await text.tokens(tokenizer, maxTokens),
    trainContext: trainContext ?? model.config.maxPositionEmbeddings,
  };
}

/** --pos MODE, or undefined for what config.json says; a bad mode is a usage error. */
export function positions(args: Args): PositionMode | undefined {
  if (args.pos === undefined) return undefined;
  try {
    return parsePositionMode(args.pos);
  } catch (error) {
    throw new UsageError(`--pos: ${(error as Error).message}`);
  }
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
    throw new UsageError(`${(e as Error).message} (or KIND:L/C for a factor of L / C_train at each length)`, { cause: e });
  }
}

/** `--window W`: each query attends to at most the last W tokens (RoPE cropped to C_train: W = C_train). */
export function attentionWindow(args: Args): number | undefined {
  return args.window === undefined ? undefined : number(args.window, 'window', 0, integerIn(1, MAX_TOKENS));
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
