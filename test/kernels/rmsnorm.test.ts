import { describe, expect, it } from 'vitest';
import { rmsnormBackward, rmsnormForward } from '../../src/engine/ops/rmsnorm.ts';
import { Rng } from '../../src/engine/random.ts';
import { expectClose } from '../helpers/compare.ts';
import { finiteDifferences } from '../helpers/finite-differences.ts';
import { testEngine } from '../helpers/gpu.ts';
import { rmsnormReference } from '../reference/rmsnorm.ts';

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

/**
 * CPU reference of RMSNorm's backward in float64, from the formula differentiated by hand:
 * with r = 1/sqrt(mean(x^2) + eps) and g = dy * weight, dx = r*g - x * r^3 * mean(g*x) and
 * dweight = sum over rows of dy * x * r. rstd is recomputed here in float64, not taken from the GPU.
 */
function rmsnormBackwardReference(dy: Float32Array, x: Float32Array, weight: Float32Array, rows: number, C: number, eps: number) {
  const dx = new Float64Array(rows * C);
  const dweight = new Float64Array(C);
  let dxTermScale = 0; // max |r * g|: the size of the terms whose difference dx is
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    let gx = 0;
    for (let c = 0; c < C; c++) {
      ss += x[r * C + c] ** 2;
      gx += dy[r * C + c] * weight[c] * x[r * C + c];
    }
    const inv = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) {
      const i = r * C + c;
      dx[i] = inv * dy[i] * weight[c] - x[i] * inv ** 3 * (gx / C);
      dxTermScale = Math.max(dxTermScale, Math.abs(inv * dy[i] * weight[c]));
      dweight[c] += dy[i] * x[i] * inv;
    }
  }
  return { dx, dweight, dxTermScale };
}

/** L = sum(rmsnorm(x) * weight * w) in float64: the scalar whose gradient backward computes for dy = w. */
function rmsnormLoss(x: Float64Array, weight: Float64Array, w: Float32Array, rows: number, C: number, eps: number): number {
  return rmsnormReference(x, weight, rows, C, eps).y.reduce((loss, y, i) => loss + y * w[i], 0);
}

describe('rmsnorm.backward', () => {
  const rng = new Rng(5678);
  const eps = 1e-5;

  async function runBackward(
    rows: number,
    C: number,
    dy: Float32Array,
    x: Float32Array,
    weight: Float32Array,
    rstd: Float32Array | null,
    dweightStart?: Float32Array,
  ) {
    const engine = await testEngine();
    const tx = engine.upload(x, [rows, C], 'x');
    const tw = engine.upload(weight, [C], 'weight');
    const tdy = engine.upload(dy, [rows, C], 'dy');
    const tr = engine.tensor([rows], 'rstd');
    if (rstd) engine.write(tr, rstd);
    else rmsnormForward(engine, engine.tensor([rows, C], 'y'), tr, tx, tw, eps); // the chain the model runs
    const tdx = engine.tensor([rows, C], 'dx');
    const tdw = dweightStart ? engine.upload(dweightStart, [C], 'dweight') : engine.tensor([C], 'dweight');
    rmsnormBackward(engine, tdx, tdw, tdy, tx, tw, tr, { accumulate: dweightStart !== undefined });
    const out = { dx: await engine.read(tdx), dweight: await engine.read(tdw) };
    engine.release(tx, tw, tdy, tr, tdx, tdw);
    return out;
  }

  // A single row and channel, widths around and not multiples of the forward's 64 and the 32-channel
  // dweight tiles, row counts not multiples of its 8 lanes, and random shapes.
  const cases = [
    { rows: 1, C: 1 },
    { rows: 1, C: 64 },
    { rows: 3, C: 17 },
    { rows: 9, C: 33 },
    { rows: 50, C: 130 },
    ...Array.from({ length: 4 }, () => ({ rows: rng.int(1, 70), C: rng.int(1, 300) })),
  ];
  // dx: f32 sums over C <= 300 terms (the row dot product) and a few roundings per element, ~1e-6
  // of the scale; dweight: f32 sums over <= 70 rows, likewise. 1e-5 of the scale leaves a margin,
  // while a wrong term (a missing r^3 factor, mean instead of sum) is off by O(1). dx is a
  // difference of two terms that cancel almost exactly when C is small (C = 1: dx = r*g*eps/(x^2+eps)),
  // so its error is measured against the terms' size, max |r * g|, not against dx's own.
  for (const { rows, C } of cases) {
    it(`rows=${rows} C=${C}`, async () => {
      const x = rng.normals(rows * C, 2);
      const weight = rng.normals(C);
      const dy = rng.normals(rows * C);
      const rstd = Float32Array.from(rmsnormReference(x, weight, rows, C, eps).rstd);
      const want = rmsnormBackwardReference(dy, x, weight, rows, C, eps);
      const got = await runBackward(rows, C, dy, x, weight, rstd);
      expectClose(got.dx, want.dx, { tolerance: 1e-5, minScale: want.dxTermScale, what: `dx [${rows}, ${C}]` });
      expectClose(got.dweight, want.dweight, { tolerance: 1e-5, what: `dweight [${C}] over ${rows} rows` });
    });
  }

  it('adds to dweight with accumulate: true', async () => {
    const [rows, C] = [21, 45];
    const x = rng.normals(rows * C);
    const weight = rng.normals(C);
    const dy = rng.normals(rows * C);
    const start = rng.normals(C, 5);
    const rstd = Float32Array.from(rmsnormReference(x, weight, rows, C, eps).rstd);
    const want = rmsnormBackwardReference(dy, x, weight, rows, C, eps);
    const got = await runBackward(rows, C, dy, x, weight, rstd, start);
    expectClose(
      got.dweight,
      want.dweight.map((d, c) => d + start[c]),
      { tolerance: 1e-5, what: 'start + dweight' },
    );
    expectClose(got.dx, want.dx, { tolerance: 1e-5, what: 'dx (never accumulated)' });
  });

  it('matches finite differences of the float64 forward', async () => {
    for (const [rows, C] of [
      [2, 5],
      [3, 70],
    ]) {
      const x = rng.normals(rows * C, 2);
      const weight = rng.normals(C);
      const w = rng.normals(rows * C); // dL/dy for L = sum(y * w)
      const got = await runBackward(rows, C, w, x, weight, null);
      const x64 = Float64Array.from(x);
      const weight64 = Float64Array.from(weight);
      // h = 1e-4 in float64: truncation O(h^2) ~ 1e-8, rounding ~ 1e-16 / h ~ 1e-12, both far below
      // the f32 gradient's own ~1e-6 relative error, so 1e-4 of the gradient's scale is a safe bound.
      const fdX = finiteDifferences((v) => rmsnormLoss(v, weight64, w, rows, C, eps), x64, 1e-4);
      const fdW = finiteDifferences((v) => rmsnormLoss(x64, v, w, rows, C, eps), weight64, 1e-4);
      expectClose(got.dx, fdX, { tolerance: 1e-4, what: `dx vs finite differences [${rows}, ${C}]` });
      expectClose(got.dweight, fdW, { tolerance: 1e-4, what: `dweight vs finite differences [${C}]` });
    }
  });

  it('is deterministic: the same inputs give bit-identical gradients', async () => {
    const [rows, C] = [67, 40];
    const x = rng.normals(rows * C);
    const weight = rng.normals(C);
    const dy = rng.normals(rows * C);
    const a = await runBackward(rows, C, dy, x, weight, null);
    const b = await runBackward(rows, C, dy, x, weight, null);
    expect(Array.from(b.dweight)).toEqual(Array.from(a.dweight));
    expect(Array.from(b.dx)).toEqual(Array.from(a.dx));
  });

  it('rejects mismatched shapes and aliasing', async () => {
    const engine = await testEngine();
    const x = engine.tensor([2, 8], 'x');
    const dy = engine.tensor([2, 8], 'dy');
    const w = engine.tensor([8], 'w');
    const r = engine.tensor([2], 'rstd');
    const dx = engine.tensor([2, 8], 'dx');
    expect(() => rmsnormBackward(engine, dx, engine.tensor([7], 'dw'), dy, x, w, r)).toThrow(/dweight/);
    expect(() => rmsnormBackward(engine, engine.tensor([2, 7], 'dx'), engine.tensor([8], 'dw'), dy, x, w, r)).toThrow(/do not match/);
    expect(() => rmsnormBackward(engine, dx, engine.tensor([8], 'dw'), dy, x, w, engine.tensor([3], 'rstd'))).toThrow(/rstd/);
    expect(() => rmsnormBackward(engine, dy, engine.tensor([8], 'dw'), dy, x, w, r)).toThrow(/alias/);
  });
});
