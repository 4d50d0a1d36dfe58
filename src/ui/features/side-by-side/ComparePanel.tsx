// "Side by side": two slots, Model A and Model B, each a variant with its own position settings;
// one prompt that both continue, token by token (greedy, streamed from the worker), with a per-slot
// "Remove rotary embeddings" that applies to the tokens still to come; and the per-token loss of
// both along one long passage of persuasion.txt (4× the training context), drawn as text shaded by
// each token's loss, so one sees where each model loses track.
//
// The section is always shown, but nothing runs until the user presses Generate or Measure.
// Accessible names: the slots are the groups "Model A" and "Model B" (their legends). The main
// column's names are a contract matched as case-insensitive substrings ("Drop RoPE", "Stop",
// "Pause", "Recalibrate", "Fit c", the switch "RoPE"), so no control here may contain them:
// hence "Remove rotary embeddings", "End generation" and the checkbox "Rotary embeddings".
//
// Each slot's "Weights" lists the loaded model's variants, then the other shipped models of the
// same shapes (shipped-variants.ts), loaded into the worker when first needed; Model B starts on
// austen-drope where it is offered. Hub models put beside the loaded one with the Hub card's
// "Compare with the current model" (hub-variants.ts) follow, under "From the Hub"; the card selects
// the new one in Model B.

import { useId, useMemo } from 'react';
import { Note } from '../../components/Note.tsx';
import type { Controller } from '../../controller.ts';
import { scalingLabel, SCALINGS, type Scaling } from '../../settings.ts';
import { useApp } from '../../store/store.ts';
import {
  appOffers,
  dropRopeNow,
  ensureShippedVariant,
  generateBoth,
  measureLosses,
  slotLabel,
  slotVariant,
  stopGeneration,
} from './compare-actions.ts';
import { SLOTS, useCompare, type GenerationState, type LossState, type ShippedLoad, type SlotId } from './slice.ts';
import { shippedName, slotChoices } from './shipped-variants.ts';
import { usePresentation } from '../teaching/presentation.ts';
import './compare.css';

/** Losses at or above this many nats get the darkest shade. */
const LOSS_SCALE_MAX = 8;

/** The per-token loss length: 4× the training context. */
export function lossLength(trainContext: number): number {
  return 4 * trainContext;
}

function Continuation({ slot, generation, prompt }: { slot: SlotId; generation: GenerationState | null; prompt: string }) {
  const text = generation?.text ?? '';
  const split = generation?.ropeUntil ?? null;
  return (
    <div className="continuation" role="log" aria-label={`Model ${slot} continuation`} aria-live="off" data-count={generation?.count ?? 0}>
      {generation ? (
        <>
          <span className="muted">{prompt}</span>
          {split === null ? (
            <span>{text}</span>
          ) : (
            <>
              <span>{text.slice(0, split)}</span>
              <span className="after-drop" title="Generated after RoPE was dropped">
                <span className="sr-only"> (RoPE dropped from here:) </span>
                {text.slice(split)}
              </span>
            </>
          )}
        </>
      ) : (
        <span className="muted">Press Generate to continue the prompt.</span>
      )}
    </div>
  );
}

function GenerationStatus({ generation }: { generation: GenerationState | null }) {
  if (!generation) return null;
  const word = generation.count === 1 ? 'token' : 'tokens';
  const text =
    generation.status === 'running'
      ? `Generating: ${generation.count} ${word}`
      : generation.status === 'failed'
        ? `Failed: ${generation.message ?? 'unknown error'}`
        : generation.status === 'stopped'
          ? `Stopped after ${generation.count} ${word}`
          : `Done: ${generation.count} ${word}`;
  return <p className={`small ${generation.status === 'failed' ? 'error-text' : 'muted'}`}>{text}</p>;
}

/** Shade of a loss: transparent at 0 nats, the full accent at LOSS_SCALE_MAX and above. */
function lossShade(loss: number): string {
  const share = Math.max(0, Math.min(1, loss / LOSS_SCALE_MAX));
  return `rgba(213, 94, 0, ${(0.85 * share).toFixed(3)})`;
}

/** A token as shown: line breaks get a visible mark (a shaded empty line would be invisible). */
function showToken(token: string): string {
  return token.replace(/\n/g, '↵\n');
}

function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

function TokenLoss({ slot, loss, trainContext }: { slot: SlotId; loss: LossState | null; trainContext: number }) {
  // Nothing before the first measurement: the slot stays short until it is asked for.
  if (!loss) return null;
  if (loss.status === 'failed') return <p className="small error-text">Per-token loss failed: {loss.message}</p>;
  if (loss.status === 'running' && loss.tokens.length === 0) return <p className="muted small">Measuring {loss.label}…</p>;
  // Token t + 1 is predicted at position t: the first token has no loss.
  const within = loss.losses.slice(0, trainContext - 1);
  const past = loss.losses.slice(trainContext - 1);
  return (
    <figure className="token-loss" aria-label={`Per-token loss, Model ${slot}`}>
      <figcaption className="small">
        {loss.label} from token {loss.start} of Persuasion: mean loss {mean(within).toFixed(2)} nats within the training context,{' '}
        {past.length ? mean(past).toFixed(2) : '–'} past it.
      </figcaption>
      <p className="token-text">
        {loss.tokens.map((token, t) => {
          const value = t > 0 ? loss.losses[t - 1] : undefined;
          return (
            <span key={t}>
              {t === trainContext && (
                <span className="window-mark" title={`Training context ends: ${trainContext} tokens`}>
                  C_train
                </span>
              )}
              <span
                className="token"
                data-loss={value === undefined ? '' : value.toFixed(3)}
                title={value === undefined ? 'first token: no prediction' : `${value.toFixed(2)} nats`}
                style={value === undefined ? undefined : { background: lossShade(value) }}
              >
                {showToken(token)}
              </span>
            </span>
          );
        })}
      </p>
    </figure>
  );
}

/** A shipped model's weights on their way into the worker, or why they did not arrive. */
function LoadStatus({ name, load }: { name: string; load: ShippedLoad | undefined }) {
  if (load?.status === 'loading') return <p className="muted small">Loading {name}’s weights…</p>;
  if (load?.status === 'failed')
    return (
      <p className="small error-text">
        Could not load {name}: {load.message}
      </p>
    );
  return null;
}

function Slot({ slot, controller, trainContext }: { slot: SlotId; controller: Controller; trainContext: number | null }) {
  const id = useId();
  const settings = useCompare((s) => s.slots[slot]);
  const setSlot = useCompare((s) => s.setSlot);
  const generation = useCompare((s) => s.generations[slot]);
  const loss = useCompare((s) => s.losses[slot]);
  const prompt = useCompare((s) => s.prompt);
  const variants = useApp((s) => s.variants);
  const shipped = useApp((s) => s.shipped);
  const meta = useApp((s) => s.meta);
  // Memoized: useApp compares shallowly, and each call makes new offer objects.
  const offers = useMemo(() => appOffers({ shipped, meta }), [shipped, meta]);
  const hubVariants = useCompare((s) => s.hubVariants);
  const choices = useMemo(() => slotChoices(variants, offers, hubVariants), [variants, offers, hubVariants]);
  const variant = slotVariant(settings, choices);
  const shippedModel = variant ? shippedName(variant.id) : null;
  const load = useCompare((s) => (shippedModel === null ? undefined : s.loads[shippedModel]));
  const hasRope = variant?.hasRope ?? false;
  const ropeOn = hasRope && settings.rope;
  const ready = useApp((s) => s.weights.kind === 'ready' && s.gpu.kind === 'ready');
  const pick = (value: string) => {
    setSlot(slot, { variant: value });
    // Lazily: a shipped model's weights go to the worker on its first pick (once the loaded model's are there).
    ensureShippedVariant(controller, value);
  };
  return (
    <fieldset className="slot">
      <legend>Model {slot}</legend>
      <p className="small slot-label">{trainContext === null ? '–' : slotLabel(settings, variant, trainContext, offers)}</p>
      <div className="slot-fields">
        <div className="field">
          <label htmlFor={`${id}-variant`}>Weights</label>
          <select id={`${id}-variant`} value={variant?.id ?? ''} onChange={(e) => pick(e.target.value)}>
            {variants.map((v) => (
              <option key={v.id} value={v.id}>
                {v.label}
              </option>
            ))}
            {offers.length > 0 && (
              <optgroup label="Other shipped models">
                {offers.map((o) => (
                  <option key={o.info.id} value={o.info.id}>
                    {o.info.label}
                  </option>
                ))}
              </optgroup>
            )}
            {hubVariants.length > 0 && (
              <optgroup label="From the Hub">
                {hubVariants.map((v) => (
                  <option key={v.id} value={v.id}>
                    {v.label}
                  </option>
                ))}
              </optgroup>
            )}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-scaling`}>Scaling</label>
          <select
            id={`${id}-scaling`}
            value={settings.scaling}
            disabled={!ropeOn}
            onChange={(e) => setSlot(slot, { scaling: e.target.value as Scaling })}
          >
            {SCALINGS.map((s) => (
              <option key={s} value={s}>
                {scalingLabel(s, trainContext)}
              </option>
            ))}
          </select>
        </div>
        <label className="check">
          <input type="checkbox" checked={ropeOn} disabled={!hasRope} onChange={(e) => setSlot(slot, { rope: e.target.checked })} />
          Rotary embeddings
        </label>
        {/* Visible text inside the accessible name (WCAG 2.5.3); "from Model A" tells the two apart. */}
        <button
          type="button"
          className="small-button"
          aria-label={`Remove rotary embeddings from Model ${slot}`}
          disabled={!ropeOn || !ready}
          onClick={() => dropRopeNow(controller, slot)}
        >
          Remove rotary embeddings
        </button>
      </div>
      {shippedModel !== null && <LoadStatus name={shippedModel} load={load} />}
      <Continuation slot={slot} generation={generation} prompt={prompt} />
      <GenerationStatus generation={generation} />
      {trainContext !== null && <TokenLoss slot={slot} loss={loss} trainContext={trainContext} />}
    </fieldset>
  );
}

export function ComparePanel({ controller }: { controller: Controller }) {
  const presenting = usePresentation();
  const prompt = useCompare((s) => s.prompt);
  const setPrompt = useCompare((s) => s.setPrompt);
  const maxTokens = useCompare((s) => s.maxTokens);
  const setMaxTokens = useCompare((s) => s.setMaxTokens);
  const running = useCompare((s) => SLOTS.some((slot) => s.generations[slot]?.status === 'running'));
  const measuring = useCompare((s) => SLOTS.some((slot) => s.losses[slot]?.status === 'running'));
  const ready = useApp((s) => s.weights.kind === 'ready' && s.gpu.kind === 'ready');
  const trainContext = useApp((s) => s.meta?.trainContext ?? null);
  const promptId = useId();
  const maxId = useId();
  return (
    <section className="card compare" aria-labelledby="compare-heading">
      <h2 id="compare-heading">Side by side</h2>
      <p className="muted small intro">
        Two models continue one prompt, token by token, and show where each loses track of a long text. Nothing runs until you press a
        button.
      </p>
      <Note>
        Greedy decoding: each new token is the model’s single most likely next token. “Remove rotary embeddings” during generation (or “Drop
        RoPE” above, for a slot running the current model with RoPE) applies to the tokens still to come: keys are cached before rotation,
        so the next step reads the same cache without rotary embeddings, with nothing recomputed.
      </Note>
      <div className="compare-top">
        <div className="field prompt-field">
          <label htmlFor={promptId}>Prompt</label>
          <textarea id={promptId} rows={2} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
        </div>
        <div className="compare-actions">
          {!presenting && (
            <div className="field row">
              <label htmlFor={maxId}>New tokens</label>
              <input
                id={maxId}
                type="number"
                min={1}
                max={256}
                value={maxTokens}
                onChange={(e) => setMaxTokens(Math.max(1, Math.min(256, Math.floor(Number(e.target.value) || 1))))}
              />
            </div>
          )}
          <button type="button" className="primary" disabled={!ready || prompt.trim() === ''} onClick={() => generateBoth(controller)}>
            Generate
          </button>
          <button type="button" disabled={!running} onClick={() => stopGeneration(controller)}>
            End generation
          </button>
          <button
            type="button"
            disabled={!ready || !trainContext || measuring}
            onClick={() => trainContext && measureLosses(controller, lossLength(trainContext), trainContext)}
          >
            Measure per-token loss
          </button>
        </div>
      </div>
      <Note>
        Per-token loss: each token of a passage of {trainContext ? lossLength(trainContext) : '4 × C_train'} tokens of Persuasion (4× the
        training context) is shaded by its loss, −ln p(token | the text before it): the darker, the more the model was surprised. The mark
        C_train is where the training context ends; a model that loses track of positions turns dark after it.
      </Note>
      <p className="muted small compare-status">
        {!ready ? 'Waiting for the model’s weights and WebGPU.' : ''}
        <span className="loss-key" aria-hidden="true">
          Loss shading: 0 <span className="loss-ramp" /> {LOSS_SCALE_MAX}+ nats
        </span>
      </p>
      <div className="slots">
        {SLOTS.map((slot) => (
          <Slot key={slot} slot={slot} controller={controller} trainContext={trainContext} />
        ))}
      </div>
    </section>
  );
}
