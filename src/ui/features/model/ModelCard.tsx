// The "Model" card: which shipped model (the URL's `model`), what its config says, and how many
// held-out tokens each evaluated length scores. Accessible names are a contract with the e2e tests.

import { EVAL_TOKEN_CHOICES } from '../../store/url-state.ts';
import { useApp } from '../../store/store.ts';

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
