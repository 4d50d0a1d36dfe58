// `generate`: greedy continuation of a prompt with the KV cache (LlamaModel.prefill, then one
// decode step per token). `--drop-at K` switches the position mode to none after K generated
// tokens, as the app's "Drop RoPE" does mid-generation: the cache keeps its keys unrotated, so the
// switch costs nothing.

import { formatPositionMode, type PositionMode } from '../model/positions.ts';
import { loadTokenizer } from '../model/tokenizer.ts';
import {
  attentionWindow,
  integerIn,
  MAX_TOKENS,
  modelSource,
  number,
  numberIn,
  openModel,
  positions,
  progress,
  progressDone,
  required,
  UsageError,
  type Args,
} from './args.ts';

const NONE: PositionMode = { kind: 'none' };

/** Index of the largest logit (the first on ties). */
function argmax(logits: Float32Array): number {
  let best = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
  return best;
}

export async function generate(args: Args): Promise<void> {
  const prompt = required(args, 'prompt');
  const count = number(required(args, 'tokens'), 'tokens', NaN, integerIn(1, MAX_TOKENS));
  const dropAt = args['drop-at'] === undefined ? undefined : number(args['drop-at'], 'drop-at', NaN, integerIn(0, count));
  const beta = number(args.beta, 'beta', 1, numberIn(0, 1000));
  const window = attentionWindow(args);
  const pos = positions(args);
  const source = modelSource(required(args, 'model'));
  const tokenizer = await loadTokenizer(source);
  const ids = tokenizer.encode(prompt);
  if (ids.length === 0) throw new UsageError('--prompt encodes to no tokens');
  const { engine, model } = await openModel(args, source);
  try {
    const mode = pos ?? model.defaultPositions;
    // Generated token s (from 0) comes from the logits of the step that fed token s - 1.
    const optionsFor = (s: number) => ({ positions: dropAt !== undefined && s >= dropAt ? NONE : mode, beta, window });
    const cache = model.createKvCache(ids.length + count);
    const started = performance.now();
    let logits = await model.prefill(cache, ids, optionsFor(0));
    const prefillMs = performance.now() - started;
    const generated: number[] = [];
    for (let s = 0; s < count; s++) {
      generated.push(argmax(logits));
      if (s + 1 < count) logits = await model.decode(cache, [generated[s]], optionsFor(s + 1));
      progress(`generate: ${s + 1}/${count} tokens`);
    }
    const decodeMs = performance.now() - started - prefillMs;
    progressDone();
    cache.destroy();
    const text = tokenizer.decode(generated);
    const msPerToken = count > 1 ? decodeMs / (count - 1) : 0;
    progress(`generate: prefill ${ids.length} tokens in ${prefillMs.toFixed(0)} ms, ${msPerToken.toFixed(1)} ms per decoded token`);
    progressDone();
    if (args.json) {
      console.log(
        JSON.stringify({
          prompt_tokens: ids.length,
          generated_ids: generated,
          text,
          positions: formatPositionMode(mode),
          drop_at: dropAt ?? null,
          window: window ?? null,
          beta,
          prefill_ms: prefillMs,
          decode_ms_per_token: msPerToken,
          adapter: engine.adapterName,
        }),
      );
    } else {
      console.log(prompt + text);
    }
  } finally {
    engine.destroy();
  }
}
