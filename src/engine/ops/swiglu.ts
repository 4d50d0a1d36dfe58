// The SwiGLU gate of Hugging Face's LlamaMLP (shaders/swiglu.wgsl): out = silu(gate) * up.
//
// Glossary: R rows (B*T tokens), I intermediate size.

import type { Engine } from '../engine.ts';
import { activationPrecision, ceilDiv, expectF32 } from '../kernel.ts';
import { numel, shapeString, type Tensor } from '../tensor.ts';
import { u32 } from '../uniforms.ts';

const WG = 64;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** out[R, I] = silu(gate[R, I]) * up[R, I], silu(x) = x * sigmoid(x) without overflow for large |x|. */
export function swigluForward(engine: Engine, out: Tensor, gate: Tensor, up: Tensor): void {
  if (!sameShape(out.shape, gate.shape) || !sameShape(out.shape, up.shape)) {
    throw new Error(`swiglu: shapes differ: out ${shapeString(out.shape)}, gate ${shapeString(gate.shape)}, up ${shapeString(up.shape)}`);
  }
  const n = numel(out.shape);
  engine.run({
    shader: 'swiglu',
    entryPoint: 'forward',
    precision: activationPrecision('swiglu', [out, gate, up]),
    constants: { WG },
    outputs: [out],
    inputs: [gate, up],
    uniforms: { n: u32(n) },
    workgroups: [ceilDiv(n, WG)],
  });
}

/**
 * The gradients of swigluForward, all [R, I]: dgate = dout * up * silu'(gate) and
 * dup = dout * silu(gate), stable (finite, no exp overflow) for any finite gate.
 */
export function swigluBackward(engine: Engine, dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor): void {
  const shapes = [dgate, dup, dout, gate, up];
  if (!shapes.every((t) => sameShape(t.shape, dout.shape))) {
    throw new Error(`swiglu: shapes differ: ${shapes.map((t) => `${t.label} ${shapeString(t.shape)}`).join(', ')}`);
  }
  expectF32('swiglu.backward', shapes);
  const n = numel(dout.shape);
  engine.run({
    shader: 'swiglu',
    entryPoint: 'backward',
    constants: { WG },
    outputs: [dgate, dup],
    inputs: [dout, gate, up],
    uniforms: { n: u32(n) },
    workgroups: [ceilDiv(n, WG)],
  });
}
