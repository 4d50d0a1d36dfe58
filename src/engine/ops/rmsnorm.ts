// RMSNorm over the last dimension (shaders/rmsnorm.wgsl).

import type { Engine } from '../engine.ts';
import type { Tensor } from '../tensor.ts';
import { f32, u32 } from '../uniforms.ts';

const WG = 64;

/** y[R, C] = rmsnorm(x[R, C]) * weight[C]; rstd[R] keeps 1/rms for the backward pass. */
export function rmsnormForward(engine: Engine, y: Tensor, rstd: Tensor, x: Tensor, weight: Tensor, eps: number): void {
  const C = x.shape[x.shape.length - 1];
  const rows = x.shape.length === 1 ? 1 : x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (weight.shape[0] !== C) throw new Error(`rmsnorm: weight ${weight.shape} does not match ${C} channels`);
  engine.run({
    shader: 'rmsnorm',
    entryPoint: 'forward',
    constants: { WG },
    outputs: [y, rstd],
    inputs: [x, weight],
    uniforms: { rows: u32(rows), C: u32(C), eps: f32(eps) },
    workgroups: [rows],
  });
}
