import { describe, expect, it } from 'vitest';
import {
  attentionForward,
  attentionNaive,
  forwardTiles,
  MAX_HEAD_DIM,
  MIN_HEAD_DIM,
  type AttentionShape,
  type ForwardTiles,
} from '../../src/engine/ops/attention.ts';
import { Rng } from '../../src/engine/random.ts';
import { expectClose } from '../helpers/compare.ts';
import { testEngine } from '../helpers/gpu.ts';

/**
 * CPU reference in float64 of HF's eager causal attention (LlamaAttention before o_proj): per
 * query, logits = beta * scale * q·k over keys 0..t, softmax with the max subtracted, times v.
 * Query head h reads kv head floor(h / (H / KVH)) (HF's repeat_kv).
 */
function attentionReference(q: Float32Array, k: Float32Array, v: Float32Array, shape: AttentionShape, qkScale: number) {
  const { B, T, H, KVH, D } = shape;
  const out = new Float32Array(B * T * H * D);
  const lse = new Float32Array(B * H * T);
  const logits = new Float64Array(T);
  const acc = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / KVH));
      for (let t = 0; t < T; t++) {
        const qBase = (b * T + t) * H * D + h * D;
        let max = -Infinity;
        for (let j = 0; j <= t; j++) {
          const kBase = (b * T + j) * KVH * D + kvh * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qBase + d] * k[kBase + d];
          logits[j] = qkScale * dot;
          max = Math.max(max, logits[j]);
        }
        let sum = 0;
        acc.fill(0);
        for (let j = 0; j <= t; j++) {
          const w = Math.exp(logits[j] - max);
          sum += w;
          const vBase = (b * T + j) * KVH * D + kvh * D;
          for (let d = 0; d < D; d++) acc[d] += w * v[vBase + d];
        }
        for (let d = 0; d < D; d++) out[qBase + d] = acc[d] / sum;
        lse[(b * H + h) * T + t] = max + Math.log(sum);
      }
    }
  }
  return { out, lse };
}

interface Case extends AttentionShape {
  beta: number;
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
  return `B=${c.B} T=${c.T} H=${c.H} KVH=${c.KVH} D=${c.D} beta=${c.beta}${c.scale ? ` scale=${c.scale}` : ''} qStd=${c.qStd}${tiles}`;
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
      const options = { beta: c.beta, scale: c.scale };
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
    for (let D = MIN_HEAD_DIM; D <= MAX_HEAD_DIM; D += 4) for (const software of [true, false]) {
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
    expect(() => attentionForward(engine, out, engine.tensor([3], 'lse3'), q, kv, kv, shape)).toThrow(/lse \(lse3\) \[3\] should be \[B, H, T\]/);
    expect(() => attentionNaive(engine, out, q, kv, kv, { ...shape, T: 0 })).toThrow(/T must be a positive integer/);
    await engine.sync();
  });
});
