// KV-cached attention (attentionDecode, shaders/attention_decode.wgsl) against its float64
// definition: the last N rows of causal attention over the whole sequence, keys and queries rotated
// beforehand (test/reference/attention.ts attentionDecodeReference).

import { describe, expect, it } from 'vitest';
import { attentionDecode, type DecodeShape } from '../../src/engine/ops/attention.ts';
import { Rng } from '../../src/engine/random.ts';
import { expectClose } from '../helpers/compare.ts';
import { testEngine } from '../helpers/gpu.ts';
import { attentionDecodeReference } from '../reference/attention.ts';

interface Case extends DecodeShape {
  beta: number;
  window?: number;
  /** false: RoPE dropped (no tables); true: random cos/sin tables (scaled ones included). */
  rotate: boolean;
  /** Cache rows past offset + N, filled with values that would show if they were read. */
  spare: number;
}

const describeCase = (c: Case) =>
  `N=${c.N} offset=${c.offset} H=${c.H} KVH=${c.KVH} D=${c.D} beta=${c.beta}${c.window ? ` window=${c.window}` : ''} ` +
  `${c.rotate ? 'rotated' : 'none'} spare=${c.spare}`;

const HEADS: [number, number][] = [
  [1, 1],
  [4, 2],
  [6, 2],
  [8, 1],
];

describe('attention.decode', () => {
  const rng = new Rng(20261207);
  const cases: Case[] = [
    // T = 1: the first token sees only itself, out = its v.
    { N: 1, offset: 0, H: 4, KVH: 2, D: 16, beta: 1, rotate: true, spare: 3 },
    // One key past a chunk of 64, and exactly two chunks; several new rows at once.
    { N: 1, offset: 64, H: 4, KVH: 2, D: 32, beta: 1.3, rotate: true, spare: 0 },
    { N: 3, offset: 125, H: 6, KVH: 2, D: 24, beta: 0.8, rotate: true, spare: 5 },
    { N: 1, offset: 47, H: 8, KVH: 1, D: 128, beta: 1, rotate: false, spare: 2 },
    // Windows: of one key (out = v), shorter than a chunk, crossing chunks, longer than the sequence.
    { N: 2, offset: 30, H: 4, KVH: 2, D: 16, beta: 1, window: 1, rotate: true, spare: 1 },
    { N: 1, offset: 150, H: 4, KVH: 4, D: 64, beta: 1.5, window: 7, rotate: true, spare: 0 },
    { N: 4, offset: 170, H: 4, KVH: 2, D: 32, beta: 0.9, window: 70, rotate: false, spare: 9 },
    { N: 1, offset: 20, H: 1, KVH: 1, D: 44, beta: 1.2, window: 1000, rotate: true, spare: 0 },
    // Seeded random shapes.
    ...Array.from({ length: 5 }, (): Case => {
      const [H, KVH] = rng.pick(HEADS);
      const window = rng.next() < 0.4 ? rng.int(1, 100) : undefined;
      return {
        N: rng.int(1, 4),
        offset: rng.int(0, 200),
        H,
        KVH,
        D: rng.pick([16, 24, 32, 64]),
        beta: 0.5 + 2 * rng.next(),
        window,
        rotate: rng.next() < 0.7,
        spare: rng.int(0, 8),
      };
    }),
  ];

  for (const c of cases) {
    it(describeCase(c), async () => {
      const engine = await testEngine();
      const { N, offset, H, KVH, D, spare } = c;
      const L = offset + N;
      const capacity = L + spare;
      const q = rng.normals(N * H * D);
      const k = rng.normals(capacity * KVH * D);
      const v = rng.normals(capacity * KVH * D);
      // Rows past L hold huge values: reading one would wreck the softmax or the sum.
      k.fill(1e30, L * KVH * D);
      v.fill(1e30, L * KVH * D);
      const tables = c.rotate ? { cos: rng.normals((L + spare) * (D / 2)), sin: rng.normals((L + spare) * (D / 2)) } : null;
      const qkScale = c.beta / Math.sqrt(D);
      const want = attentionDecodeReference(q, k, v, tables, c, qkScale);

      const tq = engine.upload(q, [N, H * D], 'q');
      const tk = engine.upload(k, [capacity, KVH * D], 'kCache');
      const tv = engine.upload(v, [capacity, KVH * D], 'vCache');
      const rotary = tables && {
        cos: engine.upload(tables.cos, [L + spare, D / 2], 'cos'),
        sin: engine.upload(tables.sin, [L + spare, D / 2], 'sin'),
      };
      const out = engine.tensor([N, H * D], 'out');
      attentionDecode(engine, out, tq, tk, tv, rotary, c, { beta: c.beta, window: c.window });
      // The tolerance of attention.forward's test (test/kernels/attention.test.ts): f32 dot
      // products over D <= 128 with rotated operands of a few units, exp2 a few ulps; a wrong
      // position, rotation pair, mask or chunk merge moves values by O(1).
      expectClose(await engine.read(out), want, { tolerance: 1e-4, what: describeCase(c) });
      engine.release(tq, tk, tv, out, ...(rotary ? [rotary.cos, rotary.sin] : []));
    });
  }

  it('rejects a cache or tables shorter than offset + N', async () => {
    const engine = await testEngine();
    const shape = { N: 2, offset: 5, H: 4, KVH: 2, D: 16 };
    const q = engine.tensor([2, 64], 'q');
    const out = engine.tensor([2, 64], 'out');
    const short = engine.tensor([6, 32], 'short');
    const cache = engine.tensor([7, 32], 'cache');
    const table = engine.tensor([6, 8], 'table');
    expect(() => attentionDecode(engine, out, q, short, cache, null, shape)).toThrow(/kCache \[6, 32\] must be \[>= 7, 32\]/);
    expect(() => attentionDecode(engine, out, q, cache, cache, { cos: table, sin: table }, shape)).toThrow(
      /cos \[6, 8\] must be \[>= 7, 8\]/,
    );
    expect(() => attentionDecode(engine, out, q, cache, cache, null, { ...shape, offset: -1 })).toThrow(/offset must be/);
    expect(() => attentionDecode(engine, out, q, cache, cache, null, shape, { window: 0 })).toThrow(/window must be a positive integer/);
    engine.release(q, out, short, cache, table);
    await engine.sync();
  });
});
