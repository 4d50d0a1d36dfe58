// The "Positions" card: how positions enter attention (the switch "RoPE", the select "Position
// scaling", the scaling factor, the slider "Logit scale c" and "Fit c"). Accessible names are a
// contract with the e2e tests and with teachers' scripts.

import type { Controller } from '../../controller.ts';
import { Note } from '../../components/Note.tsx';
import { formatC, SCALING_FACTORS, scalingLabel, SCALINGS, type Scaling } from '../../settings.ts';
import { activeVariant, fitting, recalibrating, useApp } from '../../store/store.ts';

export function PositionsCard({ controller }: { controller: Controller }) {
  const rope = useApp((s) => s.config.rope);
  const scaling = useApp((s) => s.config.scaling);
  const factor = useApp((s) => s.config.factor);
  const c = useApp((s) => s.config.c);
  const setSetting = useApp((s) => s.setSetting);
  const variant = useApp(activeVariant);
  const hasRope = variant?.hasRope ?? true;
  const canFit = useApp((s) => s.weights.kind === 'ready' && !fitting(s) && !recalibrating(s));
  const fit = useApp((s) => s.fit);
  const trainContext = useApp((s) => s.meta?.trainContext ?? null);
  const on = hasRope && rope;

  return (
    <section className="card" aria-labelledby="positions-heading">
      <h2 id="positions-heading">Positions</h2>
      <div className="field row">
        <span id="rope-label" className="label">
          RoPE
        </span>
        <button
          type="button"
          role="switch"
          className="switch"
          aria-checked={on}
          aria-labelledby="rope-label"
          aria-describedby="rope-hint"
          disabled={!hasRope}
          onClick={() => setSetting('rope', !rope)}
        >
          <span className="knob" aria-hidden="true" />
        </button>
        <span className="switch-state" aria-hidden="true">
          {on ? 'on' : 'off'}
        </span>
      </div>
      <p id="rope-hint" className="hint">
        {hasRope ? 'Off: the same weights with the rotary embedding left out.' : `${variant?.label ?? 'This variant'} has no RoPE.`}
      </p>
      <div className="field">
        <label htmlFor="scaling-select">Position scaling</label>
        <select
          id="scaling-select"
          value={scaling}
          disabled={!on}
          onChange={(e) => setSetting('scaling', e.target.value as Scaling)}
          aria-describedby="scaling-hint"
        >
          {SCALINGS.map((s) => (
            <option key={s} value={s}>
              {scalingLabel(s, trainContext)}
            </option>
          ))}
        </select>
        <span id="scaling-hint" className="hint">
          {scaling === 'crop'
            ? `Plain RoPE; each token attends to the last ${trainContext ?? 'C_train'} tokens only.`
            : factor === 'length'
              ? `Factor L / ${trainContext ?? 'C_train'} at each length L past training.`
              : `Factor ${factor} at every length.`}
        </span>
      </div>
      <div className="field">
        <label htmlFor="factor-select">Scaling factor</label>
        <select
          id="factor-select"
          value={String(factor)}
          disabled={!on || scaling === 'none' || scaling === 'crop'}
          onChange={(e) => {
            const chosen = SCALING_FACTORS.find((f) => String(f) === e.target.value);
            if (chosen !== undefined) setSetting('factor', chosen);
          }}
          aria-describedby="factor-hint"
        >
          {SCALING_FACTORS.map((f) => (
            <option key={f} value={String(f)}>
              {f === 'length' ? 'L / C_train at each length' : `Fixed ×${f}`}
            </option>
          ))}
        </select>
        <span id="factor-hint" className="hint">
          A fixed factor applies at every length, inside the training window too (as a static rope_scaling in transformers), so even the
          curve at 1× changes.
        </span>
      </div>
      <Note>
        RoPE turns each query and key by an angle that grows with position. Past the training length the model meets angles it never saw. PI
        squeezes positions back into the trained range; NTK and YaRN stretch the slow frequencies and keep the fast ones. Cropping keeps
        RoPE as trained and lets each token see only the last C_train tokens: never a new angle, but nothing older either.
      </Note>
      <div className="field">
        <div className="label-row">
          <label htmlFor="c-slider">Logit scale c</label>
          <output htmlFor="c-slider" className="value">
            {formatC(c)}
          </output>
        </div>
        <div className="row">
          <input
            id="c-slider"
            type="range"
            min={0}
            max={1}
            step={0.05}
            value={c}
            aria-describedby="c-hint"
            onChange={(e) => setSetting('c', Number(e.target.value))}
          />
          <button type="button" disabled={!canFit} onClick={() => controller.evaluation.fitC()}>
            Fit c
          </button>
        </div>
        <span id="c-hint" className="hint">
          Attention logits × (1 + c·ln(L / {trainContext ?? 'C_train'})) past the training length.
        </span>
      </div>
      {fit && !fit.result && (
        <div className="status-row">
          <div className="grow">
            <p className="status-text" role="status">
              Fitting c: {fit.done} of {fit.total || '…'} windows
            </p>
            <progress aria-label="Fit progress" max={fit.total || 1} value={fit.total ? fit.done : undefined} />
          </div>
          <button type="button" onClick={() => controller.evaluation.cancel()}>
            Cancel
          </button>
        </div>
      )}
      {fit?.result && (
        <p className="small" role="status">
          Best c = {formatC(fit.result.c)} at lengths {fit.result.lengths.join(' and ')}.
        </p>
      )}
    </section>
  );
}
