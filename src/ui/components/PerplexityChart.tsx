// The main chart: perplexity against sequence length, both axes logarithmic, one line per series
// (each with its own colour and dash pattern), the training length marked. Recharts 3 keeps its
// accessibility layer on by default: the chart takes focus and arrow keys move the tooltip.
// Filled dots are measured in this page, hollow ones recorded in a model's eval.json (the loaded
// model's, or another shipped model's: those carry its name, and its own training length in the
// tooltip when it differs from the loaded model's).

import { memo } from 'react';
import { CartesianGrid, Line, LineChart, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import type { Series } from '../store/run-slice.ts';
import {
  formatPpl,
  lengthHeading,
  AXIS_TICK,
  LENGTH_AXIS_LABEL,
  LENGTH_CHART_MARGIN,
  logTicks,
  seriesStyle,
  TOOLTIP_CONTENT_STYLE,
  TOOLTIP_WRAPPER_STYLE,
  trainingLengthLabel,
  valueAxisLabel,
} from './chart-style.ts';

export const PERPLEXITY_CHART_TITLE = 'Perplexity vs sequence length';

interface Props {
  /** The chart's accessible title and description (default: the main chart's). */
  title?: string;
  desc?: string;
  series: Series[];
  lengths: number[];
  trainContext: number | null;
  currentId: string | null;
  height: number;
}

type Row = Record<string, number | string | undefined>;

const dataKey = (i: number) => `s${i}`;

interface DotProps {
  cx?: number;
  cy?: number;
  index?: number;
  dataKey?: unknown;
  payload?: Row;
  stroke?: string;
}

/** A point: filled when measured here, hollow when recorded (its row's `<key>_source`). */
export function renderDot(props: DotProps) {
  const key = `${String(props.dataKey)}-${props.index}`;
  const value = props.payload?.[String(props.dataKey)];
  if (props.cx === undefined || props.cy === undefined || value === undefined || value === null) return <g key={key} />;
  const recorded = props.payload?.[`${String(props.dataKey)}_source`] === 'recorded';
  return (
    <circle
      key={key}
      cx={props.cx}
      cy={props.cy}
      r={3.5}
      stroke={props.stroke}
      strokeWidth={1.5}
      fill={recorded ? 'var(--card)' : props.stroke}
    />
  );
}

/** The vertical mark at the training length, on every length chart. */
export function trainingLengthMark(trainContext: number | null) {
  if (trainContext === null) return null;
  return (
    <ReferenceLine
      x={trainContext}
      stroke="var(--fg)"
      strokeDasharray="2 2"
      ifOverflow="extendDomain"
      label={trainingLengthLabel(trainContext)}
    />
  );
}

/** The x axis of every chart against length: log scale, a tick at each of `lengths` (in order). */
export function lengthAxis(lengths: readonly number[]) {
  const domain: [number, number] = lengths.length ? [lengths[0], lengths[lengths.length - 1]] : [1, 2];
  return (
    <XAxis
      dataKey="length"
      type="number"
      scale="log"
      domain={domain}
      ticks={[...lengths]}
      allowDataOverflow
      tick={AXIS_TICK}
      stroke="var(--axis)"
      label={LENGTH_AXIS_LABEL}
    />
  );
}

/** One line per series, in its style (thicker for the current one), its points drawn by renderDot; `keyOf(i)` is series i's column in the rows. */
export function seriesLines(series: readonly Series[], currentId: string | null, keyOf: (i: number) => string) {
  return series.map((s, i) => {
    const style = seriesStyle(s.style);
    return (
      <Line
        key={s.id}
        dataKey={keyOf(i)}
        name={keyOf(i)}
        type="linear"
        stroke={style.colour}
        strokeDasharray={style.dash || undefined}
        strokeWidth={s.id === currentId ? 3.5 : 2}
        dot={renderDot}
        activeDot={{ r: 5 }}
        connectNulls
        isAnimationActive={false}
      />
    );
  });
}

/** Memoized: it re-renders only when its series, lengths or highlighted series change. */
const MAIN_DESC =
  'Per-token perplexity on held-out text (log scale) against the evaluated sequence length in tokens (log scale), one line per model variant and setting; the vertical line marks the training length.';

export const PerplexityChart = memo(function PerplexityChart({
  title = PERPLEXITY_CHART_TITLE,
  desc = MAIN_DESC,
  series,
  lengths,
  trainContext,
  currentId,
  height,
}: Props) {
  const allLengths = [...new Set([...lengths, ...series.flatMap((s) => s.points.map((p) => p.length))])].sort((a, b) => a - b);
  const rows: Row[] = allLengths.map((length) => {
    const row: Row = { length };
    series.forEach((s, i) => {
      const point = s.points.find((p) => p.length === length);
      if (point) {
        row[dataKey(i)] = point.ppl;
        row[`${dataKey(i)}_source`] = point.source;
      }
    });
    return row;
  });
  const values = series.flatMap((s) => s.points.map((p) => p.ppl));
  const y = logTicks(values.length ? Math.min(...values) : 1, values.length ? Math.max(...values) : 10);
  const nameOf = (key: string) => {
    const s = series[Number(key.slice(1))];
    if (!s) return key;
    const ownContext = s.trainContext !== undefined && s.trainContext !== trainContext;
    return ownContext ? `${s.label} (trained at ${s.trainContext} tokens)` : s.label;
  };

  return (
    <LineChart title={title} desc={desc} data={rows} responsive style={{ width: '100%', height }} margin={LENGTH_CHART_MARGIN}>
      <CartesianGrid stroke="var(--grid)" strokeDasharray="3 3" />
      {lengthAxis(allLengths)}
      <YAxis
        type="number"
        scale="log"
        domain={y.domain}
        ticks={y.ticks}
        allowDataOverflow
        tickFormatter={(v: number) => String(v)}
        tick={AXIS_TICK}
        stroke="var(--axis)"
        width={56}
        label={valueAxisLabel('Perplexity per token (log scale)')}
      />
      <Tooltip
        isAnimationActive={false}
        formatter={(value, name) => [typeof value === 'number' ? formatPpl(value) : String(value), nameOf(String(name))]}
        labelFormatter={(label) => lengthHeading(Number(label), trainContext)}
        contentStyle={TOOLTIP_CONTENT_STYLE}
        wrapperStyle={TOOLTIP_WRAPPER_STYLE}
      />
      {trainingLengthMark(trainContext)}
      {seriesLines(series, currentId, dataKey)}
    </LineChart>
  );
});
