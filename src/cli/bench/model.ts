// Whole-model throughput at the shipped austen-* models' size (src/train/austen-config.json):
// a forward pass (next-token loss) on the tiled kernels against the same model on the
// straightforward baseline kernels, a full training step (forward, backward, AdamW) against
// the forward-only figure, and the forward at each storage precision against f32.

import type { Engine } from '../../engine/engine.ts';
import { Rng } from '../../engine/random.ts';
import { initializeCheckpoint } from '../../model/init.ts';
import { LlamaModel } from '../../model/model.ts';
import { F16_STORAGE, F16_WEIGHTS_STORAGE, F32_STORAGE, type StorageFormat } from '../../model/precision.ts';
import austenConfig from '../../train/austen-config.json';
import { TokenStream } from '../../train/data.ts';
import { Trainer } from '../../train/trainer.ts';

const SHAPE = { B: 16, T: 64 };
const MODEL = 'd=128, 4 layers, 4 heads (head dim 32), MLP 352, vocab 256';

function randomIds(n: number, vocab: number): number[] {
  const rng = new Rng(7);
  return Array.from({ length: n }, () => rng.int(0, vocab - 1));
}

async function forwardTokensPerSecond(model: LlamaModel, iterations: number): Promise<number> {
  const { B, T } = SHAPE;
  const ids = randomIds(B * T, model.config.vocabSize);
  await model.nll(ids, B, T); // warm-up: pipelines and buffers
  const start = performance.now();
  for (let i = 0; i < iterations; i++) await model.nll(ids, B, T);
  return (B * T * iterations) / ((performance.now() - start) / 1000);
}

export async function benchForward(engine: Engine, iterations = 3) {
  const checkpoint = initializeCheckpoint(austenConfig, 1);
  const tiled = LlamaModel.fromCheckpoint(engine, checkpoint);
  const baseline = LlamaModel.fromCheckpoint(engine, checkpoint, { baselineKernels: true });
  try {
    const ours = await forwardTokensPerSecond(tiled, iterations);
    const naive = await forwardTokensPerSecond(baseline, iterations);
    return {
      adapter: engine.adapterName,
      model: MODEL,
      batch: SHAPE.B,
      seq_len: SHAPE.T,
      tokens_per_s: Math.round(ours),
      baseline_tokens_per_s: Math.round(naive),
      ratio_vs_baseline: Number((ours / naive).toFixed(2)),
    };
  } finally {
    tiled.destroy();
    baseline.destroy();
  }
}

export async function benchTraining(engine: Engine, steps = 3) {
  const model = LlamaModel.fromCheckpoint(engine, initializeCheckpoint(austenConfig, 1));
  const data = new TokenStream(randomIds(1 << 16, model.config.vocabSize));
  const trainer = new Trainer(model, data, {
    steps: steps + 1,
    ctx: SHAPE.T,
    batch: SHAPE.B,
    lr: 1e-3,
    warmup: 1,
    seed: 1,
    positions: { kind: 'rope' },
  });
  try {
    const forward = await forwardTokensPerSecond(model, steps);
    await trainer.trainStep(); // warm-up: backward and optimizer pipelines
    const start = performance.now();
    for (let i = 0; i < steps; i++) await trainer.trainStep();
    const training = (SHAPE.B * SHAPE.T * steps) / ((performance.now() - start) / 1000);
    return {
      adapter: engine.adapterName,
      model: MODEL,
      batch: SHAPE.B,
      seq_len: SHAPE.T,
      train_step_tokens_per_s: Math.round(training),
      forward_tokens_per_s: Math.round(forward),
      train_vs_forward: Number((training / forward).toFixed(2)),
    };
  } finally {
    trainer.destroy();
    model.destroy();
  }
}

/**
 * The forward at f32, with f16 weights, and (where the adapter has shader-f16) with f16 weights
 * and activations: tokens/s and GPU bytes (weights, and the activations of one pass), each against
 * f32. Half precision is about memory first; whether it is faster depends on the adapter (a CPU
 * adapter converts every value; a GPU moves half the bytes).
 */
export async function benchPrecision(engine: Engine, iterations = 3) {
  const checkpoint = initializeCheckpoint(austenConfig, 1);
  const formats: [string, StorageFormat][] = [
    ['f32', F32_STORAGE],
    ['f16_weights', F16_WEIGHTS_STORAGE],
    ...(engine.supportsF16 ? [['f16', F16_STORAGE] as [string, StorageFormat]] : []),
  ];
  const rows: Record<string, { tokens_per_s: number; weight_bytes: number; activation_bytes: number }> = {};
  for (const [name, storage] of formats) {
    const before = engine.bytesAllocated;
    const model = LlamaModel.fromCheckpoint(engine, checkpoint, storage);
    const weightBytes = engine.bytesAllocated - before;
    try {
      const tokensPerSecond = await forwardTokensPerSecond(model, iterations);
      rows[name] = {
        tokens_per_s: Math.round(tokensPerSecond),
        weight_bytes: weightBytes,
        activation_bytes: engine.bytesAllocated - before - weightBytes,
      };
    } finally {
      model.destroy();
    }
  }
  const vsF32 = Object.fromEntries(
    Object.entries(rows).map(([name, r]) => [
      name,
      {
        speed: Number((r.tokens_per_s / rows.f32.tokens_per_s).toFixed(2)),
        weight_bytes: Number((r.weight_bytes / rows.f32.weight_bytes).toFixed(2)),
        activation_bytes: Number((r.activation_bytes / rows.f32.activation_bytes).toFixed(2)),
      },
    ]),
  );
  return {
    adapter: engine.adapterName,
    model: MODEL,
    batch: SHAPE.B,
    seq_len: SHAPE.T,
    ...rows,
    vs_f32: vsF32,
    ...(engine.supportsF16
      ? {}
      : { note: 'no shader-f16 on this adapter: f16 activations not measured (WEBGPU_ADAPTER=llvmpipe for lavapipe)' }),
  };
}
