// The results column: the chart with its legend, what is being measured (progress, Cancel), and
// the "Show data" table of the same numbers.

import { useDeferredValue, useEffect, useState, type ReactNode } from 'react';
import type { Controller } from '../../controller.ts';
import { evaluationLengths } from '../../settings.ts';
import type { Series } from '../../store/run-slice.ts';
import { currentSeriesId, fitting, recalibrating, useApp, useAppShallow } from '../../store/store.ts';
import { formatPpl, seriesStyle } from '../../components/chart-style.ts';
import { PERPLEXITY_CHART_TITLE, PerplexityChart } from '../../components/PerplexityChart.tsx';
import { LengthTable } from '../../components/LengthTable.tsx';

/** Chart height: shorter on a phone, where the legend wraps below it. */
export function useChartHeight(): number {
  const query = '(max-width: 640px)';
  const [narrow, setNarrow] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const list = window.matchMedia(query);
    const update = () => setNarrow(list.matches);
    list.addEventListener('change', update);
    return () => list.removeEventListener('change', update);
  }, []);
  return narrow ? 300 : 430;
}

function Swatch({ style }: { style: number }) {
  const { colour, dash } = seriesStyle(style);
  return (
    <svg className="swatch" width="36" height="12" aria-hidden="true">
      <line x1="1" y1="6" x2="35" y2="6" stroke={colour} strokeWidth="3" strokeDasharray={dash || undefined} />
    </svg>
  );
}

/** The series' names and looks, the current one tagged, the training length's mark, then `children` (more marks). */
export function Legend({
  name = 'Legend',
  series,
  currentId,
  trainContext,
  children,
}: {
  /** Its accessible name, when a page holds more than one (e2e specs find the main one as "Legend"). */
  name?: string;
  series: Series[];
  currentId: string | null;
  trainContext: number | null;
  children?: ReactNode;
}) {
  return (
    <ul className="legend" aria-label={name}>
      {series.map((s) => (
        <li key={s.id} className={s.id === currentId ? 'current' : undefined}>
          <Swatch style={s.style} />
          <span>{s.label}</span>
          {s.id === currentId && <span className="tag">current</span>}
        </li>
      ))}
      {trainContext !== null && (
        <li>
          <svg className="swatch" width="36" height="12" aria-hidden="true">
            <line x1="18" y1="0" x2="18" y2="12" stroke="currentColor" strokeWidth="2" strokeDasharray="2 2" />
          </svg>
          <span>Training length ({trainContext} tokens)</span>
        </li>
      )}
      {children}
    </ul>
  );
}

function DataTable({ series, lengths }: { series: Series[]; lengths: number[] }) {
  const hasRecorded = series.some((s) => s.points.some((p) => p.source === 'recorded'));
  return (
    <>
      {hasRecorded && (
        <p className="small muted table-note">
          * recorded in eval.json (of the model named after “·”, else of the loaded model); the other values were measured in this page.
        </p>
      )}
      <LengthTable
        name="Plotted values"
        caption="Perplexity by sequence length (tokens)"
        rowHeading="Series"
        rows={series}
        lengths={lengths}
        cell={(p) => `${formatPpl(p.ppl)}${p.source === 'recorded' ? '*' : ''}`}
      />
    </>
  );
}

function EvaluationStatus({ controller }: { controller: Controller }) {
  const evaluation = useApp((s) => s.evaluation);
  const gpuReady = useApp((s) => s.gpu.kind === 'ready');
  const weights = useApp((s) => s.weights.kind);
  const busy = useApp((s) => recalibrating(s) || fitting(s));
  const missing = useApp((s) => controller.evaluation.missingLengths(s).length);

  if (evaluation) {
    return (
      <div className="status-row">
        <div className="grow">
          <p className="status-text" role="status">
            Measuring {evaluation.label}
            {evaluation.total > 0 ? `: length ${evaluation.length}, ${evaluation.done} of ${evaluation.total} windows` : '…'}
          </p>
          <progress aria-label="Evaluation progress" max={evaluation.total || 1} value={evaluation.total ? evaluation.done : undefined} />
        </div>
        <button type="button" onClick={() => controller.evaluation.cancel()}>
          Cancel
        </button>
      </div>
    );
  }
  let text: string;
  if (!gpuReady) text = 'Showing recorded curves only: measuring needs WebGPU.';
  else if (weights === 'loading') text = 'Loading the model’s weights…';
  else if (weights !== 'ready') text = '';
  else if (busy) text = 'Measuring waits while the worker trains or fits c.';
  else if (missing > 0) text = 'The current settings are not fully measured.';
  else text = 'Every length of the current settings is measured.';
  return (
    <div className="status-row">
      <p className="status-text grow" role="status">
        {text}
      </p>
      {gpuReady && weights === 'ready' && !busy && missing > 0 && (
        <button type="button" onClick={() => controller.evaluation.evaluate()}>
          Evaluate
        </button>
      )}
    </div>
  );
}

export function PerplexityPanel({ controller }: { controller: Controller }) {
  const series = useApp((s) => s.series);
  const trainContext = useApp((s) => s.meta?.trainContext ?? null);
  const currentId = useApp(currentSeriesId);
  const showData = useApp((s) => s.showData);
  // The loaded model's own problem shows beside the model select (Controls), not twice.
  const shippedProblems = useAppShallow((s) => s.shippedProblems.filter((p) => p.name !== s.meta?.name).map((p) => p.message));
  const toggleShowData = useApp((s) => s.toggleShowData);
  const lengths = useAppShallow((s) => {
    const base = s.meta ? evaluationLengths(s.meta.trainContext) : [];
    return [...new Set([...base, ...s.series.flatMap((x) => x.points.map((p) => p.length))])].sort((a, b) => a - b);
  });
  const height = useChartHeight();
  // The chart renders at transition priority (interruptible), a step behind the legend and table,
  // so a burst of measurements never holds the main thread for a whole frame.
  const chartSeries = useDeferredValue(series);
  const chartCurrentId = useDeferredValue(currentId);

  return (
    <section className="card" aria-labelledby="results-heading">
      <div className="card-head">
        <h2 id="results-heading">{PERPLEXITY_CHART_TITLE}</h2>
        <button type="button" className="toggle" aria-pressed={showData} onClick={toggleShowData}>
          Show data
        </button>
      </div>
      <EvaluationStatus controller={controller} />
      <figure className="chart" aria-label={PERPLEXITY_CHART_TITLE}>
        {series.length > 0 ? (
          <PerplexityChart series={chartSeries} lengths={lengths} trainContext={trainContext} currentId={chartCurrentId} height={height} />
        ) : (
          <div className="chart-empty" style={{ height }}>
            <p className="muted">No curves yet: choose a model, or wait for the first measurement.</p>
          </div>
        )}
        <figcaption>
          <Legend series={series} currentId={currentId} trainContext={trainContext} />
          <p className="muted small">
            Filled dots: measured here. Hollow dots: recorded when the model was trained; a name after “·” is another shipped model. Lower
            is better.
          </p>
          {shippedProblems.map((problem) => (
            <p key={problem} className="small muted">
              No recorded curves: {problem}
            </p>
          ))}
        </figcaption>
      </figure>
      {showData && <DataTable series={series} lengths={lengths} />}
    </section>
  );
}
