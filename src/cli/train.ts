// Training commands of the CLI: `grads` (the gradient oracle check), `train` (pretraining and
// DroPE recalibration, resumable) and `fit-beta` (DroPE's logit-scale c on held-out text).

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { logitScale, perplexityByLength } from '../eval/perplexity.ts';
import { DEFAULT_MIXTURE, parseRecordFormat, retrievalByLength, type RecordFormat, type RecordsMixture } from '../eval/records.ts';
import { byteLevelTokenizerJson } from '../model/byte-tokenizer.ts';
import { expectedTensorShapes, WEIGHTS_FILE, type Checkpoint } from '../model/checkpoint.ts';
import { parseConfig } from '../model/config.ts';
import { initializeCheckpoint } from '../model/init.ts';
import { LlamaModel } from '../model/model.ts';
import { formatPositionMode } from '../model/positions.ts';
import { writeSafetensors, type WritableTensor } from '../model/safetensors.ts';
import { serializeCheckpoint } from '../model/save.ts';
import { saveCheckpointDirectory, writeFileAtomic } from '../model/save-node.ts';
import { MAX_JSON_BYTES } from '../model/source-hub.ts';
import { directorySource } from '../model/source-node.ts';
import { tokenizerFromJson, type TextTokenizer } from '../model/tokenizer.ts';
import { TokenStream, TRAIN_BOOKS, VALIDATION_BOOK } from '../train/data.ts';
import { checkTrainerStateSeal, sealTrainerState } from '../train/fingerprint-node.ts';
import { NonFiniteError, resumedOptions, Trainer, TRAINER_STATE_FILE } from '../train/trainer.ts';
import { parseTrainerState } from '../train/trainer-state.ts';
import {
  formatDuration,
  gridOption,
  integerIn,
  isPositiveInteger,
  lengthsOption,
  loadModelCheckpoint,
  MAX_TOKENS,
  modelSource,
  number,
  numberIn,
  openEngine,
  openModel,
  openModelAndTokens,
  openTextFile,
  positions,
  progress,
  progressDone,
  readText,
  required,
  seedOption,
  tokensOption,
  trainContextOption,
  UsageError,
  type Args,
} from './args.ts';
import { readIds } from './ids.ts';
import { checkDirectoryOutput, checkFileOutput, folderEntries, modelInput } from './output.ts';

/** `grads`: the mean next-token loss and its gradient for every tensor of the checkpoint. */
export async function grads(args: Args): Promise<void> {
  const idsPath = required(args, 'ids');
  const pos = positions(args);
  const source = modelSource(required(args, 'model'));
  const out = await checkFileOutput(required(args, 'out'), [
    modelInput(required(args, 'model')),
    { option: '--ids', path: idsPath, kind: 'file' },
  ]);
  const { ids, B, T } = await readIds(idsPath);
  if (T < 2) throw new Error('grads needs sequences of at least 2 tokens');
  const { engine, model } = await openModel(args, source);
  const loss = await model.lossAndGradients(ids, B, T, { positions: pos });
  const tensors: Record<string, WritableTensor> = { loss: { dtype: 'F32', shape: [], data: Float32Array.of(loss) } };
  for (const [name, grad] of model.grads) tensors[`grad.${name}`] = { dtype: 'F32', shape: [...grad.shape], data: await engine.read(grad) };
  await writeFileAtomic(out, writeSafetensors(tensors));
  progress(`wrote loss ${loss.toFixed(6)} and ${model.grads.size} gradients to ${out}`);
  progressDone();
  engine.destroy();
}

/** The five training novels, tokenized with the model's tokenizer. */
async function trainingTokens(dataDir: string, tokenizer: TextTokenizer): Promise<TokenStream> {
  const texts: string[] = [];
  for (const book of TRAIN_BOOKS) {
    const path = join(dataDir, book);
    try {
      texts.push(await readFile(path, 'utf8'));
    } catch (e) {
      throw new Error(`cannot read training text ${path}: ${(e as Error).message}`, { cause: e });
    }
  }
  return new TokenStream(tokenizer.encode(texts.join('\n\n')));
}

/**
 * The starting checkpoint of a run and its config as it will be saved: from a random
 * initialization or an earlier checkpoint, with RoPE dropped (`--pos none`) as the DroPE code
 * marks it: model_type llama_drope, attention_type nope, or qk_norm_nope with fresh QK-norm gains.
 */
async function startingPoint(args: Args): Promise<{ checkpoint: Checkpoint; tokenizerJson: string }> {
  const dropping = args.pos === 'none';
  let raw: Record<string, unknown>;
  let checkpoint: Checkpoint;
  let tokenizerJson: string;
  if (args.init !== undefined) {
    if (args.init !== 'random') throw new UsageError(`--init takes "random", got "${args.init}"`);
    if (args.from !== undefined) throw new UsageError('give --init random --config FILE or --from DIR, not both');
    const configPath = required(args, 'config');
    const text = await readText(configPath, MAX_JSON_BYTES);
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`cannot read --config ${configPath}: ${(e as Error).message}`, { cause: e });
    }
    checkpoint = { config: parseConfig(raw), tensors: new Map() };
    tokenizerJson = JSON.stringify(byteLevelTokenizerJson());
  } else {
    const from = required(args, 'from');
    checkpoint = await loadModelCheckpoint(directorySource(from));
    raw = { ...checkpoint.config.raw };
    tokenizerJson = await directorySource(from).readText('tokenizer.json');
  }
  if (dropping) {
    raw = {
      ...raw,
      model_type: 'llama_drope',
      architectures: ['DroPELlamaForCausalLM'],
      attention_type: args['qk-norm'] ? 'qk_norm_nope' : 'nope',
    };
  } else if (args['qk-norm']) {
    throw new UsageError('--qk-norm goes with --pos none (DroPE with QK-norm)');
  }
  const seed = seedOption(args);
  if (args.init !== undefined) return { checkpoint: initializeCheckpoint(raw, seed), tokenizerJson };
  const config = parseConfig(raw);
  const tensors = new Map(checkpoint.tensors);
  for (const [name, shape] of expectedTensorShapes(config)) {
    // New QK-norm gains start at 1: the identity scale, as a fresh RMSNorm does.
    if (!tensors.has(name) && /\.(q|k)_norm\.weight$/.test(name)) tensors.set(name, new Float32Array(shape[0]).fill(1));
  }
  return { checkpoint: { config, tensors }, tokenizerJson };
}

/** `--records FORMAT [--records-plain P] [--records-max N]`: the records task mixed into the text. */
function recordsMixture(args: Args): RecordsMixture | null {
  if (args.records === undefined) {
    if (args['records-plain'] !== undefined || args['records-max'] !== undefined)
      throw new UsageError('--records-plain and --records-max go with --records');
    return null;
  }
  let format;
  try {
    format = parseRecordFormat(args.records);
  } catch (e) {
    throw new UsageError(`--records: ${(e as Error).message}`);
  }
  return {
    format,
    plainShare: number(args['records-plain'], 'records-plain', DEFAULT_MIXTURE.plainShare, (n) => n >= 0 && n <= 1),
    maxRecords: number(args['records-max'], 'records-max', DEFAULT_MIXTURE.maxRecords, isPositiveInteger),
  };
}

/**
 * The retrieval monitor of a records run: the records test at 1x (length ctx) on held-out text
 * with fixed prompts, every `every` steps and at the end. Retrieval appears suddenly and its timing
 * varies by seed, so a run's log shows when (and whether) it did.
 */
interface RetrievalMonitor {
  every: number;
  measure(): Promise<number>;
}

async function retrievalMonitor(
  args: Args,
  model: LlamaModel,
  tokenizer: TextTokenizer,
  ctx: number,
  records: RecordsMixture | null,
  steps: number,
) {
  if (!records) {
    if (args['monitor-every'] !== undefined) throw new UsageError('--monitor-every goes with --records');
    return null;
  }
  const every = number(args['monitor-every'], 'monitor-every', Math.max(1, Math.round(steps / 20)), isPositiveInteger);
  const trials = number(args['monitor-trials'], 'monitor-trials', 64, isPositiveInteger);
  const text = tokenizer.encode(await readText(join(args.data ?? 'public/data/austen', VALIDATION_BOOK)));
  const monitor: RetrievalMonitor = {
    every,
    async measure() {
      const result = await retrievalByLength(model, text, { lengths: [ctx], trials, format: records.format, seed: 12345 });
      return result.get(ctx)!.all;
    },
  };
  return monitor;
}

/** Training tokens a step may hold (--batch × --ctx): far beyond any device's buffers, within typed arrays. */
const MAX_STEP_TOKENS = 2 ** 24;

/**
 * `train`: pretraining or recalibration with checkpoints every few minutes and exact resume.
 * `--steps` is the run's total (the learning-rate schedule spans it); `--stop-after S` stops after
 * step S with a checkpoint, and `--resume` with the same options continues to the total, exactly
 * as an uninterrupted run (or one resumed from a periodic checkpoint after a crash) would.
 */
export async function train(args: Args): Promise<void> {
  required(args, 'pos');
  const pos = positions(args)!;
  const steps = number(required(args, 'steps'), 'steps', 0, integerIn(1, 1e9));
  const options = {
    steps,
    ctx: number(required(args, 'ctx'), 'ctx', 0, integerIn(2, MAX_TOKENS)),
    batch: number(required(args, 'batch'), 'batch', 0, integerIn(1, MAX_STEP_TOKENS)),
    lr: number(required(args, 'lr'), 'lr', 0, numberIn(0, Number.MAX_VALUE)),
    warmup: number(args.warmup, 'warmup', Math.round(steps * 0.04), integerIn(0, steps)),
    seed: seedOption(args),
    positions: pos,
    records: recordsMixture(args),
  };
  if (options.batch * options.ctx > MAX_STEP_TOKENS) {
    throw new UsageError(
      `--batch ${options.batch} × --ctx ${options.ctx} is ${options.batch * options.ctx} tokens a step, more than ${MAX_STEP_TOKENS}`,
    );
  }
  const saveSeconds = number(args['save-minutes'], 'save-minutes', 5, numberIn(0, 1e6)) * 60;
  const stopAfter = number(args['stop-after'], 'stop-after', steps, integerIn(1, steps));
  const dataDir = args.data ?? 'public/data/austen';
  const out = required(args, 'out');
  // Also removes a killed save's temporaries, which would make the folder look taken.
  await checkDirectoryOutput(out, [
    { option: '--from', path: args.from, kind: 'folder' },
    { option: '--config', path: args.config, kind: 'file' },
    { option: '--data', path: dataDir, kind: 'folder' },
  ]);
  const resuming = Boolean(args.resume) && existsSync(join(out, TRAINER_STATE_FILE));
  if (!args.resume && existsSync(join(out, TRAINER_STATE_FILE))) {
    throw new UsageError(`${out} already holds a training run: add --resume to continue it, or choose another --out`);
  }
  // Saving writes config.json and model.safetensors into --out: never over a checkpoint or other
  // files that are not this run's.
  if (!resuming && folderEntries(out).length > 0) {
    throw new UsageError(`${out} is not empty and holds no training run (no ${TRAINER_STATE_FILE}): choose a new or empty --out`);
  }

  const start = resuming ? null : await startingPoint(args);
  let stateBytes: Uint8Array | null = null;
  if (resuming) {
    try {
      stateBytes = new Uint8Array(await readFile(join(out, TRAINER_STATE_FILE)));
      checkTrainerStateSeal(stateBytes, new Uint8Array(await readFile(join(out, WEIGHTS_FILE))));
    } catch (e) {
      throw new Error(`cannot resume the run in ${out}: ${(e as Error).message}`, { cause: e });
    }
  }
  const checkpoint = start?.checkpoint ?? (await loadModelCheckpoint(directorySource(out)));
  if (stateBytes) {
    // Checked before the GPU is set up; restoreState checks it again as it applies it.
    try {
      parseTrainerState(stateBytes, resumedOptions(options), expectedTensorShapes(checkpoint.config));
    } catch (e) {
      throw new Error(`cannot resume the run in ${out}: ${(e as Error).message}`, { cause: e });
    }
  }
  const tokenizerJson = start?.tokenizerJson ?? (await directorySource(out).readText('tokenizer.json'));
  const tokenizer = await tokenizerFromJson(JSON.parse(tokenizerJson), undefined, join(out, 'tokenizer.json'));
  const data = await trainingTokens(dataDir, tokenizer);
  const engine = await openEngine();
  const model = LlamaModel.fromCheckpoint(engine, checkpoint);
  const trainer = new Trainer(model, data, options);
  const monitor = await retrievalMonitor(args, model, tokenizer, options.ctx, options.records, options.steps);
  if (stateBytes) {
    try {
      trainer.restoreState(stateBytes);
    } catch (e) {
      throw new Error(`cannot resume the run in ${out}: ${(e as Error).message}`, { cause: e });
    }
  }
  const shapes = expectedTensorShapes(checkpoint.config);

  const save = async () => {
    const files = serializeCheckpoint(checkpoint.config.raw, await model.readWeights(), shapes, 'F32');
    const log = {
      positions: formatPositionMode(pos),
      options: { ...options, positions: formatPositionMode(pos) },
      tokens_in_training_text: data.tokens.length,
      steps: trainer.log,
    };
    await saveCheckpointDirectory(out, files, {
      'tokenizer.json': tokenizerJson,
      'train_log.json': `${JSON.stringify(log)}\n`,
      [TRAINER_STATE_FILE]: sealTrainerState(await trainer.saveState(), files.get(WEIGHTS_FILE)!),
    });
  };

  progress(
    `train: ${resuming ? `resuming at step ${trainer.step}` : 'starting'}, ${data.tokens.length} training tokens, ${engine.adapterName}`,
  );
  progressDone();
  const started = performance.now();
  const startStep = trainer.step;
  let lastSave = performance.now();
  try {
    while (!trainer.done && trainer.step < stopAfter) {
      const record = await trainer.trainStep();
      if (monitor && (trainer.step % monitor.every === 0 || trainer.done)) {
        record.retrieval = await monitor.measure();
        progressDone();
        progress(`train: step ${trainer.step}, loss ${record.loss.toFixed(4)}, retrieval at 1x ${(100 * record.retrieval).toFixed(1)}%`);
        progressDone();
      }
      const elapsed = (performance.now() - started) / 1000;
      const perStep = elapsed / (trainer.step - startStep);
      const width = 24;
      const filled = Math.round((width * trainer.step) / options.steps);
      progress(
        `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] step ${trainer.step}/${options.steps} loss ${record.loss.toFixed(4)} ` +
          `lr ${record.lr.toExponential(2)} ${Math.round(record.tokens_per_s)} tok/s, ${formatDuration(perStep * (options.steps - trainer.step))} left`,
      );
      if ((performance.now() - lastSave) / 1000 >= saveSeconds || trainer.done || trainer.step === stopAfter) {
        await save();
        lastSave = performance.now();
      }
    }
  } catch (e) {
    progressDone();
    if (e instanceof NonFiniteError) {
      const kept = existsSync(join(out, TRAINER_STATE_FILE))
        ? `the last good checkpoint in ${out} is kept`
        : 'no checkpoint had been saved yet';
      throw new Error(`${e.message}; ${kept}`, { cause: e });
    }
    throw e;
  }
  progressDone();
  const last = trainer.log[trainer.log.length - 1];
  if (!trainer.done) progress(`train: stopped after step ${trainer.step} of ${options.steps}; run again with --resume to continue`);
  progressDone();
  console.log(JSON.stringify({ out, steps: trainer.step, total_steps: options.steps, final_loss: last?.loss }));
  engine.destroy();
}

/**
 * `fit-beta`: the c of beta = 1 + c·ln(T / C_train) that minimizes held-out perplexity, or with
 * `--task records` maximizes the records test's success (over all trials, on prompts of its own
 * seed, default 1000, apart from eval's seed 0) at the given lengths.
 */
export async function fitBeta(args: Args): Promise<void> {
  const text = await openTextFile(required(args, 'text'));
  const lengths = lengthsOption(args);
  const grid = gridOption(args);
  const maxTokens = tokensOption(args);
  const task = args.task ?? 'perplexity';
  if (task !== 'perplexity' && task !== 'records') throw new UsageError(`--task must be perplexity or records, got "${task}"`);
  let format: RecordFormat;
  try {
    format = parseRecordFormat(args.format ?? 'lookup');
  } catch (e) {
    throw new UsageError(`--format: ${(e as Error).message}`, { cause: e });
  }
  const trials = number(args.trials, 'trials', 100, isPositiveInteger);
  const seed = number(args.seed, 'seed', 1000, (n) => Number.isInteger(n) && n >= 0);
  const pos = positions(args);
  const { engine, model, tokenizer, tokens, trainContext } = await openModelAndTokens(args, text, maxTokens, trainContextOption(args));
  // The records test reads the whole text (its prompts start at random offsets).
  const encoded = task === 'records' ? await text.tokens(tokenizer) : tokens;
  const scores: Record<string, Record<string, number>> = {};
  let best = { c: 0, score: Infinity };
  for (const [i, c] of grid.entries()) {
    progress(`fit-beta: c = ${c} (${i + 1}/${grid.length})`);
    let perLength: Map<number, number>;
    let score: number;
    if (task === 'records') {
      const result = await retrievalByLength(model, encoded, {
        lengths,
        trials,
        seed,
        format,
        betaC: c,
        trainContext,
        positions: pos,
      });
      perLength = new Map([...result].map(([L, point]) => [L, point.all]));
      // Higher success is better; ties go to the smaller c (the grid's order).
      score = -[...perLength.values()].reduce((sum, x) => sum + x, 0) / perLength.size;
    } else {
      perLength = await perplexityByLength(model, tokens, { lengths, betaC: c, trainContext, positions: pos });
      // One c for all lengths: the mean log-perplexity over them.
      score = [...perLength.values()].reduce((sum, p) => sum + Math.log(p), 0) / perLength.size;
    }
    scores[String(c)] = Object.fromEntries([...perLength].map(([L, x]) => [String(L), x]));
    if (score < best.score) best = { c, score };
  }
  progressDone();
  const betas = Object.fromEntries(lengths.map((L) => [String(L), logitScale(best.c, L, trainContext)]));
  console.log(JSON.stringify({ c: best.c, train_ctx: trainContext, beta: betas, [task === 'records' ? 'retrieval' : 'ppl']: scores }));
  engine.destroy();
}
