// `needle`: retrieval against prompt length, with text from a public-domain novel (default:
// Persuasion, the app's held-out text). `--task needle` (default): the paper's multi-key needle in a
// haystack (src/eval/needle.ts), for real checkpoints. `--task records`: the records task of the
// byte-level toy models (src/eval/records.ts), with success inside and outside the last C_train
// tokens.

import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { needleByLength } from '../eval/needle.ts';
import { parseRecordFormat, retrievalByLength } from '../eval/records.ts';
import { formatPositionMode } from '../model/positions.ts';
import { loadTokenizer } from '../model/tokenizer.ts';
import {
  attentionWindow,
  betaCOption,
  formatDuration,
  integerIn,
  lengthsOption,
  modelSource,
  number,
  openModel,
  positions,
  positionsByLength,
  progress,
  progressDone,
  readText,
  required,
  seedOption,
  trainContextOption,
  UsageError,
  type Args,
} from './args.ts';

export const DEFAULT_NEEDLE_TEXT = fileURLToPath(new URL('../../public/data/austen/persuasion.txt', import.meta.url));

export async function needle(args: Args): Promise<void> {
  const task = args.task ?? 'needle';
  if (task === 'records') return recordsTask(args);
  if (task !== 'needle') throw new UsageError(`--task must be needle or records, got "${task}"`);
  if (args.format !== undefined) throw new UsageError('--format goes with --task records');
  const lengths = lengthsOption(args);
  const trials = number(args.trials, 'trials', 10, integerIn(1, 10_000));
  const betaC = betaCOption(args);
  const seed = seedOption(args);
  const pos = positions(args);
  const givenTrainContext = trainContextOption(args);
  const window = attentionWindow(args);
  const textPath = args.text ?? DEFAULT_NEEDLE_TEXT;
  const text = await readText(textPath);
  const dir = required(args, 'model');
  const source = modelSource(dir);
  const tokenizer = await loadTokenizer(source);
  const { engine, model } = await openModel(args, source);
  try {
    const trainContext = givenTrainContext ?? model.config.maxPositionEmbeddings;
    // The filler is read cyclically, so only enough text for the longest prompt is tokenized
    // (16 characters a token is generous for any tokenizer, byte-level needs 1).
    const longest = Math.max(...lengths);
    const fillerIds = tokenizer.encode(text.slice(0, longest * 16 + 4096));
    const started = Date.now();
    const results = await needleByLength(model, tokenizer, fillerIds, {
      lengths,
      trials,
      seed,
      positions: pos,
      window,
      betaC,
      trainContext,
      onProgress: (done, total, L) => {
        const elapsed = (Date.now() - started) / 1000;
        progress(
          `needle: length ${L}, trial ${done}/${total}, ${formatDuration(elapsed)} elapsed, ~${formatDuration((elapsed * (total - done)) / done)} left`,
        );
      },
    });
    progressDone();
    const summary = {
      model: dir,
      text: basename(textPath),
      positions: formatPositionMode(pos ?? model.defaultPositions),
      window: window ?? null,
      beta_c: betaC,
      train_ctx: trainContext,
      trials,
      seed,
      results: results.map((r) => ({
        length: r.length,
        accuracy: r.accuracy,
        beta: r.beta,
        trials: r.trials.map((t) => ({
          seed: t.seed,
          key: t.asked,
          answer: t.answer,
          output: t.output,
          correct: t.correct,
          needle_positions: t.positions,
          prompt_tokens: t.promptTokens,
        })),
      })),
    };
    if (args.json) console.log(JSON.stringify(summary));
    else
      for (const r of results)
        console.log(
          `${String(r.length).padStart(8)}  ${(100 * r.accuracy).toFixed(1).padStart(5)}%  (${r.trials.filter((t) => t.correct).length}/${r.trials.length})`,
        );
  } finally {
    engine.destroy();
  }
}

/**
 * `needle --task records`: the records task's success at each length, over all trials and split
 * into inside / outside the last C_train tokens; `--json` prints {"L": {all, inside, outside,
 * trials, inside_trials, outside_trials}} (inside or outside null where no trial fell there).
 */
async function recordsTask(args: Args): Promise<void> {
  const lengths = lengthsOption(args);
  const trials = number(args.trials, 'trials', 100, integerIn(1, 10_000));
  const betaC = betaCOption(args);
  const seed = seedOption(args);
  let format;
  try {
    format = parseRecordFormat(args.format ?? 'lookup');
  } catch (e) {
    throw new UsageError(`--format: ${(e as Error).message}`, { cause: e });
  }
  const window = attentionWindow(args);
  const textPath = args.text ?? DEFAULT_NEEDLE_TEXT;
  const text = await readText(textPath);
  const source = modelSource(required(args, 'model'));
  const tokenizer = await loadTokenizer(source);
  const { engine, model } = await openModel(args, source);
  try {
    const { vocabSize, maxPositionEmbeddings } = model.config;
    if (vocabSize !== 256) {
      throw new UsageError(`--task records is for byte-level models (vocabulary 256); this one has ${vocabSize} tokens: use --task needle`);
    }
    const trainContext = number(args['train-ctx'], 'train-ctx', maxPositionEmbeddings, (n) => Number.isInteger(n) && n > 0);
    const pos = positionsByLength(args, { trainContext, maxPositionEmbeddings });
    const started = Date.now();
    const results = await retrievalByLength(model, tokenizer.encode(text), {
      lengths,
      trials,
      seed,
      format,
      positions: pos,
      window,
      betaC,
      trainContext,
      onProgress: (done, total, L) => {
        const elapsed = (Date.now() - started) / 1000;
        progress(
          `needle: records, length ${L}, trial ${done}/${total}, ${formatDuration(elapsed)} elapsed, ~${formatDuration((elapsed * (total - done)) / done)} left`,
        );
      },
    });
    progressDone();
    const json = Object.fromEntries([...results].map(([L, point]) => [String(L), point]));
    if (args.json) console.log(JSON.stringify(json));
    else {
      const percent = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(1)}%`).padStart(7);
      console.log(`${'length'.padStart(8)}${'all'.padStart(7)}${'inside'.padStart(7)}${'outside'.padStart(7)}  trials (inside/outside)`);
      for (const [L, r] of results) {
        console.log(
          `${String(L).padStart(8)}${percent(r.all)}${percent(r.inside)}${percent(r.outside)}  ${r.trials} (${r.inside_trials}/${r.outside_trials})`,
        );
      }
    }
  } finally {
    engine.destroy();
  }
}
