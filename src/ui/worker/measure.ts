// The engine worker's measurements of a variant: perplexity by length (evaluate, on the validation
// text or a pasted one), the needle and records tests, the grid search of c (fitC) and one head's
// attention pattern (attentionMap).

import { logitScale, perplexityByLength } from '../../eval/perplexity.ts';
import { needleByLength } from '../../eval/needle.ts';
import { retrievalByLength } from '../../eval/records.ts';
import { needleFits } from '../features/long-context/logic.ts';
import { attentionWindowOf, positionSetting, positionModeAt, type EvalSettings } from '../settings.ts';
import type { Command } from './protocol.ts';
import { PASSAGE_START } from '../features/side-by-side/compare-worker.ts';
import type { Variant, WorkerHost } from './host.ts';

/** Tokens the heatmap shows at most: a T x T grid stays readable. */
const ATTENTION_MAP_MAX = 64;

/** The first tokens of the validation text, at least one window of the longest length. */
function validationTokens(host: WorkerHost, budget: number, lengths: number[]): number[] {
  const { validation } = host.requireModel();
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
function lengthOptions(host: WorkerHost, settings: EvalSettings, hasRope: boolean) {
  const trainContext = host.requireModel().config.maxPositionEmbeddings;
  const context = { trainContext, maxPositionEmbeddings: trainContext };
  const position = positionSetting(settings, hasRope);
  return (L: number) => ({
    positions: positionModeAt(position, L, context),
    window: attentionWindowOf(position, trainContext),
    betaC: settings.c,
    trainContext,
  });
}

/** Perplexity at each length, reported point by point as each length finishes; progress counts windows over all lengths. */
async function measure(
  host: WorkerHost,
  id: number,
  variant: Variant,
  settings: EvalSettings,
  tokens: number[],
  lengths: number[],
  onPoint: (length: number, ppl: number) => void,
  progress: { done: number; total: number; report: (done: number, total: number, length: number) => void },
): Promise<void> {
  const optionsAt = lengthOptions(host, settings, variant.info.hasRope);
  for (const L of lengths) {
    const before = progress.done;
    const result = await perplexityByLength(variant.model, tokens, {
      lengths: [L],
      ...optionsAt(L),
      onProgress: (done, _total, length) => {
        progress.done = before + done;
        progress.report(progress.done, progress.total, length);
      },
      cancelled: () => host.isCancelled(id),
    });
    onPoint(L, result.get(L)!);
  }
}

const windowsOf = (tokens: number[], lengths: number[]) => lengths.reduce((sum, L) => sum + Math.floor(tokens.length / L), 0);

/** The first tokens of a pasted text, as validationTokens does for the validation text. */
function pastedTokens(host: WorkerHost, text: string, budget: number, lengths: number[]): number[] {
  const ids = host.tokenizeText(text);
  const longest = Math.max(...lengths);
  if (ids.length < longest) throw new Error(`the text has ${ids.length} tokens, fewer than one window of ${longest}`);
  return ids.slice(0, Math.max(budget, longest));
}

export async function evaluate(host: WorkerHost, command: Extract<Command, { type: 'evaluate' }>): Promise<void> {
  const { id, lengths } = command;
  const variant = host.variant(command.variant);
  const tokens =
    command.text === undefined
      ? validationTokens(host, command.tokens, lengths)
      : pastedTokens(host, command.text, command.tokens, lengths);
  const progress = { done: 0, total: windowsOf(tokens, lengths), report: host.throttledProgress(id) };
  const onPoint = (length: number, ppl: number) => host.post({ type: 'point', id, length, ppl });
  await measure(host, id, variant, command.settings, tokens, lengths, onPoint, progress);
  host.post({ type: 'done', id });
}

/**
 * The needle test at each length (src/eval/needle.ts), filler from the pasted text or the validation
 * text. Lengths too short for four needles and the question are reported first (tooShort), then the
 * others are measured, one needlePoint per length; progress counts trials.
 */
export async function needle(host: WorkerHost, command: Extract<Command, { type: 'needle' }>): Promise<void> {
  const { id, lengths, trials, seed } = command;
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`trials ${trials} must be a positive integer`);
  const variant = host.variant(command.variant);
  const { tokenizer } = host.requireModel();
  const filler = command.text === undefined ? host.requireModel().validation : host.tokenizeText(command.text);
  if (filler.length === 0) throw new Error('the filler text has no tokens');
  const optionsAt = lengthOptions(host, command.settings, variant.info.hasRope);
  const fitting = lengths.filter((L) => needleFits(tokenizer, filler, L, seed, trials));
  for (const L of lengths)
    if (!fitting.includes(L)) host.post({ type: 'needlePoint', id, length: L, successes: 0, trials, tooShort: true });
  const report = host.throttledProgress(id);
  const total = fitting.length * trials;
  let before = 0;
  for (const L of fitting) {
    const [result] = await needleByLength(variant.model, tokenizer, filler, {
      lengths: [L],
      trials,
      seed,
      ...optionsAt(L),
      onProgress: (done, _total, length) => report(before + done, total, length),
      cancelled: () => host.isCancelled(id),
    });
    before += trials;
    host.post({ type: 'needlePoint', id, length: L, successes: result.trials.filter((t) => t.correct).length, trials });
  }
  host.post({ type: 'done', id });
}

/**
 * The records test at each length on the validation text (src/eval/records.ts), one retrievalPoint
 * per length as it finishes; progress counts trials over all lengths.
 */
export async function retrieval(host: WorkerHost, command: Extract<Command, { type: 'retrieval' }>): Promise<void> {
  const { id, lengths, trials, seed } = command;
  const variant = host.variant(command.variant);
  const { validation } = host.requireModel();
  const optionsAt = lengthOptions(host, command.settings, variant.info.hasRope);
  const report = host.throttledProgress(id);
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
      cancelled: () => host.isCancelled(id),
    });
    before += trials;
    host.post({ type: 'retrievalPoint', id, length: L, point: result.get(L)! });
  }
  host.post({ type: 'done', id });
}

/** Grid search of c: the c with the lowest mean ln(perplexity) over `lengths`. */
export async function fitC(host: WorkerHost, command: Extract<Command, { type: 'fitC' }>): Promise<void> {
  const { id, lengths, grid } = command;
  const variant = host.variant(command.variant);
  const tokens = validationTokens(host, command.tokens, lengths);
  const progress = { done: 0, total: windowsOf(tokens, lengths) * grid.length, report: host.throttledProgress(id) };
  const scores: { c: number; score: number }[] = [];
  for (const c of grid) {
    let sum = 0;
    await measure(host, id, variant, { ...command.settings, c }, tokens, lengths, (_L, ppl) => (sum += Math.log(ppl)), progress);
    scores.push({ c, score: sum / lengths.length });
  }
  const best = scores.reduce((a, b) => (b.score < a.score ? b : a));
  host.post({ type: 'fitted', id, c: best.c, lengths, scores });
}

/**
 * One head's attention pattern on the first `length` tokens of the validation text (default: the
 * training context, at most ATTENTION_MAP_MAX), with the positions and logit scale the current
 * settings give an evaluation at that length.
 */
export async function attentionMap(host: WorkerHost, command: Extract<Command, { type: 'attentionMap' }>): Promise<void> {
  const { id } = command;
  const { info, model } = host.variant(command.variant);
  const { validation, tokenizer, config } = host.requireModel();
  // A layer or head the model does not have (a link made for a bigger model) falls back to 0, as a
  // bad URL value falls back to its default; the event says which one is shown.
  const { numLayers: layers, numHeads: heads } = config;
  const layer = Number.isInteger(command.layer) && command.layer >= 0 && command.layer < layers ? command.layer : 0;
  const head = Number.isInteger(command.head) && command.head >= 0 && command.head < heads ? command.head : 0;
  const trainContext = config.maxPositionEmbeddings;
  const T = Math.min(Math.floor(command.length ?? Math.min(trainContext, ATTENTION_MAP_MAX)), validation.length);
  if (!(T >= 1)) throw new Error(`the attention map needs at least one token, got length ${command.length}`);
  const position = positionSetting(command.settings, info.hasRope);
  // The passage the per-token loss view uses: prose, not the title page at the text's start.
  const start = Math.max(0, Math.min(PASSAGE_START, validation.length - T));
  const ids = validation.slice(start, start + T);
  const probs = await model.attentionMap(ids, T, layer, head, {
    positions: positionModeAt(position, T, { trainContext, maxPositionEmbeddings: trainContext }),
    window: attentionWindowOf(position, trainContext),
    beta: logitScale(command.settings.c, T, trainContext),
  });
  host.post({
    type: 'attentionMap',
    id,
    tokens: ids.map((t) => tokenizer.decode([t])),
    probs: Array.from(probs),
    layer,
    head,
    layers,
    heads,
  });
  host.post({ type: 'done', id });
}
