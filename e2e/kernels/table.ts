// The kernels that e2e/kernels.spec.ts runs on real WebGPU in Chromium, one entry per kernel.
//
// This module is loaded twice: by the spec in Node, which draws the cases and computes the CPU
// reference, and by the browser page from the Vite dev server, which runs the kernel. So:
//   - `cases` and `reference` are plain TS (no GPU, no DOM); the spec calls them in Node.
//   - `run` executes only in the browser. It imports its op with a dynamic, relative import, which
//     the dev server resolves to /src/engine/ops/<family>.ts; Node never evaluates it. Keep other
//     imports of this file type-only or pure (like random.ts, or positions.ts for RoPE's tables),
//     since both sides load it.
//
// Adding a kernel is one entry: seeded cases with awkward sizes (1, non-multiples of the workgroup
// size), an independent float64 CPU reference, and a `run` that allocates outputs and records the op.
// The references themselves live in test/reference/<family>.ts (pure TS, shared with the Vitest
// kernel tests); `reference` here only unpacks a case's inputs and params for them.
// Kernels of the inference path also run at f16 precision (test/kernels/f16-activations.test.ts,
// on an adapter with shader-f16): their `f16` names the activation inputs, uploaded as f16, and
// `run` allocates activation outputs at the precision it is given.

import type { Engine } from '../../src/engine/engine.ts';
import type { Rng } from '../../src/engine/random.ts';
import type { Precision, Tensor } from '../../src/engine/tensor.ts';
import { parsePositionMode, rotaryTables } from '../../src/model/positions.ts';
import { attentionDecodeReference, attentionReference } from '../../test/reference/attention.ts';
import { IGNORE_INDEX as IGNORE, nllReference } from '../../test/reference/cross_entropy.ts';
import { embeddingReference } from '../../test/reference/embedding.ts';
import { linearReference, matmulReference } from '../../test/reference/matmul.ts';
import { residualAddReference } from '../../test/reference/residual.ts';
import { rmsnormReference } from '../../test/reference/rmsnorm.ts';
import { ropeReference } from '../../test/reference/rope.ts';
import { swigluReference } from '../../test/reference/swiglu.ts';

/** A tensor's values as they cross page.evaluate (plain numbers survive serialization exactly). */
export interface HostTensor {
  data: number[];
  shape: number[];
  dtype: 'f32' | 'u32';
}

export interface KernelCase {
  /** Shape description: the test step's title and the failure message's prefix. */
  label: string;
  inputs: Record<string, HostTensor>;
  params: Record<string, number>;
}

export interface KernelEntry {
  /** `family.entry`, as the kernel's label. */
  name: string;
  /** Allowed max |gpu - cpu| per output, as a fraction of that output's largest |cpu| value. */
  tolerance: number;
  cases(rng: Rng): KernelCase[];
  /** Expected outputs, keyed like `run`'s result. Runs in Node. */
  reference(c: KernelCase): Record<string, ArrayLike<number>>;
  /**
   * At f16 precision: the inputs that are activations (the rest stay f32) and the tolerance. The
   * reference sees those inputs rounded to binary16, so what is left is the f16 storage of the
   * outputs (2^-11 of a value) and any f16 intermediate. Absent: an f32-only kernel (training, baselines).
   */
  f16?: { activations: string[]; tolerance: number };
  /**
   * Allocates the outputs (activations at `precision`) and records the kernel. Runs in the browser
   * (at f32) and in Node; the caller reads the outputs back.
   */
  run(
    engine: Engine,
    inputs: Record<string, Tensor>,
    params: Record<string, number>,
    precision?: Precision,
  ): Promise<Record<string, Tensor>>;
}

export function f32(data: ArrayLike<number>, shape: number[]): HostTensor {
  return { data: Array.from(Float32Array.from(data)), shape, dtype: 'f32' };
}

export function u32(data: ArrayLike<number>, shape: number[]): HostTensor {
  return { data: Array.from(Uint32Array.from(data)), shape, dtype: 'u32' };
}

/** A fresh output tensor holding a copy of `src`, for ops that write in place or accumulate. */
function copyOf(engine: Engine, src: Tensor, label: string): Tensor {
  const t = engine.tensor(src.shape, label, src.dtype);
  engine.copy(t, src);
  return t;
}

interface MatmulShape {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  accumulate: boolean;
  /** Rows of A's flattened leading dims split as [2, rows/2, cols]: checks the flattening. */
  batched?: boolean;
}

/**
 * Matmul cases: every transA/transB combination, accumulate, 1-sized dims, and M, N, K off the
 * kernel's 64 x 64 tiles and 16-deep K steps. Each (transA, transB, accumulate, tile shape) is one
 * pipeline and SwiftShader takes a second or more to compile each, so the cases share four: the
 * tiled kernel picks its tile shape from M alone (a flat one for decode-sized M <= 16, see tileShape
 * in src/engine/ops/matmul.ts), so M = 1 cases go with transB, the rest have M > 32.
 */
function matmulCases(rng: Rng, draws: number): KernelCase[] {
  const flags = [
    { transA: false, transB: false, accumulate: false },
    { transA: true, transB: true, accumulate: false },
    { transA: true, transB: false, accumulate: true },
  ];
  const shapes: MatmulShape[] = [
    // Decoding one token (M = 1) through an nn.Linear weight (transB).
    { M: 1, N: 1, K: 1, transA: false, transB: true, accumulate: false },
    { M: 1, N: 67, K: 33, transA: false, transB: true, accumulate: false },
    { M: 66, N: 70, K: 19, ...flags[0] },
    { M: 33, N: 1, K: 1, ...flags[0] },
    { M: 33, N: 9, K: 65, ...flags[1] },
    { M: 70, N: 65, K: 3, ...flags[2] },
    { M: 40, N: 31, K: 12, ...flags[2], batched: true },
    ...Array.from({ length: draws }, () => ({ M: rng.int(33, 80), N: rng.int(1, 80), K: rng.int(1, 80), ...rng.pick(flags) })),
  ];
  return shapes.map(({ M, N, K, transA, transB, accumulate, batched }) => {
    const [aRows, aCols] = transA ? [K, M] : [M, K];
    const [bRows, bCols] = transB ? [N, K] : [K, N];
    const aShape = batched && aRows % 2 === 0 ? [2, aRows / 2, aCols] : [aRows, aCols];
    return {
      label: `M=${M} N=${N} K=${K}${transA ? ' transA' : ''}${transB ? ' transB' : ''}${accumulate ? ' accumulate' : ''}${aShape.length === 3 ? ` a=[${aShape}]` : ''}`,
      inputs: {
        a: f32(rng.normals(M * K), aShape),
        b: f32(rng.normals(K * N), [bRows, bCols]),
        // Without accumulate, C's previous contents must be overwritten, so it starts non-zero too.
        c0: f32(rng.normals(M * N), [M, N]),
      },
      params: { transA: Number(transA), transB: Number(transB), accumulate: Number(accumulate) },
    };
  });
}

/** C = (accumulate ? C0 : 0) + op(A)·op(B), from the shapes: c0 [M, N], a [M, K] ([K, M] if transA, maybe [2, rows/2, cols]). */
function matmulCaseReference({ inputs, params }: KernelCase): Record<string, ArrayLike<number>> {
  const [M, N] = inputs.c0.shape;
  const aCols = inputs.a.shape[inputs.a.shape.length - 1];
  const K = params.transA ? inputs.a.data.length / aCols : aCols;
  const options = { transA: Boolean(params.transA), transB: Boolean(params.transB), accumulate: Boolean(params.accumulate) };
  return { c: matmulReference(inputs.a.data, inputs.b.data, M, N, K, options, inputs.c0.data) };
}

interface AttentionCase {
  B: number;
  T: number;
  H: number;
  KVH: number;
  D: number;
  beta: number;
  scale?: number;
  /** Keys each query sees (an attention window); absent: all earlier keys. */
  window?: number;
  /** q's standard deviation: 8 gives logits far past exp's f32 range unless the max is subtracted. */
  qStd: number;
}

/**
 * GQA and plain multi-head, D = 16 and 32 (the tiled kernel's query tile is 32 rows for both, see
 * forwardTiles), T = 1, T off the tile (33, 45, 70), beta != 1, an explicit scale, and attention
 * windows shorter than a tile and longer than T.
 */
function attentionCases(rng: Rng): KernelCase[] {
  const shapes: AttentionCase[] = [
    { B: 1, T: 1, H: 4, KVH: 2, D: 16, beta: 1, qStd: 1 },
    { B: 2, T: 33, H: 4, KVH: 2, D: 32, beta: 1.7, qStd: 1 },
    { B: 1, T: 45, H: 4, KVH: 1, D: 16, beta: 0.6, qStd: 1 },
    { B: 1, T: 70, H: 2, KVH: 2, D: 32, beta: 2.5, qStd: 8 },
    { B: 3, T: 7, H: 4, KVH: 4, D: 16, beta: 1, scale: 0.05, qStd: 1 },
    { B: 2, T: 50, H: 4, KVH: 2, D: 32, beta: 1.2, window: 9, qStd: 1 },
    { B: 1, T: 20, H: 4, KVH: 1, D: 16, beta: 1, window: 64, qStd: 1 },
    {
      B: rng.int(1, 2),
      T: rng.int(2, 60),
      H: 4,
      KVH: rng.pick([1, 2, 4]),
      D: rng.pick([16, 32]),
      beta: 0.5 + 2 * rng.next(),
      qStd: 1,
    },
  ];
  return shapes.map(({ B, T, H, KVH, D, beta, scale, window, qStd }) => ({
    label: `B=${B} T=${T} H=${H} KVH=${KVH} D=${D} beta=${beta.toFixed(3)}${scale ? ` scale=${scale}` : ''}${window ? ` window=${window}` : ''}${qStd !== 1 ? ` qStd=${qStd}` : ''}`,
    inputs: {
      q: f32(rng.normals(B * T * H * D, qStd), [B * T, H * D]),
      k: f32(rng.normals(B * T * KVH * D), [B * T, KVH * D]),
      v: f32(rng.normals(B * T * KVH * D), [B * T, KVH * D]),
    },
    // scale 0 means "the default 1/sqrt(D)", window 0 "no window" (params are numbers only).
    params: { B, T, H, KVH, D, beta: Math.fround(beta), scale: scale ?? 0, window: window ?? 0 },
  }));
}

/** HF's eager causal attention (test/reference/attention.ts); scale 0 means 1/sqrt(D), window 0 none. */
function attentionCaseReference({ inputs, params }: KernelCase): { out: Float64Array; lse: Float64Array } {
  const { B, T, H, KVH, D, beta } = params;
  const qkScale = beta * (params.scale || 1 / Math.sqrt(D));
  const shape = { B, T, H, KVH, D, window: params.window || undefined };
  return attentionReference(inputs.q.data, inputs.k.data, inputs.v.data, shape, qkScale);
}

/** The options of an attention case's kernel call: beta, and scale and window where set. */
function attentionCaseOptions({ beta, scale, window }: Record<string, number>) {
  return { beta, ...(scale ? { scale } : {}), ...(window ? { window } : {}) };
}

/**
 * KV-cached attention: N new rows at `offset` against a cache with spare rows past offset + N
 * (filled with 1e30, which would show if read): T = 1, a key past a 64-key chunk, several rows at
 * once, RoPE dropped (no tables), windows of one key, inside a chunk and longer than the sequence.
 */
function attentionDecodeCases(rng: Rng): KernelCase[] {
  const shapes = [
    { N: 1, offset: 0, H: 4, KVH: 2, D: 16, beta: 1, window: 0, rotate: 1, spare: 3 },
    { N: 1, offset: 64, H: 4, KVH: 2, D: 32, beta: 1.3, window: 0, rotate: 1, spare: 0 },
    { N: 3, offset: 125, H: 6, KVH: 2, D: 24, beta: 0.8, window: 0, rotate: 0, spare: 5 },
    { N: 2, offset: 30, H: 4, KVH: 2, D: 16, beta: 1, window: 1, rotate: 1, spare: 1 },
    { N: 1, offset: 90, H: 4, KVH: 4, D: 64, beta: 1.5, window: 7, rotate: 1, spare: 0 },
    { N: 1, offset: 20, H: 1, KVH: 1, D: 32, beta: 1.2, window: 1000, rotate: 0, spare: 2 },
    {
      N: rng.int(1, 4),
      offset: rng.int(0, 150),
      H: 4,
      KVH: rng.pick([1, 2, 4]),
      D: rng.pick([16, 32]),
      beta: 0.5 + 2 * rng.next(),
      window: rng.pick([0, rng.int(1, 80)]),
      rotate: rng.pick([0, 1]),
      spare: rng.int(0, 6),
    },
  ];
  return shapes.map((shape) => {
    const { N, offset, H, KVH, D, beta, window, rotate, spare } = shape;
    const rows = offset + N + spare;
    const cache = () => {
      const data = rng.normals(rows * KVH * D);
      data.fill(1e30, (offset + N) * KVH * D);
      return f32(data, [rows, KVH * D]);
    };
    const tables: Record<string, HostTensor> = rotate
      ? { cos: f32(rng.normals(rows * (D / 2)), [rows, D / 2]), sin: f32(rng.normals(rows * (D / 2)), [rows, D / 2]) }
      : {};
    return {
      label: `N=${N} offset=${offset} H=${H} KVH=${KVH} D=${D} beta=${beta.toFixed(3)}${window ? ` window=${window}` : ''} ${rotate ? 'rotated' : 'none'} spare=${spare}`,
      inputs: { q: f32(rng.normals(N * H * D), [N, H * D]), kCache: cache(), vCache: cache(), ...tables },
      params: { ...shape, beta: Math.fround(beta) },
    };
  });
}

/**
 * RoPE cases with tables from positions.ts: plain rope and yarn:2 (whose tables carry HF's
 * attention scaling, so cos^2 + sin^2 != 1), T past max_position_embeddings, a position offset,
 * and tables with more rows than needed.
 */
function ropeCases(rng: Rng): KernelCase[] {
  const shapes = [
    { mode: 'rope', B: 1, T: 1, heads: 1, D: 2, offset: 0, maxPos: 8, extra: 0 },
    { mode: 'rope', B: 2, T: 37, heads: 3, D: 16, offset: 0, maxPos: 32, extra: 5 },
    { mode: 'yarn:2', B: 1, T: 50, heads: 2, D: 32, offset: 0, maxPos: 16, extra: 0 },
    { mode: 'yarn:2', B: 3, T: 5, heads: 4, D: 16, offset: 7, maxPos: 16, extra: 3 },
    {
      mode: rng.pick(['rope', 'yarn:2']),
      B: rng.int(1, 3),
      T: rng.int(1, 40),
      heads: rng.int(1, 4),
      D: 2 * rng.int(1, 20),
      offset: rng.int(0, 10),
      maxPos: 32,
      extra: rng.int(0, 4),
    },
  ];
  return shapes.map(({ mode, B, T, heads, D, offset, maxPos, extra }) => {
    const P = offset + T + extra;
    const tables = rotaryTables(parsePositionMode(mode), { headDim: D, ropeTheta: 10000, maxPositionEmbeddings: maxPos }, P);
    if (!tables) throw new Error(`${mode} has no rotary tables`);
    const rows = B * T;
    return {
      label: `${mode} rows=${rows} T=${T} heads=${heads} D=${D} offset=${offset} table=[${P}, ${D / 2}] max_pos=${maxPos}`,
      inputs: {
        x: f32(rng.normals(rows * heads * D), [rows, heads * D]),
        cos: f32(tables.cos, [P, D / 2]),
        sin: f32(tables.sin, [P, D / 2]),
      },
      params: { T, heads, headDim: D, positionOffset: offset },
    };
  });
}

/** HF's apply_rotary_pos_emb (test/reference/rope.ts) on a case; `sign` -1 is the backward pass. */
function ropeCaseReference({ inputs, params }: KernelCase, sign: 1 | -1): Record<string, ArrayLike<number>> {
  const { T, heads, headDim, positionOffset } = params;
  const shape = { rows: inputs.x.shape[0], T, heads, headDim, positionOffset };
  return { x: ropeReference(inputs.x.data, inputs.cos.data, inputs.sin.data, shape, sign) };
}

export const KERNELS: KernelEntry[] = [
  {
    name: 'rmsnorm.forward',
    // f32 accumulation over at most a few hundred channels: 1e-5 of the output's scale is ample.
    tolerance: 1e-5,
    cases(rng) {
      // One row; rows and widths that are not multiples of the 64-wide workgroup; a few seeded draws.
      const shapes = [
        { rows: 1, C: 64 },
        { rows: 1, C: 5 },
        { rows: 3, C: 100 },
        { rows: 65, C: 130 },
        ...Array.from({ length: 3 }, () => ({ rows: rng.int(1, 70), C: rng.int(1, 300) })),
      ];
      return shapes.map(({ rows, C }) => ({
        label: `rows=${rows} C=${C}`,
        inputs: { x: f32(rng.normals(rows * C, 2), [rows, C]), weight: f32(rng.normals(C), [C]) },
        params: { eps: 1e-5 },
      }));
    },
    reference({ inputs, params }) {
      const [rows, C] = inputs.x.shape;
      return rmsnormReference(inputs.x.data, inputs.weight.data, rows, C, params.eps);
    },
    f16: { activations: ['x'], tolerance: 1e-3 },
    async run(engine, { x, weight }, { eps }, precision) {
      const { rmsnormForward } = await import('../../src/engine/ops/rmsnorm.ts');
      const [rows, C] = x.shape;
      const y = engine.tensor([rows, C], 'y', precision);
      const rstd = engine.tensor([rows], 'rstd');
      rmsnormForward(engine, y, rstd, x, weight, eps);
      return { y, rstd };
    },
  },
  {
    name: 'embedding.forward',
    // A copy: the only error would be a wrong row.
    tolerance: 1e-5,
    cases(rng) {
      const shapes = [
        { R: 1, V: 1, C: 1, bad: false },
        { R: 5, V: 7, C: 3, bad: false },
        // R·C = 65·67 is off the 64-wide workgroup; one id past the vocabulary must give a zero row.
        { R: 65, V: 13, C: 67, bad: true },
        ...Array.from({ length: 2 }, () => ({ R: rng.int(1, 90), V: rng.int(1, 50), C: rng.int(1, 100), bad: false })),
      ];
      return shapes.map(({ R, V, C, bad }) => {
        const ids = Array.from({ length: R }, () => rng.int(0, V - 1));
        if (bad) ids[R >> 1] = V + 3;
        return {
          label: `R=${R} V=${V} C=${C}${bad ? ' (one id >= V)' : ''}`,
          inputs: { ids: u32(ids, [R]), table: f32(rng.normals(V * C), [V, C]) },
          params: {},
        };
      });
    },
    reference({ inputs }) {
      const [V, C] = inputs.table.shape;
      return { out: embeddingReference(inputs.ids.data, inputs.table.data, V, C) };
    },
    f16: { activations: [], tolerance: 1e-3 },
    async run(engine, { ids, table }, _params, precision) {
      const { embeddingForward } = await import('../../src/engine/ops/embedding.ts');
      const out = engine.tensor([ids.shape[0], table.shape[1]], 'out', precision);
      embeddingForward(engine, out, ids, table);
      return { out };
    },
  },
  {
    name: 'swiglu.forward',
    // Elementwise, one exp each: f32 rounding is ~1e-7 of the value; 1e-5 of the scale is ample.
    tolerance: 1e-5,
    cases(rng) {
      const shapes = [
        { R: 1, I: 1, std: 1 },
        { R: 3, I: 65, std: 1 },
        // Gates of +-100 and beyond: exp(-gate) overflows f32 unless silu is computed with care.
        { R: 7, I: 50, std: 60 },
        ...Array.from({ length: 2 }, () => ({ R: rng.int(1, 40), I: rng.int(1, 200), std: 3 })),
      ];
      return shapes.map(({ R, I, std }) => ({
        label: `R=${R} I=${I} gate std=${std}`,
        inputs: { gate: f32(rng.normals(R * I, std), [R, I]), up: f32(rng.normals(R * I), [R, I]) },
        params: {},
      }));
    },
    reference({ inputs }) {
      return { out: swigluReference(inputs.gate.data, inputs.up.data) };
    },
    f16: { activations: ['gate', 'up'], tolerance: 1e-3 },
    async run(engine, { gate, up }, _params, precision) {
      const { swigluForward } = await import('../../src/engine/ops/swiglu.ts');
      const out = engine.tensor(gate.shape, 'out', precision);
      swigluForward(engine, out, gate, up);
      return { out };
    },
  },
  {
    name: 'residual.add_in_place',
    // One f32 addition per element: within half an ulp of the float64 sum.
    tolerance: 1e-5,
    cases(rng) {
      const shapes = [[1], [3, 65], [2, 5, 7], [rng.int(1, 100), rng.int(1, 100)]];
      return shapes.map((shape) => {
        const n = shape.reduce((a, b) => a * b, 1);
        return {
          label: `shape=[${shape}]`,
          inputs: { x: f32(rng.normals(n, 2), shape), y: f32(rng.normals(n), shape) },
          params: {},
        };
      });
    },
    reference({ inputs }) {
      return { x: residualAddReference(inputs.x.data, inputs.y.data) };
    },
    f16: { activations: ['x', 'y'], tolerance: 1e-3 },
    async run(engine, inputs) {
      const { addInPlace } = await import('../../src/engine/ops/residual.ts');
      // In place: the op writes a copy, so the harness still owns (and releases) its inputs.
      const x = copyOf(engine, inputs.x, 'x');
      addInPlace(engine, x, inputs.y);
      return { x };
    },
  },
  {
    name: 'cross_entropy.forward',
    // A 256-wide reduction over up to ~600 logits offset by up to 50: f32 rounding of the
    // log-sum-exp is ~1e-6 of 50; 1e-4 of the largest nll leaves room.
    tolerance: 1e-4,
    cases(rng) {
      const shapes = [
        { R: 1, V: 1, offset: 0 },
        { R: 4, V: 5, offset: 0 },
        // V off the 256-wide workgroup, logits around 50: exp overflows without max subtraction.
        { R: 6, V: 257, offset: 50 },
        { R: 3, V: 600, offset: -20 },
        ...Array.from({ length: 2 }, () => ({ R: rng.int(1, 20), V: rng.int(1, 400), offset: 0 })),
      ];
      return shapes.map(({ R, V, offset }) => {
        // Every third row ignored, as the model ignores each sequence's last position.
        const targets = Array.from({ length: R }, (_, r) => (r % 3 === 2 ? IGNORE : rng.int(0, V - 1)));
        const logits = rng.normals(R * V, 4).map((v) => v + offset);
        return {
          label: `R=${R} V=${V} offset=${offset} ignored=${targets.filter((t) => t === IGNORE).length}`,
          inputs: { logits: f32(logits, [R, V]), targets: u32(targets, [R]) },
          params: {},
        };
      });
    },
    reference({ inputs }) {
      const V = inputs.logits.shape[1];
      return { nll: nllReference(inputs.logits.data, inputs.targets.data, V) };
    },
    // The logits rounded to f16 are the reference's input; the log-sum-exp and nll stay f32.
    f16: { activations: ['logits'], tolerance: 1e-4 },
    async run(engine, { logits, targets }) {
      const { nllForward, IGNORE_TARGET } = await import('../../src/engine/ops/cross_entropy.ts');
      if (IGNORE_TARGET !== IGNORE) throw new Error(`IGNORE_TARGET is ${IGNORE_TARGET}, the table assumes ${IGNORE}`);
      const nll = engine.tensor([logits.shape[0]], 'nll');
      nllForward(engine, nll, logits, targets);
      return { nll };
    },
  },
  {
    name: 'matmul.forward',
    // Sums of up to 80 products of unit normals: f32 accumulation error is ~1e-6 of the largest
    // |c|; 1e-4 allows any summation order.
    tolerance: 1e-4,
    cases: (rng) => matmulCases(rng, 2),
    reference: matmulCaseReference,
    f16: { activations: ['a', 'c0'], tolerance: 1e-3 },
    async run(engine, { a, b, c0 }, { transA, transB, accumulate }) {
      const { matmul } = await import('../../src/engine/ops/matmul.ts');
      const c = copyOf(engine, c0, 'c');
      matmul(engine, c, a, b, { transA: Boolean(transA), transB: Boolean(transB), accumulate: Boolean(accumulate) });
      return { c };
    },
  },
  {
    name: 'matmul.naive',
    // As matmul.forward.
    tolerance: 1e-4,
    cases: (rng) => matmulCases(rng, 1),
    reference: matmulCaseReference,
    async run(engine, { a, b, c0 }, { transA, transB, accumulate }) {
      const { matmulNaive } = await import('../../src/engine/ops/matmul.ts');
      const c = copyOf(engine, c0, 'c');
      matmulNaive(engine, c, a, b, { transA: Boolean(transA), transB: Boolean(transB), accumulate: Boolean(accumulate) });
      return { c };
    },
  },
  {
    name: 'matmul.linear',
    // As matmul.forward.
    tolerance: 1e-4,
    cases(rng) {
      // [R, in] · weight[out, in]^T, with a [B, T, in] activation as the model passes it.
      const shapes = [
        { x: [1, 1], out: 1 },
        { x: [2, 24, 64], out: 97 },
        { x: [37, 64], out: 176 },
        { x: [rng.int(1, 70), rng.int(1, 70)], out: rng.int(1, 70) },
      ];
      return shapes.map(({ x, out }) => {
        const inF = x[x.length - 1];
        const R = x.reduce((p, d) => p * d, 1) / inF;
        return {
          label: `x=[${x}] weight=[${out}, ${inF}]`,
          inputs: { x: f32(rng.normals(R * inF), x), weight: f32(rng.normals(out * inF, 0.2), [out, inF]) },
          params: {},
        };
      });
    },
    reference({ inputs }) {
      const [out, inF] = inputs.weight.shape;
      return { y: linearReference(inputs.x.data, inputs.weight.data, inputs.x.data.length / inF, out, inF) };
    },
    f16: { activations: ['x'], tolerance: 1e-3 },
    async run(engine, { x, weight }, _params, precision) {
      const { linear } = await import('../../src/engine/ops/matmul.ts');
      const y = engine.tensor([...x.shape.slice(0, -1), weight.shape[0]], 'y', precision);
      linear(engine, y, x, weight);
      return { y };
    },
  },
  {
    name: 'attention.forward',
    // Online softmax over up to 70 keys, D-long dot products, logits up to ~100 with qStd 8:
    // f32 error ~1e-6 of the output and of lse; 1e-4 of each output's scale.
    tolerance: 1e-4,
    cases: attentionCases,
    reference: attentionCaseReference,
    f16: { activations: ['q', 'k', 'v'], tolerance: 1e-3 },
    async run(engine, { q, k, v }, params, precision) {
      const { B, T, H, KVH, D } = params;
      const { attentionForward } = await import('../../src/engine/ops/attention.ts');
      const out = engine.tensor([B * T, H * D], 'out', precision);
      const lse = engine.tensor([B, H, T], 'lse');
      attentionForward(engine, out, lse, q, k, v, { B, T, H, KVH, D }, attentionCaseOptions(params));
      return { out, lse };
    },
  },
  {
    name: 'attention.naive',
    // As attention.forward.
    tolerance: 1e-4,
    cases: attentionCases,
    reference: (c) => ({ out: attentionCaseReference(c).out }),
    async run(engine, { q, k, v }, params) {
      const { B, T, H, KVH, D } = params;
      const { attentionNaive } = await import('../../src/engine/ops/attention.ts');
      const out = engine.tensor([B * T, H * D], 'out');
      attentionNaive(engine, out, q, k, v, { B, T, H, KVH, D }, attentionCaseOptions(params));
      return { out };
    },
  },
  {
    name: 'attention.decode',
    // As attention.forward: f32 dot products over D <= 64 of rotated operands; a wrong position,
    // rotation pair, mask or chunk merge moves values by O(1).
    tolerance: 1e-4,
    cases: attentionDecodeCases,
    reference({ inputs, params }) {
      const tables = inputs.cos ? { cos: inputs.cos.data, sin: inputs.sin.data } : null;
      const { N, offset, H, KVH, D, window } = params;
      const shape = { N, offset, H, KVH, D, window: window || undefined };
      return {
        out: attentionDecodeReference(
          inputs.q.data,
          inputs.kCache.data,
          inputs.vCache.data,
          tables,
          shape,
          params.beta / Math.sqrt(params.D),
        ),
      };
    },
    f16: { activations: ['q', 'kCache', 'vCache'], tolerance: 1e-3 },
    async run(engine, { q, kCache, vCache, cos, sin }, { N, offset, H, KVH, D, beta, window }, precision) {
      const { attentionDecode } = await import('../../src/engine/ops/attention.ts');
      const out = engine.tensor([N, H * D], 'out', precision);
      attentionDecode(
        engine,
        out,
        q,
        kCache,
        vCache,
        cos ? { cos, sin } : null,
        { N, offset, H, KVH, D },
        { beta, ...(window ? { window } : {}) },
      );
      return { out };
    },
  },
  {
    name: 'rope.forward',
    // Two products and a sum per element: within an ulp or two of float64.
    tolerance: 1e-5,
    cases: ropeCases,
    reference: (c) => ropeCaseReference(c, 1),
    f16: { activations: ['x'], tolerance: 1e-3 },
    async run(engine, { x: x0, cos, sin }, { T, heads, headDim, positionOffset }) {
      const { ropeForward } = await import('../../src/engine/ops/rope.ts');
      const x = copyOf(engine, x0, 'x');
      ropeForward(engine, x, cos, sin, { rows: x.shape[0], T, heads, headDim, positionOffset });
      return { x };
    },
  },
  {
    name: 'rope.backward',
    // As rope.forward.
    tolerance: 1e-5,
    cases: ropeCases,
    reference: (c) => ropeCaseReference(c, -1),
    async run(engine, { x: dx0, cos, sin }, { T, heads, headDim, positionOffset }) {
      const { ropeBackward } = await import('../../src/engine/ops/rope.ts');
      const x = copyOf(engine, dx0, 'dx');
      ropeBackward(engine, x, cos, sin, { rows: x.shape[0], T, heads, headDim, positionOffset });
      return { x };
    },
  },
];
