import { describe, expect, it } from 'vitest';
import {
  attentionBackward,
  attentionForward,
  attentionNaive,
  attentionProbabilities,
  backwardTiles,
  forwardTiles,
  MAX_HEAD_DIM,
  MIN_HEAD_DIM,
  type AttentionShape,
  type ForwardTiles,
} from '../../src/engine/ops/attention.ts';
import { Rng } from '../../src/engine/random.ts';
import { expectClose, maxAbs } from '../helpers/compare.ts';
import { finiteDifferences } from '../helpers/finite-differences.ts';
import { testEngine } from '../helpers/gpu.ts';
import { attentionProbabilitiesReference, attentionReference, firstVisibleKey } from '../reference/attention.ts';

interface Case extends AttentionShape {
  beta: number;
  /** Keys each query sees (an attention window); absent: all earlier keys. */
  window?: number;
  scale?: number;
  /** Standard deviation of q: large values give logits past exp's f32 range unless the max is subtracted. */
  qStd: number;
  /** Tiles of attention.forward other than this adapter's default. */
  tiles?: ForwardTiles;
}

const HEADS: [number, number][] = [
  [1, 1],
  [4, 2],
  [4, 4],
  [6, 2],
  [8, 1],
];
const HEAD_DIMS = [16, 24, 32, 64, 128];

function describeCase(c: Case): string {
  const tiles = c.tiles ? ` tiles=${JSON.stringify(c.tiles)}` : '';
  const window = c.window ? ` window=${c.window}` : '';
  return `B=${c.B} T=${c.T} H=${c.H} KVH=${c.KVH} D=${c.D} beta=${c.beta}${c.scale ? ` scale=${c.scale}` : ''}${window} qStd=${c.qStd}${tiles}`;
}

describe('attention', () => {
  const rng = new Rng(20240611);
  const { NQ, QB } = forwardTiles(32);
  const BQ = NQ * QB; // queries per forward workgroup at D = 32 on a software adapter
  const cases: Case[] = [
    // A single token: the softmax over one key is 1, out = v, lse = its logit.
    { B: 1, T: 1, H: 4, KVH: 2, D: 32, beta: 1, qStd: 1 },
    // T one past a query block and not a multiple of any key tile; every head layout once.
    { B: 2, T: BQ + 1, H: 6, KVH: 2, D: 24, beta: 1.5, qStd: 1 },
    { B: 1, T: 37, H: 8, KVH: 1, D: 16, beta: 0.7, qStd: 1 },
    { B: 3, T: 19, H: 1, KVH: 1, D: 64, beta: 2, qStd: 1 },
    { B: 1, T: 200, H: 4, KVH: 4, D: 128, beta: 1.3, qStd: 1 },
    { B: 1, T: 50, H: 4, KVH: 2, D: 32, beta: 1, scale: 0.05, qStd: 1 },
    // Logits of ~100 and more: exp overflows f32 unless the running max is subtracted.
    { B: 1, T: 150, H: 4, KVH: 2, D: 32, beta: 3, qStd: 12 },
    // A head dim of 11 vec4s: 11 invocations of 1 vec4 share each query.
    { B: 1, T: 45, H: 2, KVH: 1, D: 44, beta: 0.9, qStd: 1 },
    // The GPU tiles (one query per invocation), and 2 or 3 queries per invocation with short tiles.
    { B: 2, T: 150, H: 4, KVH: 2, D: 32, beta: 1.4, qStd: 1, tiles: forwardTiles(32, false) },
    { B: 1, T: 70, H: 4, KVH: 1, D: 64, beta: 0.8, qStd: 1, tiles: forwardTiles(64, false) },
    { B: 1, T: 50, H: 4, KVH: 2, D: 32, beta: 1.6, qStd: 1, tiles: { CH: 4, NQ: 8, QB: 3, BK: 8 } },
    { B: 2, T: 33, H: 6, KVH: 2, D: 24, beta: 1.3, qStd: 1, tiles: { CH: 6, NQ: 4, QB: 2, BK: 6 } },
    // Attention windows: shorter than a key tile, longer than a query block, of one key (out = v),
    // as long as T and longer (plain causal), with the head dim in slices and the GPU tiles.
    { B: 2, T: 150, H: 4, KVH: 2, D: 32, beta: 1.2, qStd: 1, window: 7 },
    { B: 1, T: 200, H: 4, KVH: 1, D: 64, beta: 0.9, qStd: 1, window: BQ + 5 },
    { B: 1, T: 40, H: 2, KVH: 2, D: 16, beta: 1, qStd: 1, window: 1 },
    { B: 1, T: 45, H: 6, KVH: 2, D: 24, beta: 1.1, qStd: 1, window: 45 },
    { B: 1, T: 30, H: 4, KVH: 2, D: 32, beta: 1.1, qStd: 1, window: 1000 },
    { B: 1, T: 90, H: 4, KVH: 2, D: 128, beta: 1.5, qStd: 1, window: 20 },
    { B: 2, T: 100, H: 4, KVH: 2, D: 32, beta: 1.4, qStd: 1, window: 33, tiles: forwardTiles(32, false) },
    // Seeded random shapes.
    ...Array.from({ length: 5 }, (): Case => {
      const [H, KVH] = rng.pick(HEADS);
      return { B: rng.int(1, 3), T: rng.int(1, 200), H, KVH, D: rng.pick(HEAD_DIMS), beta: 0.5 + 2 * rng.next(), qStd: 1 };
    }),
  ];

  for (const c of cases) {
    it(describeCase(c), async () => {
      const engine = await testEngine();
      const { B, T, H, KVH, D } = c;
      const q = rng.normals(B * T * H * D, c.qStd);
      const k = rng.normals(B * T * KVH * D);
      const v = rng.normals(B * T * KVH * D);
      const qkScale = c.beta * (c.scale ?? 1 / Math.sqrt(D));
      const want = attentionReference(q, k, v, c, qkScale);

      const tq = engine.upload(q, [B * T, H * D], 'q');
      const tk = engine.upload(k, [B * T, KVH * D], 'k');
      const tv = engine.upload(v, [B * T, KVH * D], 'v');
      const out = engine.tensor([B * T, H * D], 'out');
      const lse = engine.tensor([B, H, T], 'lse');
      const naiveOut = engine.tensor([B * T, H * D], 'naive_out');
      const options = { beta: c.beta, scale: c.scale, window: c.window };
      attentionForward(engine, out, lse, tq, tk, tv, c, { ...options, tiles: c.tiles });
      attentionNaive(engine, naiveOut, tq, tk, tv, c, options);

      // Tolerance 1e-4 of the largest reference magnitude: f32 dot products over D <= 128 carry a
      // relative error near D * 2^-24 ~ 1e-5 of |q||k|, SwiftShader's exp2 a few ulps, and a logit
      // error e scales a softmax weight by (1 + e); outputs are convex combinations of v, and lse
      // is a logit plus log(sum) < log(T). Observed errors stay under 5e-7 of the scale (200x
      // margin), while an indexing, masking or head-mapping bug moves values by O(1).
      const what = describeCase(c);
      expectClose(await engine.read(out), want.out, { tolerance: 1e-4, what: `forward out ${what}` });
      expectClose(await engine.read(lse), want.lse, { tolerance: 1e-4, what: `forward lse ${what}` });
      expectClose(await engine.read(naiveOut), want.out, { tolerance: 1e-4, what: `naive out ${what}` });
      engine.release(tq, tk, tv, out, lse, naiveOut);
    });
  }

  it('tiles every head dim within the workgroup limits', () => {
    for (let D = MIN_HEAD_DIM; D <= MAX_HEAD_DIM; D += 4)
      for (const software of [true, false]) {
        const { CH, NQ, QB, BK } = forwardTiles(D, software);
        const G = D / 4 / CH;
        expect(Number.isInteger(G) && CH >= 1 && CH <= 8, `D=${D} CH=${CH}`).toBe(true);
        expect(NQ * G, `D=${D} invocations`).toBeLessThanOrEqual(256);
        const bytes = 4 * (2 * BK * D + (G > 1 ? G * BK * NQ * QB : 1));
        expect(bytes, `D=${D} workgroup bytes`).toBeLessThanOrEqual(32 * 1024);
        expect(QB >= 1 && QB <= 4, `D=${D} QB=${QB}`).toBe(true);
      }
  });

  it('rejects bad shapes with a clear message', async () => {
    const engine = await testEngine();
    const shape = { B: 1, T: 4, H: 4, KVH: 2, D: 16 };
    const q = engine.tensor([4, 64], 'q');
    const kv = engine.tensor([4, 32], 'kv');
    const out = engine.tensor([4, 64], 'out');
    const lse = engine.tensor([1, 4, 4], 'lse');
    expect(() => attentionForward(engine, out, lse, q, kv, kv, { ...shape, KVH: 3 })).toThrow(/KVH=3 .* must divide H=4/);
    expect(() => attentionForward(engine, out, lse, q, kv, kv, { ...shape, D: 8, H: 8 })).toThrow(/head dim D=8/);
    expect(() => attentionNaive(engine, out, q, kv, kv, { ...shape, D: 18 })).toThrow(/multiple of 4/);
    expect(() => attentionForward(engine, out, lse, q, q, kv, shape)).toThrow(/k \(q\) \[4, 64\] should be \[B\*T, KVH\*D\] = \[4, 32\]/);
    expect(() => attentionForward(engine, out, engine.tensor([4, 4], 'lse2'), q, kv, kv, { ...shape, B: 2, T: 2 })).not.toThrow();
    expect(() => attentionForward(engine, out, engine.tensor([3], 'lse3'), q, kv, kv, shape)).toThrow(
      /lse \(lse3\) \[3\] should be \[B, H, T\]/,
    );
    expect(() => attentionNaive(engine, out, q, kv, kv, { ...shape, T: 0 })).toThrow(/T must be a positive integer/);
    expect(() => attentionForward(engine, out, lse, q, kv, kv, shape, { window: 0 })).toThrow(/window must be a positive integer/);
    expect(() => attentionForward(engine, out, lse, q, kv, kv, shape, { window: 2.5 })).toThrow(/window must be a positive integer/);
    await engine.sync();
  });
});

/**
 * Float64 CPU forward and gradients of causal GQA attention, written from the definition rather
 * than from the kernels' formulas: per (b, h, t), P = softmax over the keys j that t sees
 * (t - window < j <= t) of L = c * q[t]·k[j]
 * (c = beta * scale), out[t] = sum_j P[j] v[j]. For a loss with gradient dO = dout of out:
 *   dv[j] += P[j] dO[t]                        (out is linear in v)
 *   dL[j]  = P[j] (dO·v[j] - dO·out[t])         (softmax's Jacobian: diag(P) - P P^T)
 *   dq[t] += c dL[j] k[j],   dk[j] += c dL[j] q[t]
 * summed over the query heads of each kv head (HF's repeat_kv copies k and v to every head of the
 * group, so their gradients add). The finite-difference test below checks this reference itself.
 */
function attentionGradReference(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dout: ArrayLike<number>,
  shape: AttentionShape & { window?: number },
  c: number,
) {
  const { B, T, H, KVH, D } = shape;
  const out = new Float64Array(B * T * H * D);
  const dq = new Float64Array(B * T * H * D);
  const dk = new Float64Array(B * T * KVH * D);
  const dv = new Float64Array(B * T * KVH * D);
  const P = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / KVH));
      for (let t = 0; t < T; t++) {
        const qBase = (b * T + t) * H * D + h * D;
        const kBase = (j: number) => (b * T + j) * KVH * D + kvh * D;
        const first = firstVisibleKey(t, shape.window);
        let max = -Infinity;
        for (let j = first; j <= t; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qBase + d] * k[kBase(j) + d];
          P[j] = c * dot;
          max = Math.max(max, P[j]);
        }
        let sum = 0;
        for (let j = first; j <= t; j++) sum += P[j] = Math.exp(P[j] - max);
        for (let j = first; j <= t; j++) P[j] /= sum;
        for (let j = first; j <= t; j++) for (let d = 0; d < D; d++) out[qBase + d] += P[j] * v[kBase(j) + d];
        let doOut = 0;
        for (let d = 0; d < D; d++) doOut += dout[qBase + d] * out[qBase + d];
        for (let j = first; j <= t; j++) {
          let doV = 0;
          for (let d = 0; d < D; d++) doV += dout[qBase + d] * v[kBase(j) + d];
          const dL = P[j] * (doV - doOut);
          for (let d = 0; d < D; d++) {
            dq[qBase + d] += c * dL * k[kBase(j) + d];
            dk[kBase(j) + d] += c * dL * q[qBase + d];
            dv[kBase(j) + d] += P[j] * dout[qBase + d];
          }
        }
      }
    }
  }
  return { out, dq, dk, dv };
}

interface BackwardCase extends AttentionShape {
  beta: number;
  window?: number;
  scale?: number;
  qStd: number;
  /** Tiles of the backward kernels other than this adapter's default. */
  tiles?: ForwardTiles;
}

/** Runs attentionForward then attentionBackward on the GPU; returns the three gradients. */
async function gpuGradients(c: BackwardCase, q: Float32Array, k: Float32Array, v: Float32Array, dout: Float32Array) {
  const engine = await testEngine();
  const { B, T, H, KVH, D } = c;
  const tq = engine.upload(q, [B * T, H * D], 'q');
  const tk = engine.upload(k, [B * T, KVH * D], 'k');
  const tv = engine.upload(v, [B * T, KVH * D], 'v');
  const tdout = engine.upload(dout, [B * T, H * D], 'dout');
  const out = engine.tensor([B * T, H * D], 'out');
  const lse = engine.tensor([B, H, T], 'lse');
  // Gradients start as garbage, not zero: the kernels must overwrite every value.
  const dq = engine.upload(new Float32Array(B * T * H * D).fill(NaN), [B * T, H * D], 'dq');
  const dk = engine.upload(new Float32Array(B * T * KVH * D).fill(NaN), [B * T, KVH * D], 'dk');
  const dv = engine.upload(new Float32Array(B * T * KVH * D).fill(NaN), [B * T, KVH * D], 'dv');
  const options = { beta: c.beta, scale: c.scale, window: c.window };
  attentionForward(engine, out, lse, tq, tk, tv, c, options);
  attentionBackward(engine, dq, dk, dv, tdout, tq, tk, tv, out, lse, c, { ...options, tiles: c.tiles });
  const got = { dq: await engine.read(dq), dk: await engine.read(dk), dv: await engine.read(dv) };
  engine.release(tq, tk, tv, tdout, out, lse, dq, dk, dv);
  return got;
}

function describeBackward(c: BackwardCase): string {
  return describeCase(c);
}

describe('attention backward', () => {
  const rng = new Rng(20240705);
  const { NQ, QB } = backwardTiles(32);
  const BQ = NQ * QB; // queries (backward_dq) and keys (backward_dkv) per workgroup at D = 32
  const HEADS_BW: [number, number][] = [
    [1, 1],
    [4, 2],
    [4, 4],
    [8, 1],
  ];
  const cases: BackwardCase[] = [
    // One token: P = 1, so dq = dk = 0 exactly and dv = dO summed over the group's heads.
    { B: 1, T: 1, H: 4, KVH: 2, D: 32, beta: 1, qStd: 1 },
    // T one past a block of queries/keys and not a multiple of the tile BK; each head layout.
    { B: 2, T: BQ + 1, H: 4, KVH: 2, D: 32, beta: 1.5, qStd: 1 },
    { B: 1, T: 37, H: 8, KVH: 1, D: 16, beta: 0.7, qStd: 1 },
    { B: 2, T: 19, H: 1, KVH: 1, D: 64, beta: 2, qStd: 1 },
    { B: 1, T: 30, H: 4, KVH: 4, D: 64, beta: 1.3, scale: 0.1, qStd: 1 },
    // Peaked softmaxes (logits of tens): P underflows for most keys, exp2 must not overflow.
    { B: 1, T: 40, H: 4, KVH: 2, D: 32, beta: 3, qStd: 6 },
    // The GPU's tiles (one row per invocation); then 3 or 2 rows per invocation, with the head dim
    // split into 4 or 2 slices (D = 64 by default has 2), and tiles of BK that do not divide T.
    // Each distinct set of tiles compiles three pipelines (~1-2 s each on SwiftShader), so the
    // variants are few and small; D = 128 runs the same code as D = 64 with G = 4.
    { B: 2, T: 45, H: 4, KVH: 2, D: 32, beta: 1.4, qStd: 1, tiles: backwardTiles(32, false) },
    { B: 1, T: 29, H: 4, KVH: 2, D: 32, beta: 1.6, qStd: 1, tiles: { CH: 2, NQ: 8, QB: 3, BK: 8 } },
    { B: 2, T: 17, H: 4, KVH: 2, D: 16, beta: 0.6, qStd: 1, tiles: { CH: 2, NQ: 4, QB: 2, BK: 5 } },
    // Attention windows: shorter than a tile, longer than a block of keys, one key, longer than T,
    // and with the head dim in slices.
    { B: 2, T: 70, H: 4, KVH: 2, D: 32, beta: 1.2, qStd: 1, window: 6 },
    { B: 1, T: 90, H: 4, KVH: 1, D: 32, beta: 0.9, qStd: 1, window: BQ + 3 },
    { B: 1, T: 20, H: 2, KVH: 1, D: 16, beta: 1, qStd: 1, window: 1 },
    { B: 1, T: 25, H: 4, KVH: 2, D: 32, beta: 1.1, qStd: 1, window: 500 },
    { B: 1, T: 40, H: 4, KVH: 2, D: 64, beta: 1.3, qStd: 1, window: 9 },
    // Seeded random shapes.
    ...Array.from({ length: 4 }, (): BackwardCase => {
      const [H, KVH] = rng.pick(HEADS_BW);
      return { B: rng.int(1, 2), T: rng.int(1, 80), H, KVH, D: rng.pick([16, 32, 64]), beta: 0.5 + 2 * rng.next(), qStd: 1 };
    }),
  ];

  for (const c of cases) {
    it(describeBackward(c), async () => {
      const { B, T, H, KVH, D } = c;
      const q = rng.normals(B * T * H * D, c.qStd);
      const k = rng.normals(B * T * KVH * D);
      const v = rng.normals(B * T * KVH * D);
      const dout = rng.normals(B * T * H * D);
      const want = attentionGradReference(q, k, v, dout, c, c.beta * (c.scale ?? 1 / Math.sqrt(D)));
      const got = await gpuGradients(c, q, k, v, dout);

      // Tolerance 1e-4 of each gradient's scale (its largest reference magnitude). The f32 error
      // of a term dS = P (dO·v - dO·out) is ~D * 2^-24 of |dO||v| from the two dot products and
      // their difference, plus P's relative error from the logit (~D * 2^-24 of |q||k| times
      // beta*scale, and lse's rounding); terms add over at most (H/KVH) * T ~ 600 pairs, which
      // grows the error only like sqrt(count) when rounding is unbiased. Observed errors stay under
      // 1e-6 of the scale, and near 4e-6 with the peaked softmaxes (lse ~ 50 carries f32 rounding of
      // ~50 * 2^-24, which scales every P by 1 + 3e-6): a 25x margin or more, while an indexing,
      // masking or head-mapping bug moves values by O(1). The floor of the scale, 1e-3 of dv's,
      // covers T = 1, where the exact dq and dk vanish and f32 may leave ~1e-7 of |dO||v| of
      // cancellation noise.
      const what = describeBackward(c);
      const floor = 1e-3 * maxAbs(want.dv);
      expectClose(got.dq, want.dq, { tolerance: 1e-4, minScale: floor, what: `dq ${what}` });
      expectClose(got.dk, want.dk, { tolerance: 1e-4, minScale: floor, what: `dk ${what}` });
      expectClose(got.dv, want.dv, { tolerance: 1e-4, minScale: floor, what: `dv ${what}` });
    });
  }

  it('matches finite differences of a float64 attention forward, for q, k and v', async () => {
    for (const c of [
      { B: 1, T: 5, H: 4, KVH: 2, D: 16, beta: 1.3, qStd: 1 },
      { B: 2, T: 3, H: 2, KVH: 1, D: 16, beta: 0.8, scale: 0.4, qStd: 1 },
      { B: 1, T: 6, H: 2, KVH: 1, D: 16, beta: 1.1, qStd: 1, window: 3 },
    ] as BackwardCase[]) {
      const { B, T, H, KVH, D } = c;
      const q = rng.normals(B * T * H * D);
      const k = rng.normals(B * T * KVH * D);
      const v = rng.normals(B * T * KVH * D);
      const w = rng.normals(B * T * H * D); // loss = sum(w * out), so dO = w
      const cs = c.beta * (c.scale ?? 1 / Math.sqrt(D));
      const q64 = Float64Array.from(q);
      const k64 = Float64Array.from(k);
      const v64 = Float64Array.from(v);
      const loss = (qq: Float64Array, kk: Float64Array, vv: Float64Array) => {
        const { out } = attentionGradReference(qq, kk, vv, w, c, cs);
        let s = 0;
        for (let i = 0; i < out.length; i++) s += w[i] * out[i];
        return s;
      };
      // h = 1e-4 in float64: central differences err by O(h^2) ~ 1e-8 (logits and their
      // derivatives are O(1)), rounding by ~1e-16 * |loss| / h ~ 1e-11: both far below the f32
      // gradient's ~1e-6 relative error, so the GPU must match within 1e-4 of each gradient's
      // scale, and the float64 reference within 1e-6.
      const fd = {
        dq: finiteDifferences((x) => loss(x, k64, v64), q64, 1e-4),
        dk: finiteDifferences((x) => loss(q64, x, v64), k64, 1e-4),
        dv: finiteDifferences((x) => loss(q64, k64, x), v64, 1e-4),
      };
      const reference = attentionGradReference(q, k, v, w, c, cs);
      const got = await gpuGradients(c, q, k, v, w);
      const what = describeBackward(c);
      for (const name of ['dq', 'dk', 'dv'] as const) {
        expectClose(reference[name], fd[name], { tolerance: 1e-6, what: `reference ${name} vs finite differences ${what}` });
        expectClose(got[name], fd[name], { tolerance: 1e-4, what: `${name} vs finite differences ${what}` });
      }
    }
  });

  it('is deterministic: the same inputs give bit-identical gradients', async () => {
    const c: BackwardCase = { B: 2, T: 50, H: 8, KVH: 2, D: 32, beta: 1.2, qStd: 1 };
    const { B, T, H, KVH, D } = c;
    const q = rng.normals(B * T * H * D);
    const k = rng.normals(B * T * KVH * D);
    const v = rng.normals(B * T * KVH * D);
    const dout = rng.normals(B * T * H * D);
    const a = await gpuGradients(c, q, k, v, dout);
    const b = await gpuGradients(c, q, k, v, dout);
    for (const name of ['dq', 'dk', 'dv'] as const) expect(Array.from(b[name]), name).toEqual(Array.from(a[name]));
  });

  it('tiles every head dim within the workgroup limits', () => {
    for (let D = MIN_HEAD_DIM; D <= MAX_HEAD_DIM; D += 4)
      for (const software of [true, false]) {
        const { CH, NQ, QB, BK } = backwardTiles(D, software);
        const G = D / 4 / CH;
        expect(Number.isInteger(G) && CH >= 1 && CH <= 8, `D=${D} CH=${CH}`).toBe(true);
        expect(NQ * G, `D=${D} invocations`).toBeLessThanOrEqual(256);
        const bytes = 4 * (2 * BK * D + 2 * BK + (G > 1 ? 2 * G * BK * NQ * QB : 2));
        expect(bytes, `D=${D} workgroup bytes`).toBeLessThanOrEqual(32 * 1024);
      }
  });

  it('rejects bad shapes and aliasing with a clear message', async () => {
    const engine = await testEngine();
    const shape = { B: 1, T: 4, H: 4, KVH: 2, D: 16 };
    const q = engine.tensor([4, 64], 'q');
    const kv = engine.tensor([4, 32], 'kv');
    const out = engine.tensor([4, 64], 'out');
    const dout = engine.tensor([4, 64], 'dout');
    const lse = engine.tensor([1, 4, 4], 'lse');
    const dq = engine.tensor([4, 64], 'dq');
    const dk = engine.tensor([4, 32], 'dk');
    const dv = engine.tensor([4, 32], 'dv');
    expect(() => attentionBackward(engine, dq, dk, dv, dout, q, kv, kv, out, lse, shape)).not.toThrow();
    expect(() => attentionBackward(engine, dq, dk, dv, dout, q, kv, kv, out, lse, { ...shape, KVH: 3 })).toThrow(
      /KVH=3 .* must divide H=4/,
    );
    expect(() => attentionBackward(engine, dq, dk, dv, engine.tensor([4, 32], 'd2'), q, kv, kv, out, lse, shape)).toThrow(
      /dout \(d2\) \[4, 32\] should be \[B\*T, H\*D\]/,
    );
    expect(() => attentionBackward(engine, dq, dq, dv, dout, q, kv, kv, out, lse, shape)).toThrow(/dk \(dq\) \[4, 64\] should be/);
    expect(() => attentionBackward(engine, dq, dk, dk, dout, q, kv, kv, out, lse, shape)).toThrow(/dk must not alias dv/);
    expect(() => attentionBackward(engine, dout, dk, dv, dout, q, kv, kv, out, lse, shape)).toThrow(/dq must not alias dout/);
    expect(() => attentionBackward(engine, dq, dk, dv, dout, q, kv, kv, out, engine.tensor([4], 'l'), shape)).toThrow(
      /lse \(l\) \[4\] should be \[B, H, T\]/,
    );
    await engine.sync();
  });
});

describe('attention probabilities', () => {
  const rng = new Rng(20250317);
  const cases: Case[] = [
    // One token: its only key gets probability 1.
    { B: 1, T: 1, H: 4, KVH: 2, D: 32, beta: 1, qStd: 1 },
    // T not a multiple of the workgroup (64) nor of any tile; GQA groups of 3 and of 8; beta != 1.
    { B: 2, T: 37, H: 6, KVH: 2, D: 24, beta: 1.5, qStd: 1 },
    { B: 1, T: 65, H: 8, KVH: 1, D: 16, beta: 0.7, qStd: 1 },
    { B: 1, T: 20, H: 4, KVH: 2, D: 32, beta: 1, scale: 0.05, qStd: 1 },
    // Logits of ~100 and more: exp overflows f32 unless the max is subtracted.
    { B: 1, T: 30, H: 2, KVH: 2, D: 128, beta: 3, qStd: 12 },
    // Attention windows: each row's keys before the window are 0 too.
    { B: 1, T: 40, H: 4, KVH: 2, D: 32, beta: 1, qStd: 1, window: 8 },
    { B: 2, T: 9, H: 2, KVH: 1, D: 16, beta: 1.2, qStd: 1, window: 1 },
    // Seeded random shapes.
    ...Array.from({ length: 4 }, (): Case => {
      const [H, KVH] = rng.pick(HEADS);
      return { B: rng.int(1, 2), T: rng.int(1, 70), H, KVH, D: rng.pick(HEAD_DIMS), beta: 0.5 + 2 * rng.next(), qStd: 1 };
    }),
  ];

  for (const c of cases) {
    it(describeCase(c), async () => {
      const engine = await testEngine();
      const { B, T, H, KVH, D } = c;
      const q = rng.normals(B * T * H * D, c.qStd);
      const k = rng.normals(B * T * KVH * D);
      const want = attentionProbabilitiesReference(q, k, c, c.beta * (c.scale ?? 1 / Math.sqrt(D)));
      const tq = engine.upload(q, [B * T, H * D], 'q');
      const tk = engine.upload(k, [B * T, KVH * D], 'k');
      // Filled with a sentinel, so a position the kernel forgets to write (a masked key) shows.
      const probs = engine.upload(new Float32Array(B * H * T * T).fill(7), [B, H, T, T], 'probs');
      attentionProbabilities(engine, probs, tq, tk, c, { beta: c.beta, scale: c.scale, window: c.window });
      const got = await engine.read(probs);
      engine.release(tq, tk, probs);

      // Tolerance 1e-5 absolute (probabilities are at most 1): a logit error e (f32 dot products
      // over D <= 128, ~D * 2^-24 relative of |q||k|, times beta * scale) scales a weight by
      // (1 + e), and SwiftShader's exp2 is a few ulps; observed under 1e-6. An indexing, masking or
      // head-mapping bug moves probabilities by O(1/T) or more.
      const what = describeCase(c);
      expectClose(got, want, { tolerance: 1e-5, minScale: 1, what: `probabilities ${what}` });
      // Exact zeros past the diagonal and before the window, and rows that sum to 1.
      for (let row = 0; row < B * H * T; row++) {
        const t = row % T;
        let sum = 0;
        for (let j = 0; j < T; j++) {
          if (j > t || j < firstVisibleKey(t, c.window)) expect(got[row * T + j], `${what}: row ${row} key ${j} is masked`).toBe(0);
          sum += got[row * T + j];
        }
        expect(Math.abs(sum - 1), `${what}: row ${row} sums to ${sum}`).toBeLessThan(1e-5);
      }
    });
  }

  it('matches the weights attentionForward applies to v', async () => {
    // With v = one-hot of the key position (D = T columns per kv head, so D >= T), forward's
    // output row t is exactly row t of P: the two kernels agree on what attention is.
    const engine = await testEngine();
    const shape = { B: 1, T: 24, H: 4, KVH: 2, D: 32 };
    const { B, T, H, KVH, D } = shape;
    const q = rng.normals(B * T * H * D);
    const k = rng.normals(B * T * KVH * D);
    const v = new Float32Array(B * T * KVH * D);
    for (let j = 0; j < T; j++) for (let g = 0; g < KVH; g++) v[j * KVH * D + g * D + j] = 1;
    const tq = engine.upload(q, [B * T, H * D], 'q');
    const tk = engine.upload(k, [B * T, KVH * D], 'k');
    const tv = engine.upload(v, [B * T, KVH * D], 'v');
    const out = engine.tensor([B * T, H * D], 'out');
    const lse = engine.tensor([B, H, T], 'lse');
    const probs = engine.tensor([B, H, T, T], 'probs');
    attentionForward(engine, out, lse, tq, tk, tv, shape, { beta: 1.3 });
    attentionProbabilities(engine, probs, tq, tk, shape, { beta: 1.3 });
    const [o, p] = [await engine.read(out), await engine.read(probs)];
    engine.release(tq, tk, tv, out, lse, probs);
    const fromForward = new Float32Array(H * T * T);
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) for (let j = 0; j < T; j++) fromForward[(h * T + t) * T + j] = o[t * H * D + h * D + j];
    expectClose(p, fromForward, { tolerance: 1e-5, minScale: 1, what: 'probabilities vs forward' });
  });

  it('rejects a probs tensor of the wrong shape', async () => {
    const engine = await testEngine();
    const shape = { B: 1, T: 4, H: 2, KVH: 1, D: 16 };
    const q = engine.tensor([4, 32], 'q');
    const k = engine.tensor([4, 16], 'k');
    const probs = engine.tensor([2, 4, 4], 'probs');
    expect(() => attentionProbabilities(engine, probs, q, k, { ...shape, T: 5 })).toThrow(/q .* should be \[B\*T, H\*D\]/);
    const small = engine.tensor([2, 4, 3], 'small');
    expect(() => attentionProbabilities(engine, small, q, k, shape)).toThrow(/probs \(small\) \[2, 4, 3\] should be \[B, H, T, T\]/);
    expect(() => attentionProbabilities(engine, probs, q, k, { ...shape, KVH: 3 })).toThrow(/must divide/);
    engine.release(q, k, probs, small);
  });
});
