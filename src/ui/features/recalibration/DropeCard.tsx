// The "DroPE" card: drop RoPE, recalibrate (steps, LR, batch, seed; "Recalibrate", "Pause",
// "Stop") with its progress and loss chart, and the variants made. Accessible names are a
// contract with the e2e tests and with teachers' scripts.

import { useId, useState } from 'react';
import type { Controller } from '../../controller.ts';
import { Note } from '../../components/Note.tsx';
import { activeVariant, recalibrating, useApp } from '../../store/store.ts';
import { coerceField, type ShareableConfig } from '../../store/url-state.ts';
import { dropRopeInGenerations } from '../side-by-side/compare-actions.ts';
import { LossChart } from './LossChart.tsx';

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
            controller.recalibration.dropRope();
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
          onClick={() => controller.recalibration.recalibrate()}
          aria-describedby="recal-hint"
        >
          Recalibrate
        </button>
        <button type="button" disabled={!training || r?.status === 'preparing'} onClick={() => controller.recalibration.pauseOrResume()}>
          {r?.status === 'paused' ? 'Resume' : 'Pause'}
        </button>
        <button type="button" disabled={!training} onClick={() => controller.recalibration.stop()}>
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
