// Where the GPU's time goes: a SmolLM-shaped model (BENCH_SHAPE, default SmolLM-360M; random
// weights) profiled with timestamp-query (Engine.beginProfile), kernel by kernel, for the forward
// over T tokens with the loss (a perplexity pass) and for KV-cached decode steps after a prefill of
// T, at each T of BENCH_LENGTHS. Times are GPU time per call summed over the pass; each dispatch runs
// in a pass of its own while profiled, so read throughput from the `smollm` section, not from here.

import type { Engine, KernelTime } from '../../engine/engine.ts';
import { Rng } from '../../engine/random.ts';
import { initializeCheckpoint } from '../../model/init.ts';
import { LlamaModel } from '../../model/model.ts';
import { isPublishedModel, PUBLISHED_CONFIGS, publishedConfig } from '../../model/published-configs.ts';
import { UsageError } from '../args.ts';
import { lengthsFromEnv, weightsThatFit } from './real-size.ts';

const DECODE_STEPS = 8;

interface ProfileRow extends KernelTime {
  /** Percent of the pass's GPU time. */
  share: number;
}

function withShares(rows: KernelTime[]): { total_ms: number; kernels: ProfileRow[] } {
  const total = rows.reduce((sum, r) => sum + r.ms, 0);
  return {
    total_ms: Number(total.toFixed(2)),
    kernels: rows.map((r) => ({ ...r, ms: Number(r.ms.toFixed(3)), share: Number(((100 * r.ms) / total).toFixed(1)) })),
  };
}

/** The profile as a Markdown table (the README's kernel time table), the first `top` rows. */
export function profileTable(rows: ProfileRow[], top = 8): string {
  const lines = ['| kernel | writes ← reads | calls | GPU ms | share |', '|---|---|--:|--:|--:|'];
  for (const r of rows.slice(0, top))
    lines.push(`| ${r.kernel} | ${r.bindings} | ${r.calls} | ${r.ms.toFixed(1)} | ${r.share.toFixed(1)}% |`);
  return lines.join('\n');
}

export async function benchProfile(engine: Engine) {
  const shape = process.env.BENCH_SHAPE ?? 'SmolLM-360M';
  if (!isPublishedModel(shape))
    throw new UsageError(`BENCH_SHAPE must be one of ${Object.keys(PUBLISHED_CONFIGS).join(', ')}, got "${shape}"`);
  const lengths = lengthsFromEnv();
  process.stderr.write(`bench: profile ${shape}: random weights...\n`);
  const checkpoint = initializeCheckpoint(publishedConfig(shape), 1);
  const weights = weightsThatFit(engine, checkpoint.config);
  const model = LlamaModel.fromCheckpoint(engine, checkpoint, { weights });
  const options = { positions: { kind: 'rope' } as const };
  const rng = new Rng(7);
  const results = [];
  try {
    for (const T of lengths) {
      const ids = Array.from({ length: T + DECODE_STEPS + 1 }, () => rng.int(0, checkpoint.config.vocabSize - 1));
      await model.nll(ids.slice(0, T), 1, T, options); // warm-up: pipelines and buffers
      engine.beginProfile();
      await model.nll(ids.slice(0, T), 1, T, options);
      const forward = withShares(await engine.endProfile());

      const cache = model.createKvCache(ids.length);
      try {
        await model.prefill(cache, ids.slice(0, T), options);
        await model.decode(cache, [ids[T]], options); // warm-up of the decode pipelines
        engine.beginProfile();
        for (let i = 1; i <= DECODE_STEPS; i++) await model.decode(cache, [ids[T + i]], options);
        const decode = withShares(await engine.endProfile());
        results.push({ T, forward, decode: { steps: DECODE_STEPS, ...decode } });
      } finally {
        cache.destroy();
      }
      process.stderr.write(
        `bench: profile ${shape} T=${T}, forward (${forward.total_ms} ms on the GPU):\n${profileTable(forward.kernels)}\n`,
      );
      process.stderr.write(
        `bench: profile ${shape} T=${T}, ${DECODE_STEPS} decode steps:\n${profileTable(results.at(-1)!.decode.kernels)}\n`,
      );
    }
  } finally {
    model.destroy();
  }
  return { adapter: engine.adapterName, shape, weights, results };
}
