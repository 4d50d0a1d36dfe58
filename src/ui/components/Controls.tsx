// The control column: the model, how positions enter attention, and DroPE (drop RoPE, recalibrate).
// Accessible names are a contract with the e2e tests and with teachers' scripts: the switch "RoPE",
// the select "Position scaling", the slider "Logit scale c", the buttons "Fit c", "Drop RoPE",
// "Recalibrate", "Pause" and "Stop".

import { useId, useState, type ReactNode } from 'react';
import type { Controller } from '../controller.ts';
import { formatC, SCALING_FACTORS, scalingLabel, SCALINGS, type Scaling } from '../settings.ts';
import { activeVariant, fitting, recalibrating, useApp } from '../store/store.ts';
import { coerceField, EVAL_TOKEN_CHOICES, type ShareableConfig } from '../store/url-state.ts';
import { LossChart } from './LossChart.tsx';
import { dropRopeInGenerations } from '../compare/compare-actions.ts';

function Note({ children }: { children: ReactNode }) {
  const show = useApp((s) => s.showNotes);
  return show ? <p className="note">{children}</p> : null;
}

/** A number input that commits only values the URL table allows, and says when one is not. */
function NumberField({
  name,
  label,
  hint,
  disabled,
}: {
  name: 'steps' | 'lr' | 'batch' | 'seed';
  label: string;
  hint: string;
  disabled: boolean;
}) {
  const value = useApp((s) => s.config[name]);
  const setSetting = useApp((s) => s.setSetting);
  const [draft, setDraft] = useState(String(value));
  const id = useId();
  // A value changed elsewhere (URL, reset) replaces the draft: React's "adjust state on a prop change".
  const [shown, setShown] = useState(value);
  if (shown !== value) {
    setShown(value);
    setDraft(String(value));
  }
  const parsed = Number(draft);
  const valid = draft.trim() !== '' && coerceField(name, parsed as ShareableConfig[typeof name]) !== undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        inputMode="decimal"
        value={draft}
        disabled={disabled}
        aria-invalid={!valid}
        aria-describedby={`${id}-hint`}
        step="any"
        onChange={(event) => {
          setDraft(event.target.value);
          const n = Number(event.target.value);
          if (event.target.value.trim() !== '' && coerceField(name, n) !== undefined) setSetting(name, n);
        }}
        onBlur={() => setDraft(String(value))}
      />
      <span id={`${id}-hint`} className={valid ? 'hint' : 'hint invalid'}>
        {hint}
      </span>
    </div>
  );
}

export function ModelCard() {
  const models = useApp((s) => s.models);
  const model = useApp((s) => s.config.model);
  const tokens = useApp((s) => s.config.tokens);
  const setSetting = useApp((s) => s.setSetting);
  const meta = useApp((s) => s.meta);
  const weights = useApp((s) => s.weights);
  const entry = models.kind === 'ready' ? models.models.find((m) => m.name === model) : undefined;

  return (
    <section className="card" aria-labelledby="model-heading">
      <h2 id="model-heading">Model</h2>
      {models.kind === 'loading' && <p className="muted">Reading the model list…</p>}
      {models.kind === 'missing' && <p className="muted">{models.message}</p>}
      {models.kind === 'ready' && (
        <>
          <div className="field">
            <label htmlFor="model-select">Model</label>
            <select id="model-select" value={model} onChange={(e) => setSetting('model', e.target.value)}>
              {models.models.map((m) => (
                <option key={m.name} value={m.name}>
                  {m.label}
                </option>
              ))}
            </select>
          </div>
          {entry?.description && <p className="small">{entry.description}</p>}
          {meta && (
            <p className="small muted">
              {meta.summary}; trained on {meta.trainContext}-token windows{meta.hasRope ? ' with RoPE' : ' without positional embeddings'}.
            </p>
          )}
          {meta?.recordedProblem && <p className="small muted">No recorded curves: {meta.recordedProblem}</p>}
          <p className="small muted" role="status">
            {weights.kind === 'loading' && 'Loading weights…'}
            {weights.kind === 'ready' &&
              `Weights loaded: ${weights.summary.parameters.toLocaleString('en-US')} parameters; validation text ${weights.summary.validationTokens.toLocaleString('en-US')} tokens.`}
          </p>
          {weights.kind === 'failed' && (
            <p className="error-text" role="alert">
              {weights.message}
            </p>
          )}
        </>
      )}
      <div className="field">
        <label htmlFor="tokens-select">Evaluation tokens</label>
        <select
          id="tokens-select"
          value={tokens}
          onChange={(e) => setSetting('tokens', Number(e.target.value))}
          aria-describedby="tokens-hint"
        >
          {EVAL_TOKEN_CHOICES.map((n) => (
            <option key={n} value={n}>
              {n.toLocaleString('en-US')}
            </option>
          ))}
        </select>
        <span id="tokens-hint" className="hint">
          Held-out tokens (Persuasion) scored at each length; fewer is faster, noisier.
        </span>
      </div>
    </section>
  );
}

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
          <button type="button" disabled={!canFit} onClick={() => controller.fitC()}>
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
          <button type="button" onClick={() => controller.cancel()}>
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

export function DropeCard({ controller }: { controller: Controller }) {
  const variants = useApp((s) => s.variants);
  const active = useApp(activeVariant);
  const setActiveVariant = useApp((s) => s.setActiveVariant);
  const ready = useApp((s) => s.weights.kind === 'ready' && s.gpu.kind === 'ready');
  const training = useApp(recalibrating);
  const r = useApp((s) => s.recalibration);
  const trainContext = useApp((s) => s.meta?.trainContext ?? null);
  const canDrop = ready && !training && Boolean(active?.hasRope);
  const canRecalibrate = ready && !training && active !== null && !active.hasRope;

  return (
    <section className="card" aria-labelledby="drope-heading">
      <h2 id="drope-heading">DroPE</h2>
      <Note>
        DroPE drops RoPE from a trained model, then recalibrates it briefly at the training length. With no positions to extrapolate, the
        curve past the training length stays flatter.
      </Note>
      <div className="field">
        <label htmlFor="variant-select">Variant</label>
        <select
          id="variant-select"
          value={active?.id ?? ''}
          disabled={variants.length < 2 || training}
          onChange={(e) => setActiveVariant(e.target.value)}
        >
          {variants.map((v) => (
            <option key={v.id} value={v.id}>
              {v.label}
            </option>
          ))}
        </select>
        {active && <span className="hint">{active.detail}</span>}
      </div>
      <div className="actions">
        <button
          type="button"
          disabled={!canDrop}
          onClick={() => {
            controller.dropRope();
            // A side-by-side slot generating with this variant and RoPE goes on without it.
            if (active) dropRopeInGenerations(controller, active.id);
          }}
        >
          Drop RoPE
        </button>
      </div>
      <fieldset className="recalibrate" disabled={training}>
        <legend>Recalibration{trainContext ? ` at context ${trainContext}` : ''}</legend>
        <div className="grid3">
          <NumberField name="steps" label="Steps" hint="1–5000" disabled={training} />
          <NumberField name="lr" label="Peak LR" hint="1e-5–1e-2" disabled={training} />
          <NumberField name="batch" label="Batch" hint="windows" disabled={training} />
        </div>
      </fieldset>
      <div className="actions">
        <button
          type="button"
          className="primary"
          disabled={!canRecalibrate}
          onClick={() => controller.recalibrate()}
          aria-describedby="recal-hint"
        >
          Recalibrate
        </button>
        <button type="button" disabled={!training || r?.status === 'preparing'} onClick={() => controller.pauseOrResume()}>
          {r?.status === 'paused' ? 'Resume' : 'Pause'}
        </button>
        <button type="button" disabled={!training} onClick={() => controller.stopRecalibration()}>
          Stop
        </button>
      </div>
      {!canRecalibrate && !training && (
        <p id="recal-hint" className="hint">
          {active?.hasRope ? 'Drop RoPE first: recalibration trains a variant without RoPE.' : 'Needs WebGPU and loaded weights.'}
        </p>
      )}
      {r && (
        <div className="recal-status">
          <div className="label-row">
            <span className="small" role="status">
              {r.message ?? ''}
            </span>
            <span className="small muted">
              step {r.step} / {r.steps}
            </span>
          </div>
          <progress aria-label="Recalibration progress" max={r.steps} value={r.status === 'preparing' ? undefined : r.step} />
          {r.losses.length > 0 && <LossChart losses={r.losses} />}
        </div>
      )}
    </section>
  );
}
