// The optimizer (shaders/adamw.wgsl): one AdamW step per parameter tensor, exactly
// torch.optim.AdamW's update, and the pieces of torch.nn.utils.clip_grad_norm_: per-tensor sums of
// squares on the GPU, the global norm and the clip scale on the CPU.
//
// A training step, with maxNorm the clipping threshold:
//   for each parameter i:  sumOfSquares(engine, squares, grads[i], i)
//   const norm = globalGradNorm(await engine.read(squares));
//   if (!Number.isFinite(norm)) skip the step (a NaN or Inf gradient)
//   for each parameter i:  adamwStep(engine, params[i], grads[i], m[i], v[i], { ..., step, gradScale: clipScale(norm, maxNorm) })
//
// Glossary: n elements of one parameter tensor, P partial sums, S slots of the squares buffer.

import type { Engine } from '../engine.ts';
import { ceilDiv } from '../kernel.ts';
import { numel, shapeString, type Tensor } from '../tensor.ts';
import { f32, u32 } from '../uniforms.ts';

// Must be a power of two (tree reductions in sum_squares).
const WG = 256;
// sum_squares' first level: at most MAX_PARTIALS workgroups of WG invocations, each invocation
// summing at least ITEMS elements before the trees. P is a function of n alone (determinism).
const MAX_PARTIALS = 256;
const ITEMS = 8;

export interface AdamWHyperparameters {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled: param *= 1 - lr * weightDecay before the update. 0 for norm gains. */
  weightDecay: number;
  /** 1-based count of steps taken, including this one (torch's state['step'] after increment). */
  step: number;
  /** Multiplies the gradient first: clipScale(norm, maxNorm) for global-norm clipping, else 1. */
  gradScale: number;
}

/**
 * One AdamW step on param (in place) with its moments m and v (in place, zero before the first
 * step), from grad: torch.optim.AdamW's update formula (amsgrad=False), with bias corrections at
 * hp.step and eps added to sqrt(v_hat). All four tensors have the same number of elements.
 */
export function adamwStep(engine: Engine, param: Tensor, grad: Tensor, m: Tensor, v: Tensor, hp: AdamWHyperparameters): void {
  const n = numel(param.shape);
  for (const t of [grad, m, v]) {
    if (numel(t.shape) !== n)
      throw new Error(`adamw: ${t.label} ${shapeString(t.shape)} does not match ${param.label} ${shapeString(param.shape)}`);
  }
  const buffers = new Set([param, grad, m, v].map((t) => t.buffer));
  // WebGPU rejects one buffer bound twice with a writable binding; distinct state is also the only sensible use.
  if (buffers.size !== 4) throw new Error('adamw: param, grad, m and v must be four different buffers');
  const { lr, beta1, beta2, eps, weightDecay, step, gradScale } = hp;
  if (!Number.isInteger(step) || step < 1) throw new Error(`adamw: step must be an integer >= 1, got ${step}`);
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) throw new Error(`adamw: betas must lie in [0, 1), got ${beta1}, ${beta2}`);
  if (!(eps >= 0) || !Number.isFinite(lr) || !Number.isFinite(weightDecay)) {
    throw new Error(`adamw: need finite lr and weightDecay and eps >= 0, got lr ${lr}, weightDecay ${weightDecay}, eps ${eps}`);
  }
  if (!Number.isFinite(gradScale))
    throw new Error(`adamw: gradScale must be finite, got ${gradScale} (skip steps whose gradient norm is not finite)`);
  // In float64, as torch computes them in Python floats before they meet the f32 tensors.
  const bias1 = 1 - beta1 ** step;
  const bias2 = 1 - beta2 ** step;
  engine.run({
    shader: 'adamw',
    entryPoint: 'step',
    constants: { WG },
    outputs: [param, m, v],
    inputs: [grad],
    uniforms: {
      n: u32(n),
      decay: f32(1 - lr * weightDecay),
      beta1: f32(beta1),
      one_minus_beta1: f32(1 - beta1),
      beta2: f32(beta2),
      one_minus_beta2: f32(1 - beta2),
      step_size: f32(lr / bias1),
      sqrt_bias2: f32(Math.sqrt(bias2)),
      eps: f32(eps),
      grad_scale: f32(gradScale),
    },
    workgroups: [ceilDiv(n, WG)],
  });
}

/**
 * squares[slot] = sum of x^2 over all of x (or += with `accumulate: true`), in f32 with a fixed
 * summation order: bit-reproducible. Give each gradient its own slot (or accumulate them into one),
 * read `squares` back, and pass it to globalGradNorm. A NaN or Inf in x makes the slot non-finite,
 * as does a sum beyond f32's range (a norm over ~1.8e19).
 */
export function sumOfSquares(engine: Engine, squares: Tensor, x: Tensor, slot: number, options: { accumulate?: boolean } = {}): void {
  const S = numel(squares.shape);
  if (!Number.isInteger(slot) || slot < 0 || slot >= S)
    throw new Error(`adamw: slot ${slot} is outside squares ${shapeString(squares.shape)}`);
  // x and squares are bound in different dispatches (through the partials), so Engine.run cannot see it.
  if (squares.buffer === x.buffer) throw new Error('adamw: squares must not alias x');
  const n = numel(x.shape);
  const P = Math.min(MAX_PARTIALS, Math.max(1, ceilDiv(n, WG * ITEMS)));
  const scratch = engine.scratch('adamw.partials', MAX_PARTIALS);
  engine.run({
    shader: 'adamw',
    entryPoint: 'sum_squares',
    constants: { WG },
    outputs: [scratch],
    inputs: [x],
    uniforms: { n: u32(n), P: u32(P) },
    workgroups: [P],
  });
  engine.run({
    shader: 'adamw',
    entryPoint: 'sum_squares_finish',
    constants: { WG, ACCUMULATE: options.accumulate ? 1 : 0 },
    outputs: [squares],
    inputs: [scratch],
    uniforms: { P: u32(P), slot: u32(slot) },
    workgroups: [1],
  });
}

/** sqrt of the sum of the per-tensor squares, summed in float64 in slot order. NaN or Inf if any is. */
export function globalGradNorm(squares: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < squares.length; i++) total += squares[i];
  return Math.sqrt(total);
}

/**
 * The factor clip_grad_norm_ multiplies every gradient by: min(1, maxNorm / (norm + 1e-6)). NaN for
 * a non-finite norm (adamwStep rejects it), so a NaN or Inf gradient cannot slip into a step.
 */
export function clipScale(norm: number, maxNorm: number): number {
  if (!Number.isFinite(norm)) return NaN;
  return Math.min(1, maxNorm / (norm + 1e-6));
}
