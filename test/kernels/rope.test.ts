import { describe, expect, it } from 'vitest';
import { ropeBackward, ropeForward, type RopeShape } from '../../src/engine/ops/rope.ts';
import { Rng } from '../../src/engine/random.ts';
import { rotaryTables } from '../../src/model/positions.ts';
import { expectClose } from '../helpers/compare.ts';
import { testEngine } from '../helpers/gpu.ts';
import { ropeReference } from '../reference/rope.ts';

describe('rope', () => {
  const rng = new Rng(2024);
  // rows = 1 and T = 1 (one decoding step), B > 1 sequences, a position offset (a KV cache),
  // tables longer than needed, 1..5 heads, head dims 16..128 including non-powers of two,
  // and pair counts that are not multiples of the workgroup size (64).
  const cases: Required<RopeShape>[] = [
    { rows: 1, T: 1, heads: 1, headDim: 16, positionOffset: 0 },
    { rows: 1, T: 1, heads: 3, headDim: 64, positionOffset: 37 },
    { rows: 6, T: 3, heads: 2, headDim: 24, positionOffset: 5 },
    { rows: 7, T: 7, heads: 5, headDim: 128, positionOffset: 0 },
    ...Array.from({ length: 5 }, () => {
      const T = rng.int(1, 20);
      return {
        rows: T * rng.int(1, 3),
        T,
        heads: rng.int(1, 4),
        headDim: 2 * rng.int(8, 64),
        positionOffset: rng.pick([0, 0, rng.int(1, 50)]),
      };
    }),
  ];

  for (const shape of cases) {
    const { rows, T, heads, headDim, positionOffset } = shape;
    const P = positionOffset + T + rng.int(0, 3);
    it(`forward and backward rows=${rows} T=${T} heads=${heads} D=${headDim} offset=${positionOffset} P=${P}`, async () => {
      const engine = await testEngine();
      const x = rng.normals(rows * heads * headDim);
      // Arbitrary table values (not on the unit circle) so that cos and sin cannot be swapped or
      // mixed up with each other's indices without the comparison noticing.
      const cos = rng.normals(P * (headDim / 2));
      const sin = rng.normals(P * (headDim / 2));
      const tc = engine.upload(cos, [P, headDim / 2], 'cos');
      const ts = engine.upload(sin, [P, headDim / 2], 'sin');
      const tx = engine.upload(x, [rows, heads * headDim], 'x');
      const tdy = engine.upload(x, [rows, heads * headDim], 'dy');
      ropeForward(engine, tx, tc, ts, shape);
      ropeBackward(engine, tdy, tc, ts, shape);
      // Each output is two f32 products and a sum: a few float32 ulps of the output's scale.
      const what = `[${rows}, ${heads}*${headDim}] T=${T} offset=${positionOffset}`;
      expectClose(await engine.read(tx), ropeReference(x, cos, sin, shape), { tolerance: 1e-6, what: `forward ${what}` });
      expectClose(await engine.read(tdy), ropeReference(x, cos, sin, shape, -1), { tolerance: 1e-6, what: `backward ${what}` });
      engine.release(tc, ts, tx, tdy);
    });
  }

  it('pairs dim i with i + D/2 (HF rotate_half), not interleaved neighbours', async () => {
    const engine = await testEngine();
    // D = 4, one position with angles a0, a1: y0 = x0 c0 - x2 s0, y1 = x1 c1 - x3 s1,
    // y2 = x2 c0 + x0 s0, y3 = x3 c1 + x1 s1.
    const [c0, c1, s0, s1] = [0.5, -0.25, 2, 3];
    const tc = engine.upload(new Float32Array([c0, c1]), [1, 2], 'cos');
    const ts = engine.upload(new Float32Array([s0, s1]), [1, 2], 'sin');
    const tx = engine.upload(new Float32Array([1, 2, 3, 4]), [1, 4], 'x');
    ropeForward(engine, tx, tc, ts, { rows: 1, T: 1, heads: 1, headDim: 4 });
    expect([...(await engine.read(tx))]).toEqual([1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1]);
    engine.release(tc, ts, tx);
  });

  // Real tables: rotation by θ then by -θ gives x back; with YaRN's attention scaling s folded into
  // cos/sin, it gives s²·x (backward is the transpose, the gradient, not the inverse).
  const real = [
    { mode: { kind: 'rope' as const }, scale: 1 },
    { mode: { kind: 'yarn' as const, factor: 4 }, scale: 0.1 * Math.log(4) + 1 },
  ];
  for (const { mode, scale } of real) {
    it(`backward∘forward = ${scale === 1 ? 'identity' : 's²·identity'} with ${mode.kind} tables`, async () => {
      const engine = await testEngine();
      const shape = { rows: 2 * 33, T: 33, heads: 3, headDim: 32, positionOffset: 7 };
      const P = shape.positionOffset + shape.T;
      const tables = rotaryTables(mode, { headDim: 32, ropeTheta: 10000, maxPositionEmbeddings: 16 }, P)!;
      const x = rng.normals(shape.rows * shape.heads * shape.headDim);
      const tc = engine.upload(tables.cos, [P, 16], 'cos');
      const ts = engine.upload(tables.sin, [P, 16], 'sin');
      const tx = engine.upload(x, [shape.rows, shape.heads * shape.headDim], 'x');
      ropeForward(engine, tx, tc, ts, shape);
      const rotated = await engine.read(tx);
      ropeBackward(engine, tx, tc, ts, shape);
      const s2 = Math.fround(scale) ** 2;
      // Two rotations of float32 values: a few ulps of |x|.
      expectClose(
        await engine.read(tx),
        x.map((v) => v * s2),
        { tolerance: 1e-6, what: `${mode.kind} round trip` },
      );
      // ...and the forward pass did move x (positions > 0 rotate).
      expect(Math.max(...rotated.map((v, i) => Math.abs(v - x[i] * scale)))).toBeGreaterThan(0.1);
      engine.release(tc, ts, tx);
    });
  }

  it('rejects shapes and tables that do not fit', async () => {
    const engine = await testEngine();
    const x = engine.tensor([4, 2 * 8], 'x');
    const cos = engine.tensor([4, 4], 'cos');
    const sin = engine.tensor([4, 4], 'sin');
    const ok = { rows: 4, T: 2, heads: 2, headDim: 8 };
    expect(() => ropeForward(engine, x, cos, sin, { ...ok, headDim: 7, heads: 2 })).toThrow(/odd|not \[/);
    expect(() => ropeForward(engine, x, cos, sin, { ...ok, T: 3 })).toThrow(/multiple of T/);
    expect(() => ropeForward(engine, x, cos, sin, { ...ok, heads: 1 })).toThrow(/x \[4, 16\] is not \[4, 8\]/);
    expect(() => ropeForward(engine, x, cos, sin, { ...ok, positionOffset: 3 })).toThrow(/cos \[4, 4\] must be \[>= 5, 4\]/);
    expect(() => ropeBackward(engine, x, cos, engine.tensor([4, 3], 'sin3'), ok)).toThrow(/rope\.backward: sin/);
    expect(() => ropeForward(engine, x, x, sin, ok)).toThrow();
    expect(() => ropeForward(engine, x, cos, sin, ok)).not.toThrow();
    await engine.flush();
    engine.release(x, cos, sin);
  });
});
