// Per-token generation at sequence length T: one decode step with the KV cache (LlamaModel.decode
// after a prefill of T tokens) against re-running the forward over the whole sequence for the next
// token's logits (LlamaModel.lastLogits, what generation did before the cache), same model, same
// run. cachedOverRecompute is the speed-up, recomputeMsPerToken / cachedMsPerToken (tokens per
// second with the cache over tokens per second without, as ratio_vs_baseline in the forward section).
// The `decode` section runs it at the shipped austen-* models' size (src/train/austen-config.json);
// the `smollm` section (bench/real-size.ts) at SmolLM's.

import type { Engine } from '../../engine/engine.ts';
import { Rng } from '../../engine/random.ts';
import { initializeCheckpoint } from '../../model/init.ts';
import { LlamaModel } from '../../model/model.ts';
import austenConfig from '../../train/austen-config.json';

const MODEL = 'd=128, 4 layers, 4 heads (head dim 32), MLP 352, vocab 256';
const LENGTHS = [256, 1024];

export interface DecodeFigures {
  T: number;
  cachedMsPerToken: number;
  recomputeMsPerToken: number;
  cachedOverRecompute: number;
}

/**
 * Cached and recomputed milliseconds per token at each length T, timing `cachedSteps` decode steps
 * and `recomputeSteps` full forwards (decode steps are cheap; a recompute at 1024 takes seconds on
 * SwiftShader).
 */
export async function decodeFigures(model: LlamaModel, lengths: number[], cachedSteps = 16, recomputeSteps = 3): Promise<DecodeFigures[]> {
  const options = { positions: { kind: 'rope' } as const };
  const rng = new Rng(11);
  const results: DecodeFigures[] = [];
  for (const T of lengths) {
    const ids = Array.from({ length: T + cachedSteps + 1 }, () => rng.int(0, model.config.vocabSize - 1));
    const cache = model.createKvCache(ids.length);
    await model.prefill(cache, ids.slice(0, T), options);
    await model.decode(cache, [ids[T]], options); // warm-up: pipelines and the decode buffers
    let start = performance.now();
    for (let i = 1; i <= cachedSteps; i++) await model.decode(cache, [ids[T + i]], options);
    const cachedMsPerToken = (performance.now() - start) / cachedSteps;
    cache.destroy();

    await model.lastLogits(ids.slice(0, T), 1, T, options); // warm-up at this length
    start = performance.now();
    for (let i = 1; i <= recomputeSteps; i++) await model.lastLogits(ids.slice(0, T + i), 1, T + i, options);
    const recomputeMsPerToken = (performance.now() - start) / recomputeSteps;
    results.push({
      T,
      cachedMsPerToken: Number(cachedMsPerToken.toFixed(2)),
      recomputeMsPerToken: Number(recomputeMsPerToken.toFixed(2)),
      cachedOverRecompute: Number((recomputeMsPerToken / cachedMsPerToken).toFixed(1)),
    });
    process.stderr.write(`bench: decode T=${T}: ${JSON.stringify(results.at(-1))}\n`);
  }
  return results;
}

export async function benchDecode(engine: Engine) {
  const model = LlamaModel.fromCheckpoint(engine, initializeCheckpoint(austenConfig, 1));
  try {
    return { adapter: engine.adapterName, model: MODEL, positions: 'rope', results: await decodeFigures(model, LENGTHS) };
  } finally {
    model.destroy();
  }
}
