// "Long context": evaluation at real lengths. Perplexity against length from C/2 to 8x the training
// context C, on the bundled Persuasion or a text the user pastes (tokenized in the worker), and the
// DroPE paper's multi-key needle-in-a-haystack test (four key/value needles, one key asked, greedy
// decoding, exact match) at 1x, 2x, 4x and 8x C, each for the current variant and any others ticked.
// The charts also show what other models measured this session that compares (the same C for the
// needle test; the same C, vocabulary size and text for perplexity), named "<model>: <series>", and
// a line under them says which models those are (logic.ts comparedResults, alsoShownLine).
// State and actions: src/ui/features/long-context/slice.ts; pure helpers: src/ui/features/long-context/logic.ts.
//
// Accessible names (e2e/long-context.spec.ts): textbox "Evaluation text", buttons "Measure
// perplexity", "Run needle test", "Cancel long-context run", toggle "Show needle data", progressbar
// "Long-context progress", charts "Perplexity on your text" and "Needle-in-a-haystack success vs
// length". None contains a name the main panel's contract uses ("Stop", "Pause", "Show data", …).
// The "Also shown" line (test id long-context-also-shown) is text, not a control.

import { memo, useEffect, useId, useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, LabelList, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import type { Controller } from '../../controller.ts';
import { LengthTable } from '../../components/LengthTable.tsx';
import { PerplexityChart } from '../../components/PerplexityChart.tsx';
import type { Series } from '../../store/run-slice.ts';
import {
  alsoShownLine,
  comparedResults,
  needleRows,
  perplexityLengths,
  tooShortLengths,
  formatNeedlePoint,
  textKey,
  type NeedlePoint,
  type PerplexityPoint,
  type ResultSeries,
} from './logic.ts';
import {
  budgetOf,
  cancelLongContext,
  countKey,
  countTokens,
  patchLongContext,
  MAX_TRIALS,
  measurePerplexity,
  perplexityBlocker,
  resultsOf,
  runNeedle,
  textTokens,
  useLongContext,
} from './slice.ts';
import { activeVariant, useApp } from '../../store/store.ts';
import { formatPpl, seriesStyle, valueAxisLabel } from '../../components/chart-style.ts';
import './long-context.css';

export const LONG_PPL_CHART = 'Perplexity on your text';
export const NEEDLE_CHART = 'Needle-in-a-haystack success vs length';

const CHART_HEIGHT = 280;
/** How long typing must pause before the pasted text is counted. */
const COUNT_DELAY_MS = 300;

const set = patchLongContext;

/** The long-context results in the main chart's form: every point measured in this page. */
function asChartSeries(series: ResultSeries<PerplexityPoint>[]): Series[] {
  return series.map((s) => ({ ...s, points: s.points.map((p) => ({ ...p, source: 'measured' as const })) }));
}

const NeedleBars = memo(function NeedleBars({ series, trainContext }: { series: ResultSeries<NeedlePoint>[]; trainContext: number }) {
  const rows = needleRows(series, trainContext);
  const short = new Set(tooShortLengths(series));
  return (
    <BarChart
      title={NEEDLE_CHART}
      desc="Share of needle prompts answered exactly (0 to 100%) at 1, 2, 4 and 8 times the training length, one bar per variant; a length too short to hold four needles and the question says so instead of a bar."
      data={rows}
      responsive
      style={{ width: '100%', height: CHART_HEIGHT }}
      margin={{ top: 24, right: 24, bottom: 28, left: 12 }}
    >
      <CartesianGrid stroke="var(--grid)" strokeDasharray="3 3" vertical={false} />
      <XAxis
        dataKey="category"
        type="category"
        tick={{ fill: 'var(--muted)', fontSize: 13 }}
        stroke="var(--axis)"
        label={{
          value: 'Prompt length (tokens, × training length)',
          position: 'insideBottom',
          offset: -18,
          fill: 'var(--fg)',
          fontSize: 14,
        }}
      />
      <YAxis
        type="number"
        domain={[0, 100]}
        ticks={[0, 25, 50, 75, 100]}
        tickFormatter={(v: number) => `${v}%`}
        tick={{ fill: 'var(--muted)', fontSize: 13 }}
        stroke="var(--axis)"
        width={56}
        label={valueAxisLabel('Exact answers')}
      />
      <Tooltip
        isAnimationActive={false}
        formatter={(_value, name, item) => {
          const key = String(name);
          return [
            String((item?.payload as Record<string, unknown> | undefined)?.[`${key}_label`] ?? ''),
            series[Number(key.slice(1))]?.label ?? key,
          ];
        }}
        contentStyle={{ background: 'var(--card)', border: '1px solid var(--border)', borderRadius: 6, color: 'var(--fg)', fontSize: 14 }}
      />
      {/* Too short is a property of the length and the tokenizer, the same for every variant: one label per length, no bar. */}
      {rows
        .filter((row) => short.has(Number(row.length)))
        .map((row) => (
          <ReferenceLine
            key={String(row.category)}
            x={String(row.category)}
            stroke="var(--border)"
            strokeDasharray="2 4"
            label={{ value: 'too short', position: 'center', fill: 'var(--muted)', fontSize: 13 }}
          />
        ))}
      {series.map((s, i) => {
        const style = seriesStyle(s.style);
        return (
          // minPointSize: a 0% bar stays visible (a sliver with its "0%" label), unlike a length with no bar.
          <Bar
            key={s.id}
            dataKey={`s${i}`}
            name={`s${i}`}
            fill={style.colour}
            stroke={style.colour}
            fillOpacity={0.75}
            minPointSize={3}
            isAnimationActive={false}
          >
            <LabelList dataKey={`s${i}_label`} position="top" fill="var(--fg)" fontSize={12} />
          </Bar>
        );
      })}
    </BarChart>
  );
});

function Swatches({ series }: { series: ResultSeries<unknown>[] }) {
  return (
    <ul className="legend" aria-label="Long-context legend">
      {series.map((s) => {
        const { colour, dash } = seriesStyle(s.style);
        return (
          <li key={s.id}>
            <svg className="swatch" width="36" height="12" aria-hidden="true">
              <line x1="1" y1="6" x2="35" y2="6" stroke={colour} strokeWidth="3" strokeDasharray={dash || undefined} />
            </svg>
            <span>{s.label}</span>
          </li>
        );
      })}
    </ul>
  );
}

function NeedleTable({ series }: { series: ResultSeries<NeedlePoint>[] }) {
  const lengths = [...new Set(series.flatMap((s) => s.points.map((p) => p.length)))].sort((a, b) => a - b);
  return (
    <LengthTable
      name="Needle values"
      caption="Needle test: exact answers by prompt length (tokens)"
      rowHeading="Model and variant"
      rows={series}
      lengths={lengths}
      cell={(p) => (p.tooShort ? 'too short' : `${formatNeedlePoint(p)} (${p.successes}/${p.trials})`)}
    />
  );
}

function RunStatus({ controller }: { controller: Controller }) {
  const run = useLongContext((s) => s.run);
  const message = useLongContext((s) => s.message);
  if (!run) {
    return message ? (
      <p className={message.kind === 'error' ? 'small error-text' : 'small muted'} role="status">
        {message.text}
      </p>
    ) : null;
  }
  const what = run.kind === 'perplexity' ? 'Measuring perplexity' : 'Needle test';
  const unit = run.kind === 'perplexity' ? 'windows' : 'trials';
  const variant = run.count > 1 ? ` (variant ${run.index + 1} of ${run.count})` : '';
  return (
    <div className="status-row">
      <div className="grow">
        <p className="status-text" role="status">
          {what}, {run.label}
          {variant}
          {run.total > 0 ? `: length ${run.length}, ${run.done} of ${run.total} ${unit}` : '…'}
        </p>
        <progress aria-label="Long-context progress" max={run.total || 1} value={run.total ? run.done : undefined} />
      </div>
      <button type="button" onClick={() => cancelLongContext(controller)}>
        Cancel long-context run
      </button>
    </div>
  );
}

export function LongContextPanel({ controller }: { controller: Controller }) {
  const ids = { text: useId(), budget: useId(), trials: useId() };
  const meta = useApp((s) => s.meta);
  const weights = useApp((s) => s.weights);
  const ready = useApp((s) => s.gpu.kind === 'ready' && s.weights.kind === 'ready');
  const variants = useApp((s) => s.variants);
  const current = useApp((s) => activeVariant(s)?.id ?? null);
  const state = useLongContext((s) => s);
  const [showNeedleData, setShowNeedleData] = useState(false);
  const model = meta?.name;
  const C = meta?.trainContext ?? null;
  const results = resultsOf(state, model);
  const running = state.run !== null;
  // Perplexities compare on the text the current model's were measured on, or, before it has any,
  // on the text chosen (so another model's curve is there to measure against).
  const chosenKey = useMemo(() => textKey(state.source, state.text), [state.source, state.text]);
  const referenceKey = results.perplexity.length > 0 ? results.textKey : chosenKey;
  const vocabSize = meta?.vocabSize ?? null;
  const allResults = state.results;
  const compared = useMemo(
    () => comparedResults(model ? allResults : {}, model ?? '', { trainContext: C, vocabSize, textKey: referenceKey }),
    [allResults, model, C, vocabSize, referenceKey],
  );
  const alsoShown = alsoShownLine(compared);

  // The pasted text is counted (in the worker) once typing pauses, and again under a new model.
  const pastedKey = model && state.source === 'pasted' && state.text !== '' ? countKey(model, state.text) : null;
  const weightsReady = weights.kind === 'ready';
  useEffect(() => {
    if (!pastedKey || !weightsReady) return;
    const timer = setTimeout(() => countTokens(controller), COUNT_DELAY_MS);
    return () => clearTimeout(timer);
  }, [pastedKey, weightsReady, controller]);

  if (!meta || C === null) {
    return (
      <section className="card long-context" aria-labelledby="long-context-heading">
        <h2 id="long-context-heading">Long context</h2>
        <p className="muted small">Choose a model first.</p>
      </section>
    );
  }

  const tokens = textTokens(state);
  const blocker = perplexityBlocker(state);
  const lengths = perplexityLengths(C);
  const counting = state.source === 'pasted' && state.count?.status === 'counting';
  let tokenLine: string;
  if (state.source === 'pasted' && state.text === '') tokenLine = 'Paste a text above, or use the bundled Persuasion.';
  else if (state.source === 'pasted' && state.count?.status === 'failed' && state.count.key === pastedKey)
    tokenLine = `Cannot count its tokens: ${state.count.message}`;
  else if (tokens === null) tokenLine = counting || !weightsReady ? 'Counting tokens…' : '';
  else tokenLine = `${state.source === 'bundled' ? 'Persuasion' : 'Your text'}: ${tokens.toLocaleString('en-US')} tokens.`;
  const tooShort = tooShortLengths(compared.needle);
  const needleBlocked = state.source === 'pasted' && state.text.trim() === '';

  return (
    <section className="card long-context" aria-labelledby="long-context-heading">
      <div className="card-head">
        <h2 id="long-context-heading">Long context</h2>
      </div>
      <p className="muted small">
        Evaluation at real lengths, up to 8× the training context ({C.toLocaleString('en-US')} tokens for this model, so up to{' '}
        {(8 * C).toLocaleString('en-US')}): perplexity on a long text, and the paper’s needle-in-a-haystack retrieval test. Both use the
        current position settings (RoPE switch, scaling, c).
      </p>

      <fieldset className="lc-group">
        <legend>Text</legend>
        <div className="row lc-wrap">
          <label className="check">
            <input
              type="radio"
              name="lc-source"
              checked={state.source === 'bundled'}
              disabled={running}
              onChange={() => set({ source: 'bundled' })}
            />
            Persuasion (bundled, public domain)
          </label>
          <label className="check">
            <input
              type="radio"
              name="lc-source"
              checked={state.source === 'pasted'}
              disabled={running}
              onChange={() => set({ source: 'pasted' })}
            />
            Pasted text
          </label>
        </div>
        <div className="field">
          <label htmlFor={ids.text}>Evaluation text</label>
          <textarea
            id={ids.text}
            rows={3}
            value={state.text}
            disabled={running}
            placeholder="Paste a long text here (a novel, an article…)"
            onChange={(e) => set({ text: e.target.value, source: 'pasted' })}
          />
        </div>
        <p className="small muted" data-testid="long-context-tokens" aria-live="polite">
          {tokenLine}
        </p>
        {blocker && blocker !== 'Paste a text first.' && blocker !== 'Choose a model first.' && (
          <p className="small error-text" data-testid="long-context-too-short">
            {blocker}
          </p>
        )}
      </fieldset>

      {variants.length > 1 && (
        <fieldset className="lc-group">
          <legend>Variants</legend>
          <div className="row lc-wrap">
            {variants.map((v) => (
              <label key={v.id} className="check">
                <input
                  type="checkbox"
                  checked={v.id === current || state.extraVariants.includes(v.id)}
                  disabled={v.id === current || running}
                  onChange={(e) =>
                    set((s) => ({
                      extraVariants: e.target.checked ? [...s.extraVariants, v.id] : s.extraVariants.filter((x) => x !== v.id),
                    }))
                  }
                />
                {v.label}
                {v.id === current ? ' (current)' : ''}
              </label>
            ))}
          </div>
        </fieldset>
      )}

      <fieldset className="lc-group">
        <legend>Perplexity against length</legend>
        <div className="row lc-wrap" role="group" aria-label="Perplexity lengths">
          {lengths.map((L) => (
            <label key={L} className="check">
              <input
                type="checkbox"
                checked={!state.unticked.includes(L)}
                disabled={running}
                onChange={(e) => set((s) => ({ unticked: e.target.checked ? s.unticked.filter((x) => x !== L) : [...s.unticked, L] }))}
              />
              {L} tokens
            </label>
          ))}
        </div>
        <div className="row lc-wrap">
          <div className="field row">
            <label htmlFor={ids.budget}>Tokens per length</label>
            <input
              id={ids.budget}
              type="number"
              min={2}
              step={1}
              value={budgetOf(state, C)}
              disabled={running}
              onChange={(e) => {
                const n = Math.floor(Number(e.target.value));
                if (Number.isFinite(n) && n >= 2) set({ budget: n });
              }}
            />
          </div>
          <button
            type="button"
            className="primary"
            disabled={!ready || running || blocker !== null}
            onClick={() => measurePerplexity(controller)}
          >
            Measure perplexity
          </button>
        </div>
        <p className="small muted">
          Each length reads the first “tokens per length” tokens of the text (at least one window) in non-overlapping windows.
        </p>
      </fieldset>

      <fieldset className="lc-group">
        <legend>Needle in a haystack</legend>
        <div className="row lc-wrap">
          <div className="field row">
            <label htmlFor={ids.trials}>Trials per length</label>
            <input
              id={ids.trials}
              type="number"
              min={1}
              max={MAX_TRIALS}
              step={1}
              value={state.trials}
              disabled={running}
              onChange={(e) => set({ trials: Math.max(1, Math.min(MAX_TRIALS, Math.floor(Number(e.target.value) || 1))) })}
            />
          </div>
          <button type="button" className="primary" disabled={!ready || running || needleBlocked} onClick={() => runNeedle(controller)}>
            Run needle test
          </button>
        </div>
        <p className="small muted">
          Four sentences “One of the special magic numbers for KEY is: NUMBER.” hidden in the text, then a question about one key; the model
          answers by greedy decoding and scores when it writes exactly that seven-digit number. Lengths {C}, {2 * C}, {4 * C} and {8 * C}{' '}
          tokens.
        </p>
      </fieldset>

      <RunStatus controller={controller} />

      {compared.perplexity.length > 0 && (
        <figure className="chart lc-chart" aria-label={LONG_PPL_CHART}>
          <PerplexityChart
            title={LONG_PPL_CHART}
            desc="Per-token perplexity (log scale) against the sequence length in tokens (log scale), one line per variant (and per other model shown); the vertical line marks the training length."
            series={asChartSeries(compared.perplexity)}
            lengths={[]}
            trainContext={C}
            currentId={null}
            height={CHART_HEIGHT}
          />
          <figcaption>
            <Swatches series={compared.perplexity} />
            <p className="muted small">Measured on {compared.textLabel}. Lower is better; the dashed line is the training length.</p>
            <ul className="lc-values" aria-label="Perplexity values">
              {compared.perplexity.map((s) => (
                <li key={s.id}>
                  {s.label}: {s.points.map((p) => `${p.length} → ${formatPpl(p.ppl)}`).join(', ')}
                </li>
              ))}
            </ul>
          </figcaption>
        </figure>
      )}

      {compared.needle.length > 0 && (
        <>
          <div className="card-head lc-needle-head">
            <h3>Needle test</h3>
            <button type="button" className="toggle" aria-pressed={showNeedleData} onClick={() => setShowNeedleData(!showNeedleData)}>
              Show needle data
            </button>
          </div>
          <figure className="chart lc-chart" aria-label={NEEDLE_CHART}>
            <NeedleBars series={compared.needle} trainContext={C} />
            <figcaption>
              <Swatches series={compared.needle} />
              {tooShort.length > 0 && (
                <p className="small" data-testid="needle-too-short">
                  Too short at {tooShort.join(', ')} tokens for four needles and a question: the test is meant for real checkpoints such as
                  SmolLM, and the toy models are not expected to retrieve.
                </p>
              )}
            </figcaption>
          </figure>
          {showNeedleData && <NeedleTable series={compared.needle} />}
        </>
      )}

      {alsoShown && (
        <p className="small muted" data-testid="long-context-also-shown">
          {alsoShown}
        </p>
      )}
    </section>
  );
}
