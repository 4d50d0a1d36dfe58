// The retrieval chart: success of the records test against sequence length (log scale), one line
// per series in the perplexity chart's colours and dash patterns, the training length and chance
// (one digit in ten) marked. Filled dots are measured in this page, hollow ones recorded in a
// model's eval.json, as on the perplexity chart.

import { memo } from 'react';
import { CartesianGrid, Line, LineChart, Tooltip, YAxis } from 'recharts';
import {
  lengthHeading,
  AXIS_TICK,
  LENGTH_CHART_MARGIN,
  TOOLTIP_CONTENT_STYLE,
  TOOLTIP_WRAPPER_STYLE,
  valueAxisLabel,
} from '../../components/chart-style.ts';
import { lengthAxis, seriesLines, trainingLengthMark } from '../../components/PerplexityChart.tsx';
import type { Series } from '../../store/run-slice.ts';
import { CHANCE_KEY, MEASURE_LABELS, retrievalDataKey, retrievalRows, type RetrievalMeasure } from './logic.ts';

export const RETRIEVAL_CHART_TITLE = 'Retrieval vs sequence length';

/** The chance line's dash pattern (the legend's swatch draws it too). */
export const CHANCE_DASH = '6 3';

const DESC =
  'Share of records test prompts answered correctly, in percent, against the prompt length in tokens (log scale), one line per model variant and setting; the vertical line marks the training length, the dashed grey one chance (10%).';

export const RetrievalChart = memo(function RetrievalChart({
  series,
  lengths,
  measure,
  trainContext,
  currentId,
  height,
}: {
  /** Series with retrieval results, in the perplexity chart's order. */
  series: Series[];
  /** The x axis's ticks, in order (retrievalChartLengths). */
  lengths: number[];
  measure: RetrievalMeasure;
  trainContext: number | null;
  currentId: string | null;
  height: number;
}) {
  const rows = retrievalRows(series, measure, lengths);
  const nameOf = (key: string) => series[Number(key.slice(1))]?.label ?? key;

  return (
    <LineChart
      title={RETRIEVAL_CHART_TITLE}
      desc={DESC}
      data={rows}
      responsive
      style={{ width: '100%', height }}
      margin={LENGTH_CHART_MARGIN}
    >
      <CartesianGrid stroke="var(--grid)" strokeDasharray="3 3" />
      {lengthAxis(lengths)}
      <YAxis
        type="number"
        domain={[0, 100]}
        ticks={[0, 20, 40, 60, 80, 100]}
        tickFormatter={(v: number) => `${v}%`}
        tick={AXIS_TICK}
        stroke="var(--axis)"
        width={56}
        label={valueAxisLabel(`Success: ${MEASURE_LABELS[measure].toLowerCase()}`)}
      />
      <Tooltip
        isAnimationActive={false}
        formatter={(value, name) => [typeof value === 'number' ? `${Math.round(value)}%` : String(value), nameOf(String(name))]}
        labelFormatter={(label) => lengthHeading(Number(label), trainContext)}
        contentStyle={TOOLTIP_CONTENT_STYLE}
        wrapperStyle={TOOLTIP_WRAPPER_STYLE}
      />
      {/* Chance is a line of the data, not a reference line: with it the axes and the training
          length's mark are drawn before any result is in (Recharts draws neither without a line). */}
      <Line
        dataKey={CHANCE_KEY}
        name={CHANCE_KEY}
        type="linear"
        stroke="var(--muted)"
        strokeDasharray={CHANCE_DASH}
        strokeWidth={1.5}
        dot={false}
        activeDot={false}
        tooltipType="none"
        isAnimationActive={false}
      />
      {trainingLengthMark(trainContext)}
      {seriesLines(series, currentId, retrievalDataKey)}
    </LineChart>
  );
});
