// Teaching: what RoPE is, why it fails past the training length, why scaling compresses the low
// frequencies, what recalibration does (short notes, shown with the "Explanations" toggle), beside
// a small chart of RoPE's frequencies against the training window for the current model's head_dim
// and rope_theta and the selected scaling: for each frequency pair, the full turns it makes within
// C_train and within the evaluated length L = 4 × C_train.

import { useEffect, useState } from 'react';
import { Note } from '../../components/Note.tsx';
import { CartesianGrid, Legend, Line, LineChart, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import { parseConfig } from '../../../model/config.ts';
import type { RotaryParams } from '../../../model/positions.ts';
import { scalingLabel } from '../../settings.ts';
import { useApp } from '../../store/store.ts';
import { lossLength } from '../side-by-side/ComparePanel.tsx';
import { usePresentation } from './presentation.ts';
import { ropeFrequencyRows } from './rope-frequencies.ts';

export const FREQUENCY_CHART_TITLE = 'RoPE frequencies';

/** head_dim, rope_theta and max_position_embeddings of the selected model, read from its config.json. */
function useRotaryParams(model: string): RotaryParams | null {
  const [params, setParams] = useState<{ model: string; params: RotaryParams } | null>(null);
  useEffect(() => {
    if (!model) return;
    let live = true;
    const url = new URL(`${import.meta.env.BASE_URL}models/${model}/config.json`, window.location.href).href;
    fetch(url)
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((raw: unknown) => {
        const c = parseConfig(raw);
        if (live)
          setParams({ model, params: { headDim: c.headDim, ropeTheta: c.ropeTheta, maxPositionEmbeddings: c.maxPositionEmbeddings } });
      })
      .catch(() => {
        // The main panel reports an unreadable config; the chart just stays empty.
      });
    return () => {
      live = false;
    };
  }, [model]);
  return params?.model === model ? params.params : null;
}

/** Powers of ten covering [lo, hi]. */
function decadeTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) ticks.push(10 ** e);
  return ticks;
}

const formatTurns = (v: number) => (v >= 1 ? v.toLocaleString('en-US', { maximumFractionDigits: 1 }) : String(Number(v.toPrecision(2))));

function FrequencyChart({ params, trainContext, height }: { params: RotaryParams; trainContext: number; height: number }) {
  const scaling = useApp((s) => s.config.scaling);
  const L = lossLength(trainContext);
  const rows = ropeFrequencyRows(params, trainContext, L, scaling);
  const scaled = scaling !== 'none';
  const data = rows.map((r) => ({ pair: r.pair, train: r.turnsTrain, plain: r.turnsAtLengthPlain, scaled: r.turnsAtLength }));
  const values = rows.flatMap((r) => [r.turnsTrain, r.turnsAtLength, r.turnsAtLengthPlain]);
  const ticks = decadeTicks(Math.min(...values), Math.max(...values));
  const names: Record<string, string> = {
    train: `Within C_train = ${trainContext}`,
    plain: `Within L = ${L}, plain RoPE`,
    scaled: `Within L = ${L}, ${scalingLabel(scaling, trainContext)}`,
  };
  return (
    <LineChart
      title={FREQUENCY_CHART_TITLE}
      desc={`Full turns of each rotary frequency pair (log scale) within the training context and within ${L} tokens, for head_dim ${params.headDim} and rope_theta ${params.ropeTheta}.`}
      data={data}
      responsive
      style={{ width: '100%', height }}
      margin={{ top: 12, right: 16, bottom: 28, left: 8 }}
    >
      <CartesianGrid stroke="var(--grid)" strokeDasharray="3 3" />
      <XAxis
        dataKey="pair"
        type="number"
        domain={[0, rows.length - 1]}
        allowDecimals={false}
        tick={{ fill: 'var(--muted)', fontSize: 12 }}
        stroke="var(--axis)"
        label={{ value: 'Frequency pair k (fast → slow)', position: 'insideBottom', offset: -16, fill: 'var(--fg)', fontSize: 13 }}
      />
      <YAxis
        type="number"
        scale="log"
        domain={[ticks[0], ticks[ticks.length - 1]]}
        ticks={ticks}
        allowDataOverflow
        tickFormatter={formatTurns}
        tick={{ fill: 'var(--muted)', fontSize: 12 }}
        stroke="var(--axis)"
        width={52}
        label={{
          value: 'Full turns',
          angle: -90,
          position: 'insideLeft',
          offset: 6,
          style: { textAnchor: 'middle' },
          fill: 'var(--fg)',
          fontSize: 13,
        }}
      />
      <Tooltip
        isAnimationActive={false}
        formatter={(value, name) => [typeof value === 'number' ? formatTurns(value) : String(value), names[String(name)] ?? String(name)]}
        labelFormatter={(k) => `Pair k = ${k}`}
        contentStyle={{ background: 'var(--card)', border: '1px solid var(--border)', borderRadius: 6, color: 'var(--fg)', fontSize: 13 }}
      />
      <Legend
        verticalAlign="top"
        align="right"
        formatter={(name) => names[String(name)] ?? String(name)}
        wrapperStyle={{ fontSize: 13, paddingBottom: 4 }}
      />
      <ReferenceLine
        y={1}
        stroke="var(--fg)"
        strokeDasharray="2 2"
        label={{ value: 'one turn', position: 'insideTopRight', fill: 'var(--fg)', fontSize: 12 }}
      />
      <Line dataKey="train" name="train" stroke="#0072B2" strokeWidth={2.5} dot={{ r: 2.5 }} isAnimationActive={false} />
      <Line
        dataKey="plain"
        name="plain"
        stroke="#D55E00"
        strokeWidth={2}
        strokeDasharray={scaled ? '6 4' : undefined}
        dot={false}
        isAnimationActive={false}
      />
      {scaled && <Line dataKey="scaled" name="scaled" stroke="#009E73" strokeWidth={2.5} dot={{ r: 2.5 }} isAnimationActive={false} />}
    </LineChart>
  );
}

export function RopeTeaching() {
  const model = useApp((s) => s.config.model);
  const trainContext = useApp((s) => s.meta?.trainContext ?? null);
  const params = useRotaryParams(model);
  const presenting = usePresentation();
  const height = presenting ? 420 : 260;
  return (
    <section className="card teaching" aria-labelledby="teaching-heading">
      <h2 id="teaching-heading">How RoPE sees positions</h2>
      <div className="teaching-grid">
        <div className="teaching-notes">
          <Note>
            <strong>RoPE.</strong> Rotary position embedding splits each query and key into pairs of numbers and turns each pair by an angle
            proportional to the token’s position, every pair at its own speed. Two tokens’ attention score then depends on how far apart
            they are.
          </Note>
          <Note>
            <strong>Past the training length.</strong> In training, pair k only ever turns through angles up to C_train × its frequency. The
            slow pairs do not even complete one turn there (below the dashed line), so past C_train they reach angles the model never saw,
            and attention built on them breaks down.
          </Note>
          <Note>
            <strong>Scaling.</strong> Scaling slows the rotations so that the long sequence maps back into angles seen in training. PI slows
            every pair by L / C_train, blurring the fast pairs that tell neighbours apart; NTK and YaRN slow mostly the low frequencies, the
            ones that would leave the trained range, and keep the fast ones.
          </Note>
          <Note>
            <strong>Recalibration.</strong> DroPE removes the rotation altogether, so there are no angles to extrapolate, but the weights
            still expect it. Recalibration trains the model briefly at the training length without RoPE, so it learns to track order from
            causal attention alone; the logit scale c then keeps attention sharp at longer lengths.
          </Note>
        </div>
        <figure className="chart frequency-chart" aria-label={FREQUENCY_CHART_TITLE}>
          <figcaption className="small">
            {FREQUENCY_CHART_TITLE}
            {params ? `: head_dim ${params.headDim}, rope_theta ${params.ropeTheta.toLocaleString('en-US')}` : ''}. Full turns per frequency
            pair within the training context and within 4× it.
          </figcaption>
          {params && trainContext ? (
            <FrequencyChart params={params} trainContext={trainContext} height={height} />
          ) : (
            <div className="chart-empty" style={{ height }}>
              <p className="muted">Waiting for the model’s config.json.</p>
            </div>
          )}
        </figure>
      </div>
    </section>
  );
}

export function PresentationToggle({ presenting, onToggle }: { presenting: boolean; onToggle: () => void }) {
  return (
    <button type="button" className="toggle small-button" aria-pressed={presenting} onClick={onToggle}>
      Presentation mode
    </button>
  );
}
