import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { linear, matmul, matmulNaive, type MatmulOptions } from '../../src/engine/ops/matmul.ts';
import { Rng } from '../../src/engine/random.ts';
import { expectClose } from '../helpers/compare.ts';
import { roundToF16 } from '../helpers/f16.ts';
import { testEngine } from '../helpers/gpu.ts';
import { matmulReference } from '../reference/matmul.ts';

// The kernel sums K <= ~200 float32 products of N(0, 1) values. The worst-case rounding error of such
// a sum is about K·2^-24·Σ|a·b| ≈ 200 · 6e-8 · 0.64·K ≈ 1.5e-3 for K = 200, while the output's scale
// (its largest magnitude) is about 3·sqrt(K) ≈ 40: a relative error of 4e-5 at worst, typically far
// less (rounding errors largely cancel). 1e-4 of the scale holds with margin, yet a wrong index, a
// dropped tile or a missing K slice would be off by O(1) of the scale.
const TOLERANCE = 1e-4;

type Kernel = typeof matmul;

interface Case {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  accumulate?: boolean;
}

function describeCase({ M, N, K, transA, transB, accumulate }: Case): string {
  const flags = [transA && 'transA', transB && 'transB', accumulate && 'accumulate'].filter(Boolean);
  return `M=${M} N=${N} K=${K}${flags.length ? ` ${flags.join(' ')}` : ''}`;
}

async function checkCase(engine: Engine, kernel: Kernel, rng: Rng, testCase: Case): Promise<void> {
  const { M, N, K } = testCase;
  const options: MatmulOptions = { transA: testCase.transA, transB: testCase.transB, accumulate: testCase.accumulate };
  const a = rng.normals(M * K);
  const b = rng.normals(K * N);
  const c0 = rng.normals(M * N);
  const want = matmulReference(a, b, M, N, K, options, c0);
  const ta = engine.upload(a, options.transA ? [K, M] : [M, K], 'a');
  const tb = engine.upload(b, options.transB ? [N, K] : [K, N], 'b');
  // Without accumulate, C starts out holding garbage: the kernel must overwrite all of it.
  const tc = engine.upload(c0, [M, N], 'c');
  kernel(engine, tc, ta, tb, options);
  expectClose(await engine.read(tc), want, { tolerance: TOLERANCE, what: `C [${M}, ${N}] ${describeCase(testCase)}` });
  engine.release(ta, tb, tc);
}

const ALL_TRANSPOSES = [
  { transA: false, transB: false },
  { transA: true, transB: false },
  { transA: false, transB: true },
  { transA: true, transB: true },
];

// Awkward sizes: a single element, one row (decoding one token), one column, K = 1, exact multiples
// of the 64 x 64 x 16 tile, one past them, and odd sizes near the top of the range.
const FIXED: Case[] = [
  { M: 1, N: 1, K: 1 },
  { M: 1, N: 200, K: 77 },
  { M: 130, N: 1, K: 5 },
  { M: 65, N: 67, K: 1 },
  { M: 64, N: 64, K: 16 },
  { M: 65, N: 129, K: 17 },
  { M: 3, N: 5, K: 7 },
  { M: 197, N: 199, K: 201 },
].flatMap((shape) => ALL_TRANSPOSES.map((t) => ({ ...shape, ...t })));

function randomCases(seed: number, count: number, maxSize: number): Case[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => ({
    M: rng.pick([1, rng.int(1, maxSize)]),
    N: rng.int(1, maxSize),
    K: rng.pick([1, rng.int(1, maxSize), rng.int(1, maxSize)]),
    transA: rng.next() < 0.5,
    transB: rng.next() < 0.5,
    accumulate: rng.next() < 0.5,
  }));
}

describe('matmul.forward', () => {
  const rng = new Rng(2024);
  const cases = [...FIXED, ...ALL_TRANSPOSES.map((t) => ({ M: 37, N: 70, K: 45, ...t, accumulate: true })), ...randomCases(7, 16, 200)];
  for (const testCase of cases) {
    it(describeCase(testCase), async () => checkCase(await testEngine(), matmul, rng, testCase));
  }

  // matmul() sends up to 4 rows against a transposed B (a weight) to the `matvec` entry point.
  const matvecCases: Case[] = [1, 2, 3, 4, 5].flatMap((M) => [
    { M, N: 131, K: 257, transB: true },
    { M, N: 64, K: 512, transB: true, accumulate: true },
    { M, N: 1, K: 3, transB: true },
  ]);
  for (const testCase of matvecCases) {
    it(`${describeCase(testCase)} (matvec up to 4 rows)`, async () => checkCase(await testEngine(), matmul, rng, testCase));
  }

  it('flattens leading dimensions: linear() on x [2, 3, in] with weight [out, in]', async () => {
    const engine = await testEngine();
    const [B, T, inF, outF] = [2, 3, 40, 9];
    const x = rng.normals(B * T * inF);
    const w = rng.normals(outF * inF);
    const want = matmulReference(x, w, B * T, outF, inF, { transB: true });
    const tx = engine.upload(x, [B, T, inF], 'x');
    const tw = engine.upload(w, [outF, inF], 'weight');
    const ty = engine.tensor([B, T, outF], 'y');
    linear(engine, ty, tx, tw);
    expectClose(await engine.read(ty), want, { tolerance: TOLERANCE, what: `y [${B}, ${T}, ${outF}]` });
    engine.release(tx, tw, ty);
  });

  it('rejects shapes that do not agree, with the tensors named', async () => {
    const engine = await testEngine();
    const a = engine.tensor([4, 5], 'a');
    const b = engine.tensor([6, 3], 'b');
    const c = engine.tensor([4, 3], 'c');
    expect(() => matmul(engine, c, a, b)).toThrow(/inner dimensions differ: a \[4, 5\] is \[4, 5\] but b \[6, 3\] is \[6, 3\]/);
    expect(() => matmul(engine, engine.tensor([4, 4], 'c2'), a, engine.tensor([5, 3], 'b2'))).toThrow(
      /output c2 \[4, 4\] is \[4, 4\] but .* is \[4, 3\]/,
    );
    expect(() => matmul(engine, c, a, engine.tensor([3, 5], 'bt'), { transB: true })).not.toThrow();
    expect(() => matmul(engine, a, a, engine.tensor([5, 5], 'sq'))).toThrow(/also an input/);
    expect(() => linear(engine, c, a, engine.tensor([1, 3, 5], 'w3'))).toThrow(/must be 2-D/);
    expect(() => matmul(engine, c, engine.tensor([4, 5], 'ids', 'u32'), engine.tensor([5, 3], 'b3'))).toThrow(/u32/);
    await engine.sync();
  });
});

describe('matmul.naive', () => {
  const rng = new Rng(99);
  const cases = [
    ...[
      { M: 1, N: 1, K: 1 },
      { M: 33, N: 65, K: 19 },
    ].flatMap((shape) => ALL_TRANSPOSES.map((t) => ({ ...shape, ...t }))),
    ...randomCases(11, 4, 120),
  ];
  for (const testCase of cases) {
    it(describeCase(testCase), async () => checkCase(await testEngine(), matmulNaive, rng, testCase));
  }
});

describe('matmul with f16 weights (linear on an f16 weight)', () => {
  const rng = new Rng(1616);

  it('packs and unpacks values as binary16 rounding does: ties, subnormals, overflow', async () => {
    const engine = await testEngine();
    const special = [
      0,
      -0,
      1,
      -1,
      65504,
      65519.99,
      65520,
      1e6,
      -1e6,
      2 ** -14,
      2 ** -24,
      2 ** -25,
      1.5 * 2 ** -25,
      3 * 2 ** -26,
      0.5,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      2048 + 1,
      2048 + 3,
      0.1,
      -0.3333,
      Math.PI,
      6e-5,
      1e-8,
      Infinity,
      -Infinity,
    ];
    const values = new Float32Array([...special, ...rng.normals(400, 10), ...rng.normals(200, 1e-5)]);
    const t = engine.upload(values, [values.length / 2, 2], 'f16.roundtrip', 'f16');
    expect(t.dtype).toBe('f16');
    expect(t.buffer.size).toBe(values.length * 2);
    const back = await engine.read(t);
    const want = Array.from(values, roundToF16);
    for (let i = 0; i < values.length; i++) expect(back[i], `${values[i]} -> f16`).toBe(want[i]);
    engine.release(t);
  });

  interface LinearCase {
    R: number;
    out: number;
    inF: number;
  }
  // One row (decoding), sizes below, at and past the 64 x 64 tile and the TK = 8 slice, in = 2.
  const cases: LinearCase[] = [
    { R: 1, out: 1, inF: 2 },
    { R: 1, out: 130, inF: 78 },
    { R: 3, out: 5, inF: 6 },
    { R: 17, out: 65, inF: 18 },
    { R: 64, out: 64, inF: 16 },
    { R: 70, out: 9, inF: 130 },
    // matvec (up to 4 rows) over more than one 256-deep slice of A
    { R: 2, out: 70, inF: 600 },
    { R: 4, out: 3, inF: 514 },
  ];
  const random = new Rng(5);
  for (let i = 0; i < 6; i++) cases.push({ R: random.pick([1, random.int(1, 150)]), out: random.int(1, 150), inF: 2 * random.int(1, 100) });

  for (const { R, out, inF } of cases) {
    it(`R=${R} out=${out} in=${inF}`, async () => {
      const engine = await testEngine();
      const x = rng.normals(R * inF);
      // Weights at a checkpoint-like scale (std 0.05), where binary16 keeps 11 significant bits.
      const w = rng.normals(out * inF, 0.05);
      const want = matmulReference(x, Float32Array.from(w, roundToF16), R, out, inF, { transB: true });
      const tx = engine.upload(x, [R, inF], 'x');
      const tw = engine.upload(w, [out, inF], 'weight', 'f16');
      const ty = engine.upload(rng.normals(R * out), [R, out], 'y'); // garbage to overwrite
      // Against the rounded weights the only difference left is f32 accumulation, as for f32
      // weights: the same tolerance (see TOLERANCE). Reading the wrong half or word is O(1) off.
      linear(engine, ty, tx, tw);
      expectClose(await engine.read(ty), want, { tolerance: TOLERANCE, what: `linear f16 y [${R}, ${out}]` });
      // The baseline kernel reads B through the same load_b.
      matmulNaive(engine, ty, tx, tw, { transB: true });
      expectClose(await engine.read(ty), want, { tolerance: TOLERANCE, what: `naive f16 y [${R}, ${out}]` });
      engine.release(tx, tw, ty);
    });
  }

  it('is closer to the rounded weights than f16 rounding moves the product', async () => {
    // Guards against the kernel (or the upload) quietly using f32 weights: with in = 200 the rounding
    // moves y by ~1e-4 of its scale, and the kernel must match the rounded product 10x better.
    const engine = await testEngine();
    const [R, out, inF] = [4, 50, 200];
    const x = rng.normals(R * inF);
    const w = rng.normals(out * inF, 0.05);
    const rounded = matmulReference(x, Float32Array.from(w, roundToF16), R, out, inF, { transB: true });
    const exact = matmulReference(x, w, R, out, inF, { transB: true });
    const tx = engine.upload(x, [R, inF], 'x');
    const tw = engine.upload(w, [out, inF], 'weight', 'f16');
    const ty = engine.tensor([R, out], 'y');
    linear(engine, ty, tx, tw);
    const got = await engine.read(ty);
    const maxDiff = (p: ArrayLike<number>, q: ArrayLike<number>) => Math.max(...Array.from(p, (v, i) => Math.abs(v - q[i])));
    const roundingShift = maxDiff(rounded, exact);
    expect(roundingShift).toBeGreaterThan(0);
    expect(maxDiff(got, rounded)).toBeLessThan(roundingShift / 10);
    engine.release(tx, tw, ty);
  });

  it('rejects an odd in, saying pairs need an even last dimension', async () => {
    const engine = await testEngine();
    // An odd-length f16 tensor can exist (an activation row may be odd), but not as packed weight rows.
    const oddWeight = engine.upload(new Float32Array(15), [3, 5], 'w.odd', 'f16');
    expect(() => linear(engine, engine.tensor([2, 3], 'y'), engine.tensor([2, 5], 'x'), oddWeight)).toThrow(
      /w\.odd \[3, 5\] packs pairs along in = 5, which must be even/,
    );
    // A view that makes in odd is caught too.
    const tw = engine.upload(new Float32Array(12), [3, 4], 'w', 'f16');
    const odd = { ...tw, shape: [4, 3] };
    expect(() => linear(engine, engine.tensor([2, 4], 'y'), engine.tensor([2, 3], 'x'), odd)).toThrow(/in = 3, which must be even/);
    expect(() => matmul(engine, engine.tensor([2, 3], 'c'), engine.tensor([2, 4], 'a'), odd)).toThrow(/must be even/);
    await engine.sync();
  });
});
