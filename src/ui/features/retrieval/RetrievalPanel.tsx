// The retrieval card, beside "Perplexity vs sequence length": the records test's success against
// length for the same series in the same styles (recorded in eval.json at first paint, refined
// live by "Measure retrieval"), its own data table ("Show retrieval data"), and what the two
// charts together show, computed from the shipped models' recorded numbers.

import { useDeferredValue, useMemo, useState } from 'react';
import type { Controller } from '../../controller.ts';
import { LengthTable } from '../../components/LengthTable.tsx';
import { Legend, useChartHeight } from '../evaluation/PerplexityPanel.tsx';
import { SHIPPED_PREFIX } from '../../store/run-slice.ts';
import { currentSeriesId, useApp, useAppShallow } from '../../store/store.ts';
import { canMeasureRetrieval, measureRetrieval, modelRetrievalLengths, plannedLengths, stopRetrieval } from './actions.ts';
import {
  CHANCE,
  isTrialCount,
  MAX_TRIALS,
  MEASURE_LABELS,
  percent,
  RETRIEVAL_MEASURES,
  retrievalCell,
  retrievalChartLengths,
  retrievalFindings,
  seriesWithRetrieval,
  type RetrievalMeasure,
} from './logic.ts';
import { CHANCE_DASH, RETRIEVAL_CHART_TITLE, RetrievalChart } from './RetrievalChart.tsx';

function TrialsField() {
  const trials = useApp((s) => s.retrievalTrials);
  const setChoices = useApp((s) => s.setRetrievalChoices);
  const [text, setText] = useState(String(trials));
  const valid = isTrialCount(Number(text));
  return (
    <div className="field">
      <label htmlFor="retrieval-trials">Trials per length</label>
      <input
        id="retrieval-trials"
        type="number"
        min={1}
        max={MAX_TRIALS}
        step={1}
        value={text}
        aria-invalid={!valid}
        aria-describedby="retrieval-trials-hint"
        onChange={(e) => {
          setText(e.target.value);
          const n = Number(e.target.value);
          if (isTrialCount(n)) setChoices({ retrievalTrials: n });
        }}
      />
      <span id="retrieval-trials-hint" className={valid ? 'hint' : 'hint invalid'}>
        {valid ? 'Each prompt is right or wrong: few give coarse steps.' : `A whole number from 1 to ${MAX_TRIALS}.`}
      </span>
    </div>
  );
}

function RetrievalStatus({ controller }: { controller: Controller }) {
  const run = useApp((s) => s.retrievalRun);
  const message = useApp((s) => s.retrievalMessage);
  const canMeasure = useApp(canMeasureRetrieval);
  const gpuReady = useApp((s) => s.gpu.kind === 'ready');
  const trials = useApp((s) => s.retrievalTrials);
  const upTo = useApp((s) => s.retrievalUpTo);
  const measure = useApp((s) => s.retrievalMeasure);
  const setChoices = useApp((s) => s.setRetrievalChoices);
  const allLengths = useAppShallow(modelRetrievalLengths);
  const planned = useAppShallow(plannedLengths);
  const recordedTrials = useApp((s) => s.shipped.find((m) => m.name === s.meta?.name)?.retrieval?.trials ?? null);

  if (run) {
    return (
      <div className="status-row">
        <div className="grow">
          <p className="status-text" role="status">
            Measuring retrieval for {run.label}: length {run.length}, {run.done} of {run.total} trials ({run.trials} per length)
          </p>
          <progress aria-label="Retrieval progress" max={run.total || 1} value={run.done} />
        </div>
        <button type="button" onClick={() => stopRetrieval(controller)}>
          Stop retrieval
        </button>
      </div>
    );
  }
  return (
    <>
      <div className="retrieval-choices">
        <TrialsField />
        <div className="field">
          <label htmlFor="retrieval-up-to">Longest length</label>
          <select
            id="retrieval-up-to"
            value={upTo === null ? 'all' : String(upTo)}
            onChange={(e) => setChoices({ retrievalUpTo: e.target.value === 'all' ? null : Number(e.target.value) })}
          >
            <option value="all">All ({allLengths.join(', ')})</option>
            {allLengths.slice(0, -1).map((L) => (
              <option key={L} value={String(L)}>
                {L} tokens
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="retrieval-measure">Plot</label>
          <select
            id="retrieval-measure"
            value={measure}
            onChange={(e) => setChoices({ retrievalMeasure: e.target.value as RetrievalMeasure })}
          >
            {RETRIEVAL_MEASURES.map((m) => (
              <option key={m} value={m}>
                {MEASURE_LABELS[m]}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="status-row">
        <p className="status-text grow" role="status">
          {message?.text ??
            (gpuReady
              ? `Measures the current settings at ${planned.join(', ')} tokens, ${trials} trials per length` +
                (recordedTrials === null ? '.' : ` (the recorded points have ${recordedTrials}).`)
              : 'Showing recorded results only: measuring needs WebGPU.')}
        </p>
        <button type="button" disabled={!canMeasure} onClick={() => measureRetrieval(controller)}>
          Measure retrieval
        </button>
      </div>
    </>
  );
}

function Findings() {
  const shipped = useApp((s) => s.shipped);
  const findings = useMemo(() => retrievalFindings(shipped), [shipped]);
  return (
    <div className="retrieval-findings">
      <h3>What the two charts show</h3>
      <p className="small">
        The records test hides four one-byte records (a key and its digit, bytes the text never uses) at random depths in held-out text
        (Persuasion) and asks for one key at the very end: the model must answer its digit. A record is <em>inside</em> when it lies in the
        last C_train tokens, the only ones the cropped model sees, and <em>outside</em> otherwise. Guessing scores {percent(CHANCE)}.
      </p>
      {findings.length > 0 ? (
        findings.map((finding) => (
          <p key={finding} className="small">
            {finding}
          </p>
        ))
      ) : (
        <p className="small muted">No shipped model’s eval.json has retrieval results yet, so there is nothing to compare.</p>
      )}
    </div>
  );
}

export function RetrievalPanel({ controller }: { controller: Controller }) {
  const series = useApp((s) => s.series);
  const shown = useMemo(() => seriesWithRetrieval(series), [series]);
  const trainContext = useApp((s) => s.meta?.trainContext ?? null);
  const model = useApp((s) => s.meta?.name ?? null);
  const currentId = useApp(currentSeriesId);
  const measure = useApp((s) => s.retrievalMeasure);
  const showData = useApp((s) => s.showRetrievalData);
  const setChoices = useApp((s) => s.setRetrievalChoices);
  const height = useChartHeight();
  // The loaded model's own recorded results: its series are the ones not from another shipped model.
  const ownRecorded = series.some((s) => !s.id.startsWith(SHIPPED_PREFIX) && s.retrieval?.some((p) => p.source === 'recorded'));
  const planned = useAppShallow(modelRetrievalLengths);
  const lengths = useMemo(() => retrievalChartLengths(shown, planned), [shown, planned]);
  // As on the perplexity chart: the chart renders at transition priority, a step behind the
  // legend, so a new variant never holds the main thread for a whole frame.
  const chartSeries = useDeferredValue(shown);
  const chartLengths = useDeferredValue(lengths);
  const chartCurrentId = useDeferredValue(currentId);

  return (
    <section className="card" aria-labelledby="retrieval-heading">
      <div className="card-head">
        <h2 id="retrieval-heading">{RETRIEVAL_CHART_TITLE}</h2>
        <button type="button" className="toggle" aria-pressed={showData} onClick={() => setChoices({ showRetrievalData: !showData })}>
          Show retrieval data
        </button>
      </div>
      {model !== null && !ownRecorded && (
        <p className="alert small" role="note">
          {model}’s eval.json has no retrieval results: its lines appear here once measured (Measure retrieval); the other models’ are
          recorded.
        </p>
      )}
      <RetrievalStatus controller={controller} />
      <figure className="chart" aria-label={RETRIEVAL_CHART_TITLE}>
        {lengths.length > 0 ? (
          <RetrievalChart
            series={chartSeries}
            lengths={chartLengths}
            measure={measure}
            trainContext={trainContext}
            currentId={chartCurrentId}
            height={height}
          />
        ) : (
          <div className="chart-empty" style={{ height }}>
            <p className="muted">No model chosen yet.</p>
          </div>
        )}
        <figcaption>
          <Legend name="Series on the retrieval chart" series={shown} currentId={currentId} trainContext={trainContext}>
            <li>
              <svg className="swatch" width="36" height="12" aria-hidden="true">
                <line x1="1" y1="6" x2="35" y2="6" stroke="var(--muted)" strokeWidth="1.5" strokeDasharray={CHANCE_DASH} />
              </svg>
              <span>Chance ({percent(CHANCE)})</span>
            </li>
          </Legend>
          {shown.length === 0 && <p className="small">No retrieval results yet: no eval.json has them, and none was measured here.</p>}
          <p className="muted small">
            Same series and styles as the perplexity chart. Filled dots: measured here; hollow dots: recorded in eval.json. Higher is
            better.
          </p>
        </figcaption>
      </figure>
      {showData && (
        <>
          <p className="small muted table-note">
            Each cell: all · inside · outside the last C_train tokens, each as success of its trials; – where no trial fell there. *
            recorded in eval.json; the other values were measured in this page.
          </p>
          <LengthTable
            name="Retrieval values"
            caption="Records test success by sequence length (tokens): all · inside · outside"
            rowHeading="Series"
            rows={shown.map((s) => ({ id: s.id, label: s.label, points: s.retrieval ?? [] }))}
            lengths={lengths}
            cell={retrievalCell}
          />
        </>
      )}
      <Findings />
    </section>
  );
}
