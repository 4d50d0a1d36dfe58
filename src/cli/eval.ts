// `eval`: perplexity against length for every position mode in one run, the model loaded and the
// text tokenized once, written as a perplexity-curve file (src/eval/curves.ts: which series, the
// mode of each at each length, and the file format the web app reads). With `--retrieval FORMAT`,
// every series also runs the records test (src/eval/records.ts) at `--retrieval-lengths`.

import { basename, join, resolve } from 'node:path';
import {
  defaultSeriesKinds,
  parseEvalJson,
  parseSeriesKinds,
  planSeries,
  seriesRecord,
  EVAL_FORMAT,
  EVAL_VERSION,
  type EvalFile,
} from '../eval/curves.ts';
import { perplexityByLength } from '../eval/perplexity.ts';
import { parseRecordFormat, retrievalByLength, TEST_RECORDS, type RetrievalPoint } from '../eval/records.ts';
import { writeFileAtomic } from '../model/save-node.ts';
import {
  betaCOption,
  formatDuration,
  HUB_PREFIX,
  isPositiveInteger,
  lengthsOption,
  number,
  numberList,
  openModelAndTokens,
  openTextFile,
  progress,
  progressDone,
  required,
  tokensOption,
  trainContextOption,
  UsageError,
  type Args,
} from './args.ts';
import { checkFileOutput, modelInput } from './output.ts';

export async function evalCurves(args: Args): Promise<void> {
  const textPath = required(args, 'text');
  const lengths = lengthsOption(args).sort((a, b) => a - b);
  const repeated = lengths.find((L, i) => i > 0 && L === lengths[i - 1]);
  if (repeated !== undefined) throw new UsageError(`--lengths lists ${repeated} twice`);
  const maxTokens = tokensOption(args);
  const betaCGiven = args['beta-c'] !== undefined;
  const betaC = betaCOption(args);
  const givenTrainContext = trainContextOption(args);
  let requested;
  try {
    requested = args.modes === undefined ? undefined : parseSeriesKinds(args.modes);
  } catch (e) {
    throw new UsageError(`--modes: ${(e as Error).message}`);
  }
  if (requested && betaCGiven && !requested.includes('none')) {
    throw new UsageError('--beta-c scales the "none" series, which --modes leaves out: add none to --modes');
  }
  if (args.pos !== undefined) throw new UsageError('eval runs every position mode: choose the series with --modes, not --pos');
  const retrieval = retrievalOptions(args, lengths);

  const text = await openTextFile(textPath);
  const dir = required(args, 'model');
  // The model's own eval.json is where the recorded curves belong; nothing else inside the model.
  const out =
    args.out === undefined
      ? undefined
      : await checkFileOutput(args.out, [modelInput(dir), { option: '--text', path: textPath, kind: 'file' }], [join(dir, 'eval.json')]);
  const { engine, model, tokenizer, tokens, trainContext } = await openModelAndTokens(args, text, maxTokens, givenTrainContext);
  const config = model.config;
  // The records test reads the whole text (its prompts start at random offsets).
  const retrievalText = retrieval ? await text.tokens(tokenizer) : undefined;
  const longest = lengths[lengths.length - 1];
  if (tokens.length < longest) throw new Error(`${textPath} has ${tokens.length} tokens, fewer than one window of ${longest}`);

  if (retrieval && config.vocabSize !== 256)
    throw new UsageError(`--retrieval is for byte-level models (vocabulary 256); this one has ${config.vocabSize} tokens`);
  const kinds = requested ?? defaultSeriesKinds(config.attentionType, betaCGiven);
  const plans = planSeries(kinds, lengths, {
    trainContext,
    maxPositionEmbeddings: config.maxPositionEmbeddings,
    betaC,
    attentionType: config.attentionType,
    noneLabel: args['none-label'],
  });

  // Progress over all series together: every series runs the same windows.
  const windowsPerSeries = lengths.reduce((sum, L) => sum + Math.floor(tokens.length / L), 0);
  const totalWindows = windowsPerSeries * plans.length;
  const started = Date.now();
  const series = [];
  for (const [i, plan] of plans.entries()) {
    const result = await perplexityByLength(model, tokens, {
      lengths,
      positions: (L) => plan.modes.get(L)!,
      window: plan.window,
      betaC: plan.beta_c,
      trainContext,
      onProgress: (done, total, L) => {
        const allDone = i * windowsPerSeries + done;
        const elapsed = (Date.now() - started) / 1000;
        const left = (elapsed * (totalWindows - allDone)) / allDone;
        progress(
          `eval: ${plan.label} (${i + 1}/${plans.length}), length ${L}, window ${done}/${total}, ${formatDuration(elapsed)} elapsed, ~${formatDuration(left)} left`,
        );
      },
    });
    let points: Map<number, RetrievalPoint> | undefined;
    if (retrieval) {
      progressDone();
      points = await retrievalByLength(model, retrievalText!, {
        ...retrieval,
        positions: (L) => plan.modes.get(L)!,
        window: plan.window,
        betaC: plan.beta_c,
        trainContext,
        onProgress: (done, total, L) => progress(`eval: ${plan.label}, retrieval at length ${L}, trial ${done}/${total}`),
      });
    }
    series.push(seriesRecord(plan, result, points));
  }
  progressDone();
  engine.destroy();

  const file: EvalFile = {
    format: EVAL_FORMAT,
    version: EVAL_VERSION,
    // A directory's name, or the Hub id as given (hf:ORG/NAME[@REVISION]).
    model: dir.startsWith(HUB_PREFIX) ? dir : basename(resolve(dir)),
    text: basename(textPath),
    tokens: tokens.length,
    train_ctx: trainContext,
    lengths,
    series,
    ...(retrieval
      ? {
          retrieval: {
            task: 'records' as const,
            format: retrieval.format,
            records: TEST_RECORDS,
            text: basename(textPath),
            trials: retrieval.trials,
            seed: retrieval.seed,
            lengths: retrieval.lengths,
          },
        }
      : {}),
  };
  // What the web app will read back must pass its reader.
  parseEvalJson(file, 'the eval result');

  if (out === undefined) {
    console.log(JSON.stringify(file));
    return;
  }
  await writeFileAtomic(out, `${JSON.stringify(file, null, 2)}\n`);
  // A table for the reader; the file holds the numbers.
  const width = Math.max(10, ...series.map((s) => s.label.length + 2));
  console.log(['length'.padStart(8), ...series.map((s) => s.label.padStart(width))].join(''));
  for (const L of lengths) {
    console.log([String(L).padStart(8), ...series.map((s) => s.ppl[String(L)].toFixed(3).padStart(width))].join(''));
  }
  progress(`wrote ${series.length} series × ${lengths.length} lengths to ${out}`);
  progressDone();
}

/** `--retrieval FORMAT --retrieval-lengths L1,... [--trials N] [--seed S]`: the records test per series. */
function retrievalOptions(args: Args, lengths: readonly number[]) {
  if (args.retrieval === undefined) {
    if (args['retrieval-lengths'] !== undefined || args.trials !== undefined)
      throw new UsageError('--retrieval-lengths and --trials go with --retrieval');
    return null;
  }
  let format;
  try {
    format = parseRecordFormat(args.retrieval);
  } catch (e) {
    throw new UsageError(`--retrieval: ${(e as Error).message}`, { cause: e });
  }
  const retrievalLengths = numberList(required(args, 'retrieval-lengths'), 'retrieval-lengths', (n) => lengths.includes(n));
  return {
    format,
    lengths: retrievalLengths,
    trials: number(args.trials, 'trials', 200, isPositiveInteger),
    seed: number(args.seed, 'seed', 0, (n) => Number.isInteger(n) && n >= 0),
  };
}
