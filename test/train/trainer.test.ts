// Training on real WebGPU: the loss falls on a tiny model and text, a resumed run reproduces the
// uninterrupted one exactly, and a non-finite loss stops training before it touches the weights.

import { describe, expect, it } from 'vitest';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { LlamaModel } from '../../src/model/model.ts';
import { TokenStream } from '../../src/train/data.ts';
import { learningRate } from '../../src/train/schedule.ts';
import { NonFiniteError, Trainer, type TrainOptions } from '../../src/train/trainer.ts';
import { testEngine } from '../helpers/gpu.ts';
import { TINY_CONFIG as TINY_CONFIG_BASE } from '../helpers/tiny-config.ts';

// The shared tiny model (about 20k parameters: a training step takes a fraction of a second) at the
// usual init scale 0.02, which these training tests' expectations were set with.
const RAW_CONFIG = { ...TINY_CONFIG_BASE, initializer_range: 0.02 };

const TEXT =
  'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. '.repeat(8);
const data = new TokenStream(new TextEncoder().encode(TEXT));
const OPTIONS: TrainOptions = { steps: 40, ctx: 16, batch: 4, lr: 1e-2, warmup: 4, seed: 5, positions: { kind: 'rope' } };

async function freshTrainer(options = OPTIONS): Promise<Trainer> {
  const engine = await testEngine();
  const model = LlamaModel.fromCheckpoint(engine, initializeCheckpoint(RAW_CONFIG, 1));
  return new Trainer(model, data, options);
}

function dispose(trainer: Trainer): void {
  trainer.destroy();
  trainer.model.destroy();
}

describe('learning-rate schedule', () => {
  it('warms up linearly, then decays along a cosine to 0', () => {
    const s = { peak: 1, warmup: 4, total: 20 };
    expect(learningRate(0, s)).toBeCloseTo(0.25);
    expect(learningRate(3, s)).toBeCloseTo(1);
    expect(learningRate(12, s)).toBeCloseTo(0.5);
    expect(learningRate(20, s)).toBeCloseTo(0);
  });
});

describe('trainer', () => {
  it('lowers the loss on a repeated sentence within 40 steps', async () => {
    const trainer = await freshTrainer();
    while (!trainer.done) await trainer.trainStep();
    const losses = trainer.log.map((r) => r.loss);
    const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = losses.slice(-3).reduce((a, b) => a + b) / 3;
    // ln(256) = 5.55 at the start; a repeated sentence is learnable far below half of that.
    expect(first).toBeGreaterThan(5);
    expect(last).toBeLessThan(first - 2);
    dispose(trainer);
  });

  it('resumes from saved state exactly', async () => {
    const options = { ...OPTIONS, steps: 8 };
    const straight = await freshTrainer(options);
    while (!straight.done) await straight.trainStep();
    const expected = straight.log.map((r) => r.loss);
    dispose(straight);

    const first = await freshTrainer(options);
    for (let i = 0; i < 4; i++) await first.trainStep();
    const state = await first.saveState();
    const weights = await first.model.readWeights();
    dispose(first);

    const engine = await testEngine();
    const checkpoint = initializeCheckpoint(RAW_CONFIG, 1);
    const model = LlamaModel.fromCheckpoint(engine, { config: checkpoint.config, tensors: weights });
    const resumed = new Trainer(model, data, options);
    resumed.restoreState(state);
    expect(resumed.step).toBe(4);
    while (!resumed.done) await resumed.trainStep();
    expect(resumed.log.map((r) => r.loss)).toEqual(expected);
    dispose(resumed);
  });

  it('refuses to resume a run with other settings', async () => {
    const trainer = await freshTrainer({ ...OPTIONS, steps: 2 });
    await trainer.trainStep();
    const state = await trainer.saveState();
    dispose(trainer);
    const other = await freshTrainer({ ...OPTIONS, steps: 2, lr: 5e-3 });
    expect(() => other.restoreState(state)).toThrow(/lr/);
    expect(() => other.restoreState(new Uint8Array([1, 2, 3]))).toThrow();
    dispose(other);
  });

  it('stops on a non-finite loss without changing the weights', async () => {
    const trainer = await freshTrainer();
    const engine = trainer.model.engine;
    const name = 'model.layers.0.mlp.up_proj.weight';
    const poisoned = await engine.read(trainer.model.weights.get(name)!);
    poisoned[3] = NaN;
    engine.write(trainer.model.weights.get(name)!, poisoned);
    const before = await engine.read(trainer.model.weights.get('model.norm.weight')!);
    await expect(trainer.trainStep()).rejects.toBeInstanceOf(NonFiniteError);
    expect(trainer.step).toBe(0);
    expect(await engine.read(trainer.model.weights.get('model.norm.weight')!)).toEqual(before);
    dispose(trainer);
  });
});
