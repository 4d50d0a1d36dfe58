// Rotary position embedding, in place, in Hugging Face's rotate_half layout (shaders/rope.wgsl).
// The cos/sin tables come from src/model/positions.ts `rotaryTables`.
//
// Glossary: R rows, T sequence length, NH heads in x, D head dim, P table rows.

import { activationPrecision, ceilDiv } from '../kernel.ts';
import type { Engine } from '../engine.ts';
import { numel, shapeString, type Tensor } from '../tensor.ts';
import { u32 } from '../uniforms.ts';

const WG = 64;

export interface RopeShape {
  /** R: rows of x, B*T for a batch of B sequences. */
  rows: number;
  /** T: row r is at position positionOffset + r % T. */
  T: number;
  /** NH: heads in x (H for queries, KVH for keys). */
  heads: number;
  /** D, even. */
  headDim: number;
  /** Position of each sequence's first row (tokens already in a KV cache); default 0. */
  positionOffset?: number;
}

/**
 * Rotates x [rows, heads*headDim] in place by the angles of cos/sin [>= positionOffset+T, headDim/2]:
 * HF's apply_rotary_pos_emb, y = x*cos + rotate_half(x)*sin.
 */
export function ropeForward(engine: Engine, x: Tensor, cos: Tensor, sin: Tensor, shape: RopeShape): void {
  rope(engine, 'forward', x, cos, sin, shape);
}

/**
 * The backward pass of ropeForward, in place on the gradient: the rotation by the negated angle,
 * R(θ)ᵀ = R(-θ). With unscaled tables (cos² + sin² = 1) it is ropeForward's inverse.
 */
export function ropeBackward(engine: Engine, dx: Tensor, cos: Tensor, sin: Tensor, shape: RopeShape): void {
  rope(engine, 'backward', dx, cos, sin, shape);
}

function rope(engine: Engine, entryPoint: 'forward' | 'backward', x: Tensor, cos: Tensor, sin: Tensor, shape: RopeShape): void {
  const { rows, T, heads, headDim, positionOffset = 0 } = shape;
  const label = `rope.${entryPoint}`;
  const fail = (message: string): never => {
    throw new Error(`${label}: ${message}`);
  };
  for (const [name, value] of Object.entries({ rows, T, heads, headDim })) {
    if (!Number.isSafeInteger(value) || value < 1) fail(`${name} must be a positive integer, got ${value}`);
  }
  if (!Number.isSafeInteger(positionOffset) || positionOffset < 0) {
    fail(`positionOffset must be a non-negative integer, got ${positionOffset}`);
  }
  if (headDim % 2 !== 0) fail(`headDim ${headDim} is odd (dim i pairs with i + headDim/2)`);
  if (rows % T !== 0) fail(`rows ${rows} is not a multiple of T ${T} (rows are B sequences of T)`);
  const width = heads * headDim;
  if (numel(x.shape) !== rows * width || x.shape[x.shape.length - 1] !== width) {
    fail(`x ${shapeString(x.shape)} is not [${rows}, ${width}] (rows, heads*headDim)`);
  }
  const half = headDim / 2;
  for (const [name, table] of [
    ['cos', cos],
    ['sin', sin],
  ] as const) {
    if (table.shape.length !== 2 || table.shape[1] !== half || table.shape[0] < positionOffset + T) {
      fail(`${name} ${shapeString(table.shape)} must be [>= ${positionOffset + T}, ${half}] (positionOffset + T, headDim/2)`);
    }
    if (table.dtype !== 'f32') fail(`${name} must be f32`);
  }
  const pairs = rows * heads * half;
  engine.run({
    shader: 'rope',
    entryPoint,
    precision: activationPrecision(label, [x]),
    constants: { WG, HALF: half, SIGN: entryPoint === 'forward' ? 1 : -1 },
    outputs: [x],
    inputs: [cos, sin],
    uniforms: { pairs: u32(pairs), T: u32(T), heads: u32(heads), offset: u32(positionOffset) },
    workgroups: [ceilDiv(pairs, WG)],
  });
}
