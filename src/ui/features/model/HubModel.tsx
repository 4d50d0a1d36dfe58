// "Hugging Face model": load any Llama-architecture checkpoint from the Hub by id (ORG/NAME) as the
// current model. config.json comes first and the page estimates the GPU memory the model needs at
// the longest evaluated length (src/ui/features/model/hub-memory.ts) against the adapter's buffer limits; the
// weights then download in the worker with progress, into Cache Storage (src/ui/features/model/hub-cache.ts), so
// a second load is instant. The Hub's base URL is a setting (a mirror, or a test server), kept in
// localStorage. So is the Precision (src/model/precision.ts): Automatic stores f16 weights and
// activations where the adapter has shader-f16 and f32 elsewhere; f32 is exact and trainable.
// When the weights do not fit as f32 but would as f16 weights on an adapter without shader-f16
// (half the memory, e.g. SmolLM-360M's 189 MB embedding table under a 128 MB buffer limit), the
// card offers "Load with f16 weights" for that model; with shader-f16 the message suggests f16
// weights and activations instead.
//
// "Compare with the current model" loads the id in the field *beside* the current model instead
// (Controller.compareHubModel, src/ui/features/side-by-side/hub-variants.ts): same memory check, with a sentence
// on the current model's weights that stay on the GPU, the same download progress, then the model
// is selected in the second slot of Side by side (nothing scrolls). The paper's pair: load
// HuggingFaceTB/SmolLM-360M, then compare SakanaAI/SmolLM-360M-DroPE with it.

import { useState } from 'react';
import type { Controller } from '../../controller.ts';
import {
  F16_WEIGHTS_STORAGE,
  F32_STORAGE,
  PRECISION_CHOICES,
  resolvePrecision,
  sameStorage,
  type PrecisionChoice,
  type StorageFormat,
} from '../../../model/precision.ts';
import { DEFAULT_HUB_ENDPOINT } from '../../../model/source-hub.ts';
import { formatBytes } from '../../../model/format-bytes.ts';
import { FitError, precisionNote } from './hub-memory.ts';
import { useApp } from '../../store/store.ts';

export const HUB_ENDPOINT_KEY = 'drope-playground.hub-endpoint';
export const HUB_PRECISION_KEY = 'drope-playground.hub-precision';

function storedEndpoint(): string {
  try {
    return localStorage.getItem(HUB_ENDPOINT_KEY) || DEFAULT_HUB_ENDPOINT;
  } catch {
    return DEFAULT_HUB_ENDPOINT;
  }
}

function storedPrecision(): PrecisionChoice {
  try {
    const value = localStorage.getItem(HUB_PRECISION_KEY);
    return PRECISION_CHOICES.find((c) => c === value) ?? 'auto';
  } catch {
    return 'auto';
  }
}

function store(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Storage off: the setting lasts until the page reloads.
  }
}

/** What each Precision choice means, under the select. */
const PRECISION_HINTS: Record<PrecisionChoice, string> = {
  auto: 'f16 weights and activations where this GPU has shader-f16, f32 otherwise.',
  f32: 'Exact: the numbers transformers gives in float32; recalibration possible.',
  f16: 'Half the GPU memory, as transformers in float16: values stored in half precision, arithmetic in f32. Results shift slightly with the rounding; inference only.',
};

/** A file on its way: the name, bytes so far and the Content-Length, when known. */
interface Download {
  file: string | null;
  loaded: number;
  total: number | undefined;
}

type Phase =
  | { kind: 'idle' }
  | { kind: 'checking'; id: string }
  | ({ kind: 'loading'; id: string; fit: string; fits: boolean } & Download)
  /** Beside the current model (side by side): running until the worker's variant arrives. */
  | ({ kind: 'comparing'; id: string; fit: string; fits: boolean; done: boolean } & Download)
  | { kind: 'failed'; message: string };

type Action = 'load' | 'compare';

export function HubModelCard({ controller }: { controller: Controller }) {
  const [id, setId] = useState('');
  const [endpoint, setEndpoint] = useState(storedEndpoint);
  const [precision, setPrecision] = useState(storedPrecision);
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  /** The model id for which f16 weights were offered (f32 does not fit, f16 does), and the choice. */
  const [f16Offer, setF16Offer] = useState<string | null>(null);
  const [useF16, setUseF16] = useState(true);
  const gpuReady = useApp((s) => s.gpu.kind === 'ready');
  const adapterName = useApp((s) => (s.gpu.kind === 'ready' ? s.gpu.adapter.name : null));
  const shaderF16 = useApp((s) => s.gpu.kind === 'ready' && s.gpu.adapter.shaderF16);
  const weights = useApp((s) => s.weights);
  const hubName = phase.kind === 'loading' ? `hf:${phase.id}` : null;
  const mine = hubName !== null && 'name' in weights && weights.name === hubName;
  const comparing = phase.kind === 'comparing' && !phase.done;
  const busy = phase.kind === 'checking' || (mine && weights.kind === 'loading') || comparing;

  const changeEndpoint = (value: string) => {
    setEndpoint(value);
    store(HUB_ENDPOINT_KEY, value);
  };
  const changePrecision = (value: PrecisionChoice) => {
    setPrecision(value);
    store(HUB_PRECISION_KEY, value);
  };

  const start = async (action: Action) => {
    const wanted = id.trim();
    setPhase({ kind: 'checking', id: wanted });
    const hub = endpoint.trim() || DEFAULT_HUB_ENDPOINT;
    // Download progress of this request only: a later one replaces the phase.
    const progress = (kind: 'loading' | 'comparing') => (file: string, loaded: number, total: number | undefined) =>
      setPhase((p) => (p.kind === kind && p.id === wanted ? { ...p, file, loaded, total } : p));
    try {
      // Without a ready GPU the controller says so; the format does not matter then.
      let format: StorageFormat = adapterName === null ? F32_STORAGE : resolvePrecision(precision, shaderF16, adapterName);
      // f32 that did not fit, with "Load with f16 weights" offered and kept checked.
      if (sameStorage(format, F32_STORAGE) && f16Offer === wanted && useF16) format = F16_WEIGHTS_STORAGE;
      const idle: Download = { file: null, loaded: 0, total: undefined };
      if (action === 'load') {
        const report = await controller.models.loadHubModel(wanted, hub, progress('loading'), format);
        if (report.f16WouldFit) setF16Offer(wanted);
        const fit = `${report.message} ${precisionNote(precision, format, shaderF16)}`;
        setPhase({ kind: 'loading', id: wanted, fit, fits: report.fits, ...idle });
      } else {
        const onEnd = (result: { variant: unknown } | { message: string }) =>
          setPhase((p) => {
            if (p.kind !== 'comparing' || p.id !== wanted) return p;
            return 'message' in result ? { kind: 'failed', message: `Cannot compare ${wanted}: ${result.message}` } : { ...p, done: true };
          });
        // The phase is set before the request can end (its events come in a later task).
        const { report, current } = await controller.models.compareHubModel(
          wanted,
          hub,
          { onDownload: progress('comparing'), onEnd },
          format,
        );
        if (report.f16WouldFit) setF16Offer(wanted);
        const fit = `${report.message} ${current} ${precisionNote(precision, format, shaderF16)}`;
        setPhase({ kind: 'comparing', id: wanted, fit, fits: report.fits, done: false, ...idle });
      }
    } catch (error) {
      if (error instanceof FitError && error.report.f16WouldFit) setF16Offer(wanted);
      const verb = action === 'load' ? 'load' : 'compare';
      setPhase({ kind: 'failed', message: `Cannot ${verb} ${wanted || 'the model'}: ${(error as Error).message}` });
    }
  };

  const downloading = (p: Download, otherwise: string) =>
    p.file ? `Downloading ${p.file}: ${formatBytes(p.loaded)}${p.total !== undefined ? ` of ${formatBytes(p.total)}` : ''}` : otherwise;
  let status = '';
  if (phase.kind === 'checking') status = `Reading config.json of ${phase.id}…`;
  else if (phase.kind === 'comparing') {
    status = phase.done
      ? `${phase.id} is loaded beside the current model and selected in Side by side.`
      : downloading(phase, `Loading ${phase.id} beside the current model…`);
  } else if (phase.kind === 'loading' && mine) {
    if (weights.kind === 'loading') {
      status = downloading(phase, `Loading ${phase.id}…`);
    } else if (weights.kind === 'ready')
      status = `Current model: ${hubName} (${weights.summary.parameters.toLocaleString('en-US')} parameters).`;
  }
  const error =
    phase.kind === 'failed'
      ? phase.message
      : phase.kind === 'loading' && mine && weights.kind === 'failed'
        ? `Cannot load ${phase.id}: ${weights.message}`
        : null;

  return (
    <section className="card" aria-labelledby="hub-heading">
      <h2 id="hub-heading">From the Hugging Face Hub</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void start('load');
        }}
      >
        <div className="field">
          <label htmlFor="hub-model">Hugging Face model</label>
          <input
            id="hub-model"
            type="text"
            placeholder="HuggingFaceTB/SmolLM-135M"
            spellCheck={false}
            autoComplete="off"
            value={id}
            onChange={(e) => setId(e.target.value)}
            aria-describedby="hub-model-hint"
          />
          <span id="hub-model-hint" className="hint">
            A Llama-architecture model with safetensors weights, by id (ORG/NAME). Downloads are cached in this browser.
          </span>
        </div>
        {f16Offer !== null && f16Offer === id.trim() && (
          <div className="field">
            <label>
              <input type="checkbox" checked={useF16} onChange={(e) => setUseF16(e.target.checked)} aria-describedby="hub-f16-hint" /> Load
              with f16 weights
            </label>
            <span id="hub-f16-hint" className="hint">
              Half the GPU memory: weight matrices stored in half precision, arithmetic in f32. Results shift slightly with the rounding;
              recalibration needs f32 weights.
            </span>
          </div>
        )}
        <div className="actions">
          <button type="submit" disabled={!gpuReady || busy || id.trim() === ''}>
            Load from the Hub
          </button>
          {/* Its name must stay clear of the page's contract names (no "Model A"/"Model B" in it). */}
          <button
            type="button"
            disabled={!gpuReady || busy || id.trim() === ''}
            onClick={() => void start('compare')}
            aria-describedby="hub-compare-hint"
          >
            Compare with the current model
          </button>
        </div>
        <p id="hub-compare-hint" className="hint">
          Compare: loads it beside the current model (same vocabulary and tokenizer) and selects it in Side by side.
        </p>
        <details className="small">
          <summary>Hub settings</summary>
          <div className="field">
            <label htmlFor="hub-endpoint">Hub base URL</label>
            <input id="hub-endpoint" type="url" spellCheck={false} value={endpoint} onChange={(e) => changeEndpoint(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="hub-precision">Precision</label>
            <select
              id="hub-precision"
              value={precision}
              onChange={(e) => changePrecision(e.target.value as PrecisionChoice)}
              aria-describedby="hub-precision-hint"
            >
              <option value="auto">Automatic</option>
              <option value="f32">f32</option>
              <option value="f16" disabled={!shaderF16}>
                f16 weights and activations
              </option>
            </select>
            <span id="hub-precision-hint" className="hint">
              {PRECISION_HINTS[precision]}
              {adapterName !== null &&
                !shaderF16 &&
                ` f16 weights and activations need the GPU feature shader-f16, which ${adapterName} does not have (f16 weights alone are offered when f32 does not fit).`}
            </span>
          </div>
        </details>
      </form>
      {(phase.kind === 'loading' || phase.kind === 'comparing') &&
        (phase.kind === 'comparing' ? comparing : mine && weights.kind === 'loading') &&
        phase.total !== undefined && <progress aria-label="Download progress" max={phase.total || 1} value={phase.loaded} />}
      {((phase.kind === 'loading' && mine) || phase.kind === 'comparing') && (
        <p className={phase.fits ? 'small muted' : 'small error-text'} data-testid="hub-memory">
          {phase.fit}
        </p>
      )}
      <p className="small muted" role="status" data-testid="hub-status">
        {status}
      </p>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
