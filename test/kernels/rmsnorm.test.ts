import { describe, expect, it } from 'vitest';
import { rmsnormForward } from '../../src/engine/ops/rmsnorm.ts';
import { Rng } from '../../src/engine/random.ts';
import { expectClose } from '../helpers/compare.ts';
import { testEngine } from '../helpers/gpu.ts';

/** CPU reference of LlamaRMSNorm in float64. */
function rmsnormReference(x: Float32Array, weight: Float32Array, rows: number, C: number, eps: number) {
  const y = new Float32Array(rows * C);
  const rstd = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[r * C + c] ** 2;
    const inv = 1 / Math.sqrt(ss / C + eps);
    rstd[r] = inv;
    for (let c = 0; c < C; c++) y[r * C + c] = x[r * C + c] * inv * weight[c];
  }
  return { y, rstd };
}

describe('rmsnorm.forward', () => {
  const rng = new Rng(1234);
  // Row counts and widths that are not multiples of the workgroup size, a single row, and a wide row.
  const cases = [
    { rows: 1, C: 64 },
    { rows: 3, C: 17 },
    { rows: 50, C: 130 },
    ...Array.from({ length: 4 }, () => ({ rows: rng.int(1, 70), C: rng.int(1, 300) })),
  ];
  for (const { rows, C } of cases) {
    it(`rows=${rows} C=${C}`, async () => {
      const engine = await testEngine();
      const x = rng.normals(rows * C, 2);
      const weight = rng.normals(C);
      const eps = 1e-5;
      const want = rmsnormReference(x, weight, rows, C, eps);
      const tx = engine.upload(x, [rows, C], 'x');
      const tw = engine.upload(weight, [C], 'weight');
      const ty = engine.tensor([rows, C], 'y');
      const tr = engine.tensor([rows], 'rstd');
      rmsnormForward(engine, ty, tr, tx, tw, eps);
      // f32 accumulation over at most a few hundred channels: 1e-5 of the output's scale is ample.
      expectClose(await engine.read(ty), want.y, { tolerance: 1e-5, what: `y [${rows}, ${C}]` });
      expectClose(await engine.read(tr), want.rstd, { tolerance: 1e-5, what: `rstd [${rows}]` });
      engine.release(tx, tw, ty, tr);
    });
  }

  it('rejects a weight of the wrong width', async () => {
    const engine = await testEngine();
    const x = engine.tensor([2, 8], 'x');
    const w = engine.tensor([7], 'w');
    expect(() => rmsnormForward(engine, engine.tensor([2, 8], 'y'), engine.tensor([2], 'r'), x, w, 1e-5)).toThrow(/does not match/);
  });
});
