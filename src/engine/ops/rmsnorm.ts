// RMSNorm over the last dimension (shaders/rmsnorm.wgsl).

import type { Engine } from '../engine.ts';
import { activationPrecision, expectF32 } from '../kernel.ts';
import { numel, shapeString, type Tensor } from '../tensor.ts';
import { f32, u32 } from '../uniforms.ts';

const WG = 64;

/**
 * y[R, C] = rmsnorm(x[R, C]) * weight[C]; rstd[R] keeps 1/rms for the backward pass. x and y are
 * f32 or f16 activations; weight and rstd are f32.
 */
export function rmsnormForward(engine: Engine, y: Tensor, rstd: Tensor, x: Tensor, weight: Tensor, eps: number): void {
  const C = x.shape[x.shape.length - 1];
  const rows = x.shape.length === 1 ? 1 : x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (weight.shape[0] !== C) throw new Error(`rmsnorm: weight ${weight.shape} does not match ${C} channels`);
  expectF32('rmsnorm', [rstd, weight]);
  engine.run({
    shader: 'rmsnorm',
    entryPoint: 'forward',
    precision: activationPrecision('rmsnorm', [y, x]),
    constants: { WG },
    outputs: [y, rstd],
    inputs: [x, weight],
    uniforms: { rows: u32(rows), C: u32(C), eps: f32(eps) },
    workgroups: [rows],
  });
}

// backward_weight's tile: DW_C channels per workgroup, DW_R row lanes per channel (see the WGSL).
const DW_C = 32;
const DW_R = 8;

/**
 * The gradients of rmsnormForward: dx[R, C] (overwritten) and dweight[C] (overwritten, or added to
 * with `accumulate: true`, so layers or micro-batches can sum into one buffer), from dy[R, C], the
 * forward's x[R, C] and weight[C], and the rstd[R] it saved. dweight's reduction over rows runs in
 * a fixed order (no atomics), so results are bit-reproducible.
 */
export function rmsnormBackward(
  engine: Engine,
  dx: Tensor,
  dweight: Tensor,
  dy: Tensor,
  x: Tensor,
  weight: Tensor,
  rstd: Tensor,
  options: { accumulate?: boolean } = {},
): void {
  const C = x.shape[x.shape.length - 1];
  const rows = x.shape.length === 1 ? 1 : x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const n = rows * C;
  if (numel(weight.shape) !== C) throw new Error(`rmsnorm: weight ${shapeString(weight.shape)} does not match ${C} channels`);
  if (numel(dweight.shape) !== C) throw new Error(`rmsnorm: dweight ${shapeString(dweight.shape)} does not match ${C} channels`);
  if (numel(dx.shape) !== n || numel(dy.shape) !== n) {
    throw new Error(`rmsnorm: dx ${shapeString(dx.shape)} and dy ${shapeString(dy.shape)} do not match x ${shapeString(x.shape)}`);
  }
  if (numel(rstd.shape) !== rows) throw new Error(`rmsnorm: rstd ${shapeString(rstd.shape)} does not match the ${rows} rows of x`);
  // Two dispatches (dx, then dweight): checked here, before the first is recorded, not by Engine.run.
  for (const out of [dx, dweight]) {
    if ([dy, x, weight, rstd].some((t) => t.buffer === out.buffer)) throw new Error(`rmsnorm: ${out.label} must not alias an input`);
  }
  if (dx.buffer === dweight.buffer) throw new Error('rmsnorm: dx and dweight must be different buffers');
  expectF32('rmsnorm.backward', [dx, dweight, dy, x, weight, rstd]);
  const uniforms = { rows: u32(rows), C: u32(C) };
  engine.run({
    shader: 'rmsnorm',
    entryPoint: 'backward',
    constants: { WG },
    outputs: [dx],
    inputs: [dy, x, weight, rstd],
    uniforms,
    workgroups: [rows],
  });
  engine.run({
    shader: 'rmsnorm',
    entryPoint: 'backward_weight',
    constants: { DW_C, DW_R, ACCUMULATE: options.accumulate ? 1 : 0 },
    outputs: [dweight],
    inputs: [dy, x, rstd],
    uniforms,
    workgroups: [Math.ceil(C / DW_C)],
  });
}
