// The training loop on our kernels: forward, backward, global gradient-norm clipping and AdamW
// (beta1 0.9, beta2 0.95, eps 1e-8, decoupled weight decay 0.1, none on norm gains), with a
// warm-up + cosine schedule. A seed fixes the data order; the optimizer state, the step and the
// data RNG's state are saved with each checkpoint, so a resumed run continues exactly.

import type { Engine } from '../engine/engine.ts';
import { adamwStep, clipScale, globalGradNorm, sumOfSquares } from '../engine/ops/adamw.ts';
import { Rng } from '../engine/random.ts';
import type { Tensor } from '../engine/tensor.ts';
import type { LlamaModel } from '../model/model.ts';
import { formatPositionMode, type PositionMode } from '../model/positions.ts';
import { writeSafetensors, type WritableTensor } from '../model/safetensors.ts';
import type { RecordsMixture } from '../eval/records.ts';
import type { TokenStream } from './data.ts';
import { learningRate } from './schedule.ts';
import { parseTrainerState, TRAINER_STATE_FORMAT, TRAINER_STATE_VERSION, type StepRecord } from './trainer-state.ts';

export { TRAINER_STATE_FILE, type StepRecord } from './trainer-state.ts';

export interface TrainOptions {
  steps: number;
  /** Training context: every window has this many tokens. */
  ctx: number;
  batch: number;
  lr: number;
  warmup: number;
  seed: number;
  positions: PositionMode;
  /** The records task mixed into the text (src/eval/records.ts); null: plain text. */
  records?: RecordsMixture | null;
  weightDecay?: number;
  maxGradNorm?: number;
}

/** Training stopped because the loss or the gradient is not finite; weights are untouched by it. */
export class NonFiniteError extends Error {
  constructor(
    readonly step: number,
    loss: number,
    norm: number,
  ) {
    super(`step ${step}: the loss (${loss}) or the gradient norm (${norm}) is not finite; training stopped before applying it`);
  }
}

const TRAIN_DEFAULTS = { weightDecay: 0.1, maxGradNorm: 1.0, records: null };

/** The options a saved state must have been trained with for a run with `options` to resume from it. */
export function resumedOptions(options: TrainOptions): Record<string, unknown> {
  const { ctx, batch, lr, warmup, seed, steps, weightDecay, maxGradNorm, records } = { ...TRAIN_DEFAULTS, ...options };
  return { ctx, batch, lr, warmup, seed, steps, weightDecay, maxGradNorm, records, positions: formatPositionMode(options.positions) };
}

export class Trainer {
  readonly model: LlamaModel;
  readonly options: Required<TrainOptions>;
  private readonly engine: Engine;
  private readonly data: TokenStream;
  private readonly rng: Rng;
  private readonly moments = new Map<string, { m: Tensor; v: Tensor }>();
  private readonly squares: Tensor;
  /** Steps completed. */
  step = 0;
  readonly log: StepRecord[] = [];

  constructor(model: LlamaModel, data: TokenStream, options: TrainOptions) {
    model.assertTrainable();
    this.model = model;
    this.engine = model.engine;
    this.data = data;
    this.options = { ...TRAIN_DEFAULTS, ...options };
    for (const key of ['steps', 'ctx', 'batch', 'warmup'] as const) {
      const value = this.options[key];
      if (!Number.isInteger(value) || value < (key === 'warmup' ? 0 : 1))
        throw new Error(`${key} must be a positive integer, got ${value}`);
    }
    if (this.options.ctx < 2) throw new Error('ctx must be at least 2');
    if (!(this.options.lr > 0)) throw new Error(`lr must be positive, got ${this.options.lr}`);
    this.rng = new Rng(this.options.seed);
    for (const [name, w] of model.weights) {
      this.moments.set(name, { m: this.engine.tensor(w.shape, `adamw.m.${name}`), v: this.engine.tensor(w.shape, `adamw.v.${name}`) });
    }
    this.squares = this.engine.tensor([model.weights.size], 'adamw.squares');
  }

  get done(): boolean {
    return this.step >= this.options.steps;
  }

  /** One optimizer step on a fresh random batch. */
  async trainStep(): Promise<StepRecord> {
    const { ctx, batch, lr: peak, warmup, steps, positions, records, weightDecay, maxGradNorm } = this.options;
    const started = performance.now();
    const ids = this.data.sampleBatch(this.rng, batch, ctx, records);
    const loss = await this.model.lossAndGradients(ids, batch, ctx, { positions });
    const names = [...this.model.weights.keys()];
    names.forEach((name, slot) => sumOfSquares(this.engine, this.squares, this.model.grads.get(name)!, slot));
    const norm = globalGradNorm(await this.engine.read(this.squares));
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) throw new NonFiniteError(this.step + 1, loss, norm);
    const lr = learningRate(this.step, { peak, warmup, total: steps });
    const gradScale = clipScale(norm, maxGradNorm);
    for (const name of names) {
      const param = this.model.weights.get(name)!;
      const { m, v } = this.moments.get(name)!;
      // Norm gains (1-D) are not decayed.
      const decay = param.shape.length === 1 ? 0 : weightDecay;
      adamwStep(this.engine, param, this.model.grads.get(name)!, m, v, {
        lr,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weightDecay: decay,
        step: this.step + 1,
        gradScale,
      });
    }
    await this.engine.sync();
    this.step += 1;
    const record = {
      step: this.step,
      loss,
      lr,
      grad_norm: norm,
      tokens_per_s: (batch * ctx) / ((performance.now() - started) / 1000),
    };
    this.log.push(record);
    return record;
  }

  /**
   * Optimizer moments, step, data RNG and log, as one safetensors file. `extraMetadata` (e.g. a
   * fingerprint of the weights saved beside it) is stored too; it cannot replace the trainer's keys.
   */
  async saveState(extraMetadata: Record<string, string> = {}): Promise<Uint8Array> {
    const tensors: Record<string, WritableTensor> = {};
    for (const [name, { m, v }] of this.moments) {
      tensors[`m.${name}`] = { dtype: 'F32', shape: [...m.shape], data: await this.engine.read(m) };
      tensors[`v.${name}`] = { dtype: 'F32', shape: [...v.shape], data: await this.engine.read(v) };
    }
    return writeSafetensors(tensors, {
      ...extraMetadata,
      format: TRAINER_STATE_FORMAT,
      version: TRAINER_STATE_VERSION,
      step: String(this.step),
      rng: String(this.rng.seedState),
      options: JSON.stringify({ ...this.options, positions: formatPositionMode(this.options.positions) }),
      log: JSON.stringify(this.log),
    });
  }

  /** Restores what `saveState` wrote, checked (trainer-state.ts); the weights come from the checkpoint saved beside it. */
  restoreState(bytes: Uint8Array): void {
    const shapes = new Map([...this.model.weights].map(([name, w]) => [name, w.shape]));
    const state = parseTrainerState(bytes, resumedOptions(this.options), shapes);
    for (const [name, { m, v }] of this.moments) {
      this.engine.write(m, state.file.getF32(`m.${name}`));
      this.engine.write(v, state.file.getF32(`v.${name}`));
    }
    this.step = state.step;
    this.rng.seedState = state.rng;
    this.log.splice(0, this.log.length, ...state.log);
  }

  destroy(): void {
    for (const { m, v } of this.moments.values()) this.engine.release(m, v);
    this.engine.release(this.squares);
  }
}
