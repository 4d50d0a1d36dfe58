// Matrix multiplication (shaders/matmul.wgsl): C[M, N] (+)= op(A) · op(B).
//
// A tensor's leading dimensions are flattened: an activation [B, T, C] is the matrix [B*T, C],
// so a projection of a whole batch is one call.
//
// B (the weight of `linear`) may be f16: half-precision pairs unpacked in the kernel as they are
// loaded (the B_F16 override), with f32 accumulation. A and C are activations, both f32 or both
// f16 (the kernel's precision, which needs the adapter's shader-f16).

import type { Engine } from '../engine.ts';
import { activationPrecision, ceilDiv } from '../kernel.ts';
import type { Precision } from '../tensor.ts';
import { shapeString, type Tensor } from '../tensor.ts';
import { u32 } from '../uniforms.ts';

export interface MatmulOptions {
  /** A is stored [K, M] and used transposed. */
  transA?: boolean;
  /** B is stored [N, K] and used transposed (nn.Linear's weight layout). */
  transB?: boolean;
  /** C += op(A)·op(B) instead of C = op(A)·op(B). */
  accumulate?: boolean;
}

/** A tensor seen as a matrix: all leading dimensions are rows, the last one is columns. */
function asMatrix(t: Tensor): { rows: number; cols: number } {
  if (t.shape.length === 0) return { rows: 1, cols: 1 };
  const cols = t.shape[t.shape.length - 1];
  const rows = t.shape.slice(0, -1).reduce((x, y) => x * y, 1);
  return { rows, cols };
}

interface MatmulSizes {
  M: number;
  N: number;
  K: number;
  precision: Precision;
}

/** Checks C, op(A) and op(B) agree and returns M, N, K, or throws an error that names the tensors. */
function matmulSizes(what: string, c: Tensor, a: Tensor, b: Tensor, options: MatmulOptions): MatmulSizes {
  const describe = (t: Tensor) => `${t.label} ${shapeString(t.shape)}`;
  const precision = activationPrecision(what, [c, a]);
  if (b.dtype !== 'f32' && b.dtype !== 'f16') {
    throw new Error(`${what}: ${describe(b)} is ${b.dtype}, matmul takes an f32 or f16 B`);
  }
  if (b.dtype === 'f16' && b.shape[b.shape.length - 1] % 2 !== 0) {
    throw new Error(`${what}: the f16 ${describe(b)} holds pairs along its last dimension, which must be even`);
  }
  if (c.buffer === a.buffer || c.buffer === b.buffer) {
    throw new Error(`${what}: the output ${describe(c)} is also an input; write the product to another tensor`);
  }
  const am = asMatrix(a);
  const bm = asMatrix(b);
  const cm = asMatrix(c);
  const [M, Ka] = options.transA ? [am.cols, am.rows] : [am.rows, am.cols];
  const [Kb, N] = options.transB ? [bm.cols, bm.rows] : [bm.rows, bm.cols];
  const opA = options.transA ? `${describe(a)}^T` : describe(a);
  const opB = options.transB ? `${describe(b)}^T` : describe(b);
  if (Ka !== Kb) {
    throw new Error(`${what}: inner dimensions differ: ${opA} is [${M}, ${Ka}] but ${opB} is [${Kb}, ${N}]`);
  }
  if (cm.rows !== M || cm.cols !== N) {
    throw new Error(`${what}: the output ${describe(c)} is [${cm.rows}, ${cm.cols}] but ${opA} · ${opB} is [${M}, ${N}]`);
  }
  if (M < 1 || N < 1 || Ka < 1) throw new Error(`${what}: empty product [${M}, ${Ka}] · [${Kb}, ${N}]`);
  return { M, N, K: Ka, precision };
}

function flags(options: MatmulOptions, b: Tensor): Record<string, number> {
  return {
    TRANS_A: options.transA ? 1 : 0,
    TRANS_B: options.transB ? 1 : 0,
    ACCUMULATE: options.accumulate ? 1 : 0,
    B_F16: b.dtype === 'f16' ? 1 : 0,
  };
}

// Each invocation of `forward` computes a 16 x 8 block of C, so a workgroup of WG_X x WG_Y invocations
// covers a (16*WG_Y) x (8*WG_X) tile.
const RM = 16;
const RN = 8;

/**
 * The workgroup shape for a product with M rows. 8 x 4 invocations (64 x 64 tiles) measured as
 * efficient per FLOP on SwiftShader as 8 x 8 (128 x 64 tiles) and gives twice the workgroups to
 * spread over the cores. Products with at most 16 rows (decoding one token) take a single row of
 * invocations (16 x 64 tiles), so that most of the tile is not padding. Two shapes only: each is one
 * more pipeline to compile (about a second on SwiftShader) per combination of flags.
 */
function tileShape(M: number): { WG_X: number; WG_Y: number; TK: number } {
  return { WG_X: 8, WG_Y: M <= RM ? 1 : 4, TK: 8 };
}

/** Up to this many rows, a product with a weight (transB) runs on `matvec`: one invocation per column, no padded tile rows. */
const MATVEC_ROWS = 4;
const MATVEC_WG = 64;

/**
 * C[M, N] (+)= op(A) · op(B): A is [M, K] ([K, M] if transA), B is [K, N] ([N, K] if transB),
 * leading dimensions flattened. The tiled, register-blocked kernel; `matvec` for a few rows against a weight (decoding).
 */
export function matmul(engine: Engine, c: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): void {
  const { M, N, K, precision } = matmulSizes('matmul', c, a, b, options);
  const matvec = M <= MATVEC_ROWS && options.transB && !options.transA;
  const tiles = tileShape(M);
  engine.run({
    shader: 'matmul',
    entryPoint: matvec ? 'matvec' : 'forward',
    precision,
    constants: { ...flags(options, b), ...(matvec ? { MV_WG: MATVEC_WG, MV_ROWS: M } : tiles) },
    outputs: [c],
    inputs: [a, b],
    uniforms: { M: u32(M), N: u32(N), K: u32(K) },
    workgroups: matvec ? [ceilDiv(N, MATVEC_WG)] : [ceilDiv(N, RN * tiles.WG_X), ceilDiv(M, RM * tiles.WG_Y)],
  });
}

/**
 * Hugging Face's nn.Linear without bias: y[R, out] = x[R, in] · weight[out, in]^T. The weight is
 * f32 or 'f16' (pairs along `in`, which must then be even), unpacked in the kernel.
 */
export function linear(engine: Engine, y: Tensor, x: Tensor, weight: Tensor): void {
  if (weight.shape.length !== 2) {
    throw new Error(`linear: the weight ${weight.label} ${shapeString(weight.shape)} must be 2-D [out, in]`);
  }
  if (weight.dtype === 'f16' && weight.shape[1] % 2 !== 0) {
    throw new Error(
      `linear: the f16 weight ${weight.label} ${shapeString(weight.shape)} packs pairs along in = ${weight.shape[1]}, which must be even`,
    );
  }
  matmul(engine, y, x, weight, { transB: true });
}

const NAIVE_WG = 64;

/** The same product by the straightforward kernel (one invocation per element of C): the benchmark's baseline. */
export function matmulNaive(engine: Engine, c: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): void {
  const { M, N, K, precision } = matmulSizes('matmulNaive', c, a, b, options);
  engine.run({
    shader: 'matmul',
    entryPoint: 'naive',
    precision,
    constants: { ...flags(options, b), NAIVE_WG },
    outputs: [c],
    inputs: [a, b],
    uniforms: { M: u32(M), N: u32(N), K: u32(K) },
    workgroups: [ceilDiv(M * N, NAIVE_WG)],
  });
}
