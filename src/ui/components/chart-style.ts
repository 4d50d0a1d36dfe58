// How series look and where log axes put their ticks. Colours start with the Okabe-Ito palette
// (readable with the common colour-vision deficiencies); each series also gets its own dash pattern, so the
// lines stay apart in greyscale and on a washed-out projector.

// Okabe-Ito, then Tol's wine and olive: every colour reads on the light and the dark background.
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#AA4499', '#999933'];
const DASHES = ['', '8 4', '2 4', '12 4 2 4', '4 3', '16 5', '1 3', '10 3 2 3 2 3'];

export interface SeriesStyle {
  colour: string;
  dash: string;
}

/** Style n: colours and dashes advance together but with co-prime periods past the first 8. */
export function seriesStyle(n: number): SeriesStyle {
  return { colour: COLOURS[n % COLOURS.length], dash: DASHES[(n + Math.floor(n / DASHES.length)) % DASHES.length] };
}

/** 1-2-5 ticks per decade covering [lo, hi] (lo > 0), with the domain rounded out to ticks. */
export function logTicks(lo: number, hi: number): { ticks: number[]; domain: [number, number] } {
  if (!(lo > 0) || !(hi >= lo)) return { ticks: [1, 10], domain: [1, 10] };
  const steps = [1, 2, 5];
  const candidates: number[] = [];
  for (let exp = Math.floor(Math.log10(lo)) - 1; exp <= Math.ceil(Math.log10(hi)) + 1; exp++) {
    for (const s of steps) candidates.push(Number((s * 10 ** exp).toPrecision(3)));
  }
  const below = candidates.filter((t) => t <= lo).pop() ?? candidates[0];
  const above = candidates.find((t) => t >= hi) ?? candidates[candidates.length - 1];
  const ticks = candidates.filter((t) => t >= below && t <= above);
  return { ticks: ticks.length >= 2 ? ticks : [below, above], domain: [below, above === below ? above * 2 : above] };
}

/** Perplexity as the table and tooltip show it: 3 significant digits, no exponent. */
export function formatPpl(ppl: number): string {
  if (ppl >= 1000) return Math.round(ppl).toLocaleString('en-US');
  return ppl >= 100 ? ppl.toFixed(0) : ppl >= 10 ? ppl.toFixed(1) : ppl.toFixed(2);
}

// ------------------------------------------------------------------- parts the length charts share

/** The tooltip's heading for a length: tokens, and the multiple of the training length. */
export function lengthHeading(length: number, trainContext: number | null): string {
  return trainContext
    ? `${length} tokens (${(length / trainContext).toLocaleString('en-US', { maximumFractionDigits: 2 })}× training length)`
    : `${length} tokens`;
}

export const TOOLTIP_CONTENT_STYLE = {
  background: 'var(--card)',
  border: '1px solid var(--border)',
  borderRadius: 6,
  color: 'var(--fg)',
  fontSize: 14,
};
export const TOOLTIP_WRAPPER_STYLE = { maxWidth: 'min(22rem, 80vw)', whiteSpace: 'normal', zIndex: 2 } as const;

/** The margin of the charts against length (perplexity, retrieval). */
export const LENGTH_CHART_MARGIN = { top: 24, right: 24, bottom: 28, left: 12 } as const;

/** Tick labels of every chart's axes. */
export const AXIS_TICK = { fill: 'var(--muted)', fontSize: 13 } as const;

export const LENGTH_AXIS_LABEL = {
  value: 'Sequence length (tokens, log scale)',
  position: 'insideBottom',
  offset: -18,
  fill: 'var(--fg)',
  fontSize: 14,
} as const;

/** The y axis's title, running up its left side, on every length chart. */
export function valueAxisLabel(value: string) {
  return {
    value,
    angle: -90,
    position: 'insideLeft',
    offset: 4,
    style: { textAnchor: 'middle' },
    fill: 'var(--fg)',
    fontSize: 14,
  } as const;
}

/** The training length's mark: its label anchored at the line and running right, clear of the y axis's tick labels. */
export function trainingLengthLabel(trainContext: number) {
  return {
    value: `training length ${trainContext}`,
    position: 'top',
    textAnchor: 'start',
    dx: -4,
    fill: 'var(--fg)',
    fontSize: 13,
  } as const;
}
