// The whole model at the paper's base models' shapes (SmolLM-135M and -360M: published configs,
// random weights, src/model/published-configs.ts). For each shape and length T: the forward over T
// tokens (next-token loss) in tokens/s and achieved GFLOP/s on the tiled kernels against the
// baseline kernels in the same run, and per-token decoding with the KV cache against re-running the
// forward (bench/decode.ts). Lengths come from BENCH_LENGTHS (default 256,1024,4096, for a GPU; on
// a CPU adapter pass a short one, e.g. BENCH_LENGTHS=64: a 360M forward is ~0.7 GFLOP a token).

import type { Engine } from '../../engine/engine.ts';
import { Rng } from '../../engine/random.ts';
import type { ModelConfig } from '../../model/config.ts';
import { initializeCheckpoint } from '../../model/init.ts';
import { LlamaModel } from '../../model/model.ts';
import { publishedConfig, type PublishedModel } from '../../model/published-configs.ts';
import { UsageError } from '../args.ts';
import { decodeFigures } from './decode.ts';

const SHAPES: PublishedModel[] = ['SmolLM-135M', 'SmolLM-360M'];

export function lengthsFromEnv(): number[] {
  const text = process.env.BENCH_LENGTHS ?? '256,1024,4096';
  const lengths = text.split(',').map(Number);
  if (!lengths.every((n) => Number.isInteger(n) && n >= 2 && n <= 32768)) {
    throw new UsageError(`BENCH_LENGTHS must be comma-separated integers in 2..32768, got "${text}"`);
  }
  return lengths;
}

/**
 * Multiply-adds ×2 of a forward over T tokens with the loss: every projection and the LM head
 * (2 FLOPs per weight per token) and attention's QK^T and PV over the causal half (2·2·H·D per
 * query–key pair, T(T+1)/2 pairs a layer). Norms, activations and softmax are left out (small).
 */
export function forwardFlops(config: ModelConfig, T: number): number {
  const { hiddenSize: C, intermediateSize: I, numLayers: L, numHeads: H, numKvHeads: KVH, headDim: D, vocabSize: V } = config;
  const perTokenWeights = L * (C * H * D * 2 + C * KVH * D * 2 + 3 * C * I) + V * C;
  return 2 * perTokenWeights * T + L * 4 * H * D * ((T * (T + 1)) / 2);
}

/** f16 weights where the f32 embedding table exceeds the adapter's binding limit (360M under 128 MiB), as the page loads it. */
export function weightsThatFit(engine: Engine, config: ModelConfig): 'f32' | 'f16' {
  const limit = Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize);
  return 4 * config.vocabSize * config.hiddenSize <= limit ? 'f32' : 'f16';
}

async function forwardSeconds(model: LlamaModel, T: number, iterations: number): Promise<number> {
  const rng = new Rng(5);
  const ids = Array.from({ length: T }, () => rng.int(0, model.config.vocabSize - 1));
  await model.nll(ids, 1, T); // warm-up: pipelines and buffers
  const start = performance.now();
  for (let i = 0; i < iterations; i++) await model.nll(ids, 1, T);
  return (performance.now() - start) / 1000 / iterations;
}

export async function benchRealSize(engine: Engine) {
  const lengths = lengthsFromEnv();
  const models = [];
  for (const shape of SHAPES) {
    process.stderr.write(`bench: smollm ${shape}: random weights...\n`);
    const checkpoint = initializeCheckpoint(publishedConfig(shape), 1);
    const weights = weightsThatFit(engine, checkpoint.config);
    const forward: { kernels: 'tiled' | 'baseline'; T: number; tokens_per_s: number; gflop_per_s: number }[] = [];
    for (const [baseline, label] of [
      [false, 'tiled'],
      [true, 'baseline'],
    ] as const) {
      const model = LlamaModel.fromCheckpoint(engine, checkpoint, { baselineKernels: baseline, weights });
      try {
        for (const T of lengths) {
          const seconds = await forwardSeconds(model, T, 2);
          const row = {
            kernels: label,
            T,
            tokens_per_s: Math.round(T / seconds),
            gflop_per_s: Number((forwardFlops(checkpoint.config, T) / seconds / 1e9).toFixed(1)),
          };
          process.stderr.write(`bench: smollm ${shape} forward ${JSON.stringify(row)}\n`);
          forward.push(row);
        }
      } finally {
        model.destroy();
      }
    }
    const tiled = forward.filter((r) => r.kernels === 'tiled');
    const ratios = tiled.map((r) => ({
      T: r.T,
      ratio_vs_baseline: Number((r.tokens_per_s / forward.find((b) => b.kernels === 'baseline' && b.T === r.T)!.tokens_per_s).toFixed(2)),
    }));
    const model = LlamaModel.fromCheckpoint(engine, checkpoint, { weights });
    try {
      models.push({ shape, weights, forward, forward_vs_baseline: ratios, decode: await decodeFigures(model, lengths, 8, 2) });
    } finally {
      model.destroy();
    }
  }
  return { adapter: engine.adapterName, lengths, models };
}
