// The retrieval chart's numbers, its data table and its explanations: pure functions over
// the records test's results (src/eval/records.ts), recorded in each model's eval.json or
// measured in this page.
//
// Glossary: L a prompt length, C = C_train the training context, "inside" a trial whose queried
// record lies in the last C tokens (the only ones the crop baseline sees), "outside" the others.

import { cropLabel, scalingFactor, type RetrievalProtocol } from '../../../eval/curves.ts';
import type { RetrievalPoint } from '../../../eval/records.ts';
import type { RecordedRetrieval, ShippedCurve, ShippedModel } from '../model/recorded-curves.ts';
import type { Series } from '../../store/run-slice.ts';
import { lengthLadder } from '../../settings.ts';

/** The answer is one of the ten digits: a guess succeeds one time in ten. */
export const CHANCE = 0.1;

/** Trials per length a live refinement runs by default (eval.json's points have more). */
export const DEFAULT_TRIALS = 24;
export const MAX_TRIALS = 200;

/** A trial count a live run takes: a whole number from 1 to MAX_TRIALS. */
export function isTrialCount(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= MAX_TRIALS;
}

/**
 * The seed of live runs: the CLI's default, so a live run's trials are the first trials of the
 * recorded ones (records.ts trialSeed depends on seed, length and trial index alone).
 */
export const RETRIEVAL_SEED = 0;

/** One length's result on the chart: recorded in eval.json, or measured here. */
export interface RetrievalSeriesPoint extends RecordedRetrieval {
  source: 'recorded' | 'measured';
}

/** Which success rate the chart plots. */
export const RETRIEVAL_MEASURES = ['all', 'outside', 'inside'] as const;
export type RetrievalMeasure = (typeof RETRIEVAL_MEASURES)[number];

export const MEASURE_LABELS: Record<RetrievalMeasure, string> = {
  all: 'All trials',
  outside: 'Records outside the last C_train tokens',
  inside: 'Records inside the last C_train tokens',
};

/** The lengths a live run measures: the loaded model's recorded ones, else 1x, 2x, 4x and 8x C. */
export function retrievalLengths(trainContext: number, recorded: RetrievalProtocol | null): number[] {
  return recorded?.lengths ?? lengthLadder(trainContext, 8);
}

/** Replaces the point at the same length, keeping lengths in order. */
export function upsertRetrieval(points: readonly RetrievalSeriesPoint[], point: RetrievalSeriesPoint): RetrievalSeriesPoint[] {
  return [...points.filter((p) => p.length !== point.length), point].sort((a, b) => a.length - b.length);
}

/** The series the retrieval chart draws: those with results, in the perplexity chart's order and styles. */
export function seriesWithRetrieval(series: readonly Series[]): Series[] {
  return series.filter((s) => (s.retrieval?.length ?? 0) > 0);
}

export type RetrievalRow = Record<string, number | string | undefined>;

export const retrievalDataKey = (i: number) => `s${i}`;

/** The chart's and table's lengths: those a live run measures, and every length a series has a result at. */
export function retrievalChartLengths(series: readonly Series[], planned: readonly number[]): number[] {
  return [...new Set([...planned, ...series.flatMap((s) => s.retrieval?.map((p) => p.length) ?? [])])].sort((a, b) => a - b);
}

/** The chance line's key in a chart row. */
export const CHANCE_KEY = 'chance';

/**
 * One chart row per length: chance in percent under CHANCE_KEY; for series i, its success in
 * percent under `s{i}` (absent where it has no point, or no trial fell in the measured part) and
 * the point's source under `s{i}_source`.
 */
export function retrievalRows(series: readonly Series[], measure: RetrievalMeasure, lengths: readonly number[]): RetrievalRow[] {
  return lengths.map((length) => {
    const row: RetrievalRow = { length, [CHANCE_KEY]: CHANCE * 100 };
    series.forEach((s, i) => {
      const point = s.retrieval?.find((p) => p.length === length);
      const value = point?.[measure];
      if (point && value !== null && value !== undefined) {
        row[retrievalDataKey(i)] = value * 100;
        row[`${retrievalDataKey(i)}_source`] = point.source;
      }
    });
    return row;
  });
}

/** A success rate as the page shows it: whole percent. */
export function percent(rate: number): string {
  return `${Math.round(rate * 100)}%`;
}

const share = (rate: number | null, trials: number) => (rate === null ? '–' : `${percent(rate)} of ${trials}`);

/** A table cell: all · inside · outside, each with its trial count; "*" marks a recorded point. */
export function retrievalCell(point: RetrievalSeriesPoint): string {
  const text = [share(point.all, point.trials), share(point.inside, point.inside_trials), share(point.outside, point.outside_trials)];
  return `${text.join(' · ')}${point.source === 'recorded' ? '*' : ''}`;
}

// ------------------------------------------------------------------------------ explanations

/** A series of a shipped model, under the short name the explanations use. */
interface Named {
  name: string;
  curve: ShippedCurve;
}

const SCALED_NAMES: Record<string, string> = { yarn: 'YaRN', ntk: 'NTK', dynamic: 'Dynamic NTK' };

const retrievalAt = (curve: ShippedCurve, length: number): RetrievalPoint | undefined => curve.retrieval?.find((p) => p.length === length);
const pplAt = (curve: ShippedCurve, length: number): number | undefined => curve.points.find((p) => p.length === length)?.ppl;

const formatPpl = (ppl: number) => ppl.toFixed(2);
const multiple = (length: number, trainContext: number) => `${scalingFactor(length, trainContext).toLocaleString('en-US')}×`;

/** "a, b and c". */
function list(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/**
 * What the recorded numbers show, in plain sentences: cropping against perplexity, where the RoPE
 * scalings and DroPE differ on retrieval beyond the window and by how much, and DroPE's in-context
 * perplexity cost. Computed from the shipped models' eval.json files (the first RoPE model with
 * retrieval results, and the DroPE models trained at its C); empty when there is nothing to compare.
 */
export function retrievalFindings(models: readonly ShippedModel[]): string[] {
  const rope = models.find((m) => m.kind === 'rope' && m.retrieval !== null);
  if (!rope?.retrieval) return [];
  const C = rope.trainContext;
  const own = (id: string) => rope.curves.find((c) => c.series === id);
  const crop = own('crop');
  const plain = own('rope');
  const scaled: Named[] = Object.keys(SCALED_NAMES).flatMap((id) => {
    const curve = own(id);
    return curve?.retrieval ? [{ name: SCALED_NAMES[id], curve }] : [];
  });
  const dropeModels = models.filter((m) => m.kind === 'drope' && m.trainContext === C && m.retrieval !== null);
  const drope: Named[] = dropeModels.flatMap((m) => {
    const curve = m.curves.find((c) => c.series === 'none');
    return curve?.retrieval ? [{ name: dropeModels.length > 1 ? `DroPE (${m.name})` : 'DroPE', curve }] : [];
  });
  const beyond = rope.retrieval.lengths.filter((L) => L > C);
  const findings: string[] = [];

  // A model that does not retrieve inside its training context never learned the task: comparing
  // methods beyond the window would only compare noise around chance.
  const atContext = [...(plain ? [{ name: 'RoPE', curve: plain }] : []), ...drope].flatMap(({ name, curve }) => {
    const all = retrievalAt(curve, C)?.all;
    return all === undefined ? [] : [{ name, all }];
  });
  const learned = atContext.length === 0 || atContext.some(({ all }) => all > 2 * CHANCE);
  if (!learned) {
    findings.push(
      `Within the training context (${C} tokens) ${list(atContext.map(({ name, all }) => `${name} finds ${percent(all)}`))} ` +
        `of the records, no better than guessing (${percent(CHANCE)}): these models did not learn the records task, so this chart ` +
        'cannot tell the methods apart. The perplexity chart still shows the crop baseline lowest past the training length.',
    );
  }

  // Cropping: perplexity against retrieval beyond the window, at the longest length.
  const longest = learned ? beyond[beyond.length - 1] : undefined;
  const cropPpl = crop && longest !== undefined ? pplAt(crop, longest) : undefined;
  const cropOutside = crop && longest !== undefined ? retrievalAt(crop, longest)?.outside : undefined;
  if (crop && longest !== undefined && cropPpl !== undefined && cropOutside !== undefined && cropOutside !== null) {
    const others = [...scaled, ...drope].flatMap(({ name, curve }) => {
      const ppl = pplAt(curve, longest);
      return ppl === undefined ? [] : [{ name, ppl, outside: retrievalAt(curve, longest)?.outside ?? null }];
    });
    const lowest = others.every((o) => cropPpl <= o.ppl);
    const compared = others.map((o) => `${o.name} ${formatPpl(o.ppl)}`);
    findings.push(
      `At ${multiple(longest, C)} C_train (${longest} tokens), ${cropLabel(C)} has ${lowest ? 'the lowest perplexity' : 'perplexity'} ` +
        `${formatPpl(cropPpl)}${compared.length > 0 ? ` (${list(compared)})` : ''}, yet finds ${percent(cropOutside)} of the records ` +
        `placed outside its window (chance is ${percent(CHANCE)}).` +
        (lowest && others.some((o) => o.outside !== null && o.outside > cropOutside)
          ? ' The lowest perplexity comes with the worst retrieval: perplexity alone cannot judge a method.'
          : ''),
    );
  }

  // Retrieval beyond the window, setting by setting.
  const contenders = [...scaled, ...drope, ...(crop ? [{ name: 'crop', curve: crop }] : [])];
  const perLength = (learned ? beyond : []).flatMap((L) => {
    const values = contenders.flatMap(({ name, curve }) => {
      const outside = retrievalAt(curve, L)?.outside;
      return outside === undefined || outside === null ? [] : [`${name} ${percent(outside)}`];
    });
    return values.length > 0 ? [`at ${multiple(L, C)} C_train, ${values.join(', ')}`] : [];
  });
  if (perLength.length > 0) findings.push(`Outside the window (records more than ${C} tokens before the query): ${perLength.join('; ')}.`);

  // By how much the best DroPE and the best RoPE scaling differ there.
  const best = (named: Named[], L: number) =>
    named
      .map(({ name, curve }) => ({ name, outside: retrievalAt(curve, L)?.outside ?? null }))
      .filter((x): x is { name: string; outside: number } => x.outside !== null)
      .reduce<{ name: string; outside: number } | null>((a, b) => (a === null || b.outside > a.outside ? b : a), null);
  if (longest !== undefined) {
    const bestDrope = best(drope, longest);
    const bestScaled = best(scaled, longest);
    if (bestDrope && bestScaled) {
      const points = Math.round((bestDrope.outside - bestScaled.outside) * 100);
      const gap = points === 0 ? 'as many records as' : `${Math.abs(points)} points ${points > 0 ? 'more' : 'fewer'} than`;
      findings.push(
        `At ${multiple(longest, C)}, ${bestDrope.name} retrieves ${gap} the best RoPE scaling, ${bestScaled.name} ` +
          `(${percent(bestDrope.outside)} against ${percent(bestScaled.outside)}).`,
      );
    }
  }

  // The trade-off: DroPE's perplexity within the training context.
  const plainPpl = plain ? pplAt(plain, C) : undefined;
  const costs = drope.flatMap(({ name, curve }) => {
    const ppl = pplAt(curve, C);
    return ppl === undefined || plainPpl === undefined ? [] : [`${formatPpl(ppl)} for ${name} (${(ppl / plainPpl).toFixed(2)}×)`];
  });
  if (plainPpl !== undefined && costs.length > 0) {
    findings.push(
      `The price: within the training context (1×, ${C} tokens) perplexity is ${formatPpl(plainPpl)} for RoPE, ${list(costs)}.`,
    );
  }
  return findings;
}
