// The residual stream update (shaders/residual.wgsl): x += y, in place.

import type { Engine } from '../engine.ts';
import { activationPrecision, ceilDiv } from '../kernel.ts';
import { numel, shapeString, type Tensor } from '../tensor.ts';
import { u32 } from '../uniforms.ts';

const WG = 64;

/** x += y elementwise; x and y have the same shape and dtype (f32 or f16) and are different buffers. */
export function addInPlace(engine: Engine, x: Tensor, y: Tensor): void {
  if (x.shape.length !== y.shape.length || x.shape.some((d, i) => d !== y.shape[i])) {
    throw new Error(`residual: ${x.label} ${shapeString(x.shape)} and ${y.label} ${shapeString(y.shape)} differ in shape`);
  }
  const n = numel(x.shape);
  engine.run({
    shader: 'residual',
    entryPoint: 'add_in_place',
    precision: activationPrecision('residual', [x, y]),
    constants: { WG },
    outputs: [x],
    inputs: [y],
    uniforms: { n: u32(n) },
    workgroups: [ceilDiv(n, WG)],
  });
}
