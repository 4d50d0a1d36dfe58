// `needle`: the multi-key needle-in-a-haystack success rate against prompt length
// (src/eval/needle.ts), filler from a public-domain novel (default: Persuasion, the app's text).

import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { needleByLength } from '../eval/needle.ts';
import { formatPositionMode } from '../model/positions.ts';
import { loadTokenizer } from '../model/tokenizer.ts';
import {
  betaCOption,
  formatDuration,
  integerIn,
  lengthsOption,
  modelSource,
  number,
  openModel,
  positions,
  progress,
  progressDone,
  readText,
  required,
  seedOption,
  trainContextOption,
  type Args,
} from './args.ts';

export const DEFAULT_NEEDLE_TEXT = fileURLToPath(new URL('../../public/data/austen/persuasion.txt', import.meta.url));

export async function needle(args: Args): Promise<void> {
  const lengths = lengthsOption(args);
  const trials = number(args.trials, 'trials', 10, integerIn(1, 10_000));
  const betaC = betaCOption(args);
  const seed = seedOption(args);
  const pos = positions(args);
  const givenTrainContext = trainContextOption(args);
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
