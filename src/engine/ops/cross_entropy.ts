// Per-token cross-entropy of next-token prediction (shaders/cross_entropy.wgsl):
//   nll[r] = logsumexp(logits[r, :]) - logits[r, targets[r]]
// and its gradient dlogits[r, :] = scale * (softmax(logits[r, :]) - onehot(targets[r])).
//
// Glossary: R rows (B*T tokens), V vocabulary size.

import type { Engine } from '../engine.ts';
import { activationPrecision, expectF32 } from '../kernel.ts';
import { numel, shapeString, type Tensor } from '../tensor.ts';
import { f32, u32 } from '../uniforms.ts';

/** A target that contributes no loss (PyTorch's ignore_index). Must match IGNORE_TARGET in the WGSL. */
export const IGNORE_TARGET = 0xffffffff;

// One workgroup per row; a power of two for the tree reduction. Rows are long (V ~ 50k), so a
// wide workgroup keeps each invocation's serial loop short.
const WG = 256;

/**
 * nll[R] = logsumexp(logits[R, V] row) - logits[r, targets[r]] in f32, with max subtraction.
 * targets is u32 [R]; rows whose target is IGNORE_TARGET get 0. The model must check targets < V
 * before upload; a target >= V (other than IGNORE_TARGET) gives NaN, never an out-of-bounds read.
 * Leading dims of logits are flattened.
 */
export function nllForward(engine: Engine, nll: Tensor, logits: Tensor, targets: Tensor): void {
  const V = logits.shape[logits.shape.length - 1];
  if (!(V >= 1)) throw new Error(`cross_entropy: logits ${shapeString(logits.shape)} need a vocabulary of at least 1`);
  const R = numel(logits.shape) / V;
  if (numel(nll.shape) !== R) {
    throw new Error(`cross_entropy: nll ${shapeString(nll.shape)} does not match the ${R} rows of logits ${shapeString(logits.shape)}`);
  }
  if (numel(targets.shape) !== R) {
    throw new Error(
      `cross_entropy: targets ${shapeString(targets.shape)} do not match the ${R} rows of logits ${shapeString(logits.shape)}`,
    );
  }
  if (targets.dtype !== 'u32') throw new Error(`cross_entropy: targets must be u32, got ${targets.dtype}`);
  expectF32('cross_entropy', [nll]);
  engine.run({
    shader: 'cross_entropy',
    entryPoint: 'forward',
    precision: activationPrecision('cross_entropy', [logits]),
    constants: { WG },
    outputs: [nll],
    inputs: [logits, targets],
    uniforms: { R: u32(R), V: u32(V) },
    workgroups: [R],
  });
}

/**
 * dlogits[R, V] = scale * (softmax(logits[r, :]) - onehot(targets[r])): the gradient of
 * scale * sum_r nll[r], so scale = 1 / (number of counted targets) gives the mean loss's gradient
 * (what F.cross_entropy's default reduction differentiates). Rows whose target is IGNORE_TARGET get
 * 0; a target >= V (other than IGNORE_TARGET) gives a NaN row, never an out-of-bounds read. Stable
 * for any finite logits (max subtraction). dlogits may not alias logits.
 */
export function nllBackward(engine: Engine, dlogits: Tensor, logits: Tensor, targets: Tensor, scale: number): void {
  const V = logits.shape[logits.shape.length - 1];
  if (!(V >= 1)) throw new Error(`cross_entropy: logits ${shapeString(logits.shape)} need a vocabulary of at least 1`);
  const R = numel(logits.shape) / V;
  if (numel(dlogits.shape) !== R * V || dlogits.shape[dlogits.shape.length - 1] !== V) {
    throw new Error(`cross_entropy: dlogits ${shapeString(dlogits.shape)} does not match logits ${shapeString(logits.shape)}`);
  }
  if (numel(targets.shape) !== R) {
    throw new Error(
      `cross_entropy: targets ${shapeString(targets.shape)} do not match the ${R} rows of logits ${shapeString(logits.shape)}`,
    );
  }
  if (targets.dtype !== 'u32') throw new Error(`cross_entropy: targets must be u32, got ${targets.dtype}`);
  if (!Number.isFinite(scale)) throw new Error(`cross_entropy: scale must be finite, got ${scale}`);
  expectF32('cross_entropy.backward', [dlogits, logits]);
  engine.run({
    shader: 'cross_entropy',
    entryPoint: 'backward',
    constants: { WG },
    outputs: [dlogits],
    inputs: [logits, targets],
    uniforms: { R: u32(R), V: u32(V), scale: f32(scale) },
    workgroups: [R],
  });
}
