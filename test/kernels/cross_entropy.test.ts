import { describe, expect, it } from 'vitest';
import { IGNORE_TARGET, nllBackward, nllForward } from '../../src/engine/ops/cross_entropy.ts';
import { Rng } from '../../src/engine/random.ts';
import { expectClose } from '../helpers/compare.ts';
import { testEngine } from '../helpers/gpu.ts';
import { nllReference } from '../reference/cross_entropy.ts';

/** Random targets in [0, V), about one in five ignored. */
function randomTargets(rng: Rng, R: number, V: number): Uint32Array {
  return Uint32Array.from({ length: R }, () => (rng.next() < 0.2 ? IGNORE_TARGET : rng.int(0, V - 1)));
}

describe('cross_entropy.forward', () => {
  const rng = new Rng(2024);

  async function run(logits: Float32Array, targets: Uint32Array, R: number, V: number): Promise<Float32Array> {
    const engine = await testEngine();
    const tl = engine.upload(logits, [R, V], 'logits');
    const tt = engine.upload(targets, [R], 'targets');
    const tn = engine.tensor([R], 'nll');
    nllForward(engine, tn, tl, tt);
    const out = await engine.read(tn);
    engine.release(tl, tt, tn);
    return out;
  }

  // V = 1 (nll is 0), V around the workgroup size of 256, non-multiples of it, random V up to ~3000,
  // and SmolLM's 49152 for two rows.
  const cases = [
    { R: 1, V: 1 },
    { R: 3, V: 2 },
    { R: 4, V: 255 },
    { R: 4, V: 256 },
    { R: 5, V: 257 },
    { R: 2, V: 49152 },
    ...Array.from({ length: 5 }, () => ({ R: rng.int(1, 40), V: rng.int(1, 3000) })),
  ];
  // Per row, f32 sums of at most V/256 + 8 terms <= 1 and a few-ulp exp/log put the error near
  // 1e-6 of the nll: 1e-5 of the scale leaves a margin, while a missing max term, a wrong target or
  // a dropped element moves the nll by far more. The scale is floored at 1 because log(s), s >= 1,
  // carries an absolute error of about ulp(1) = 1.2e-7 however small the nll is (as in PyTorch's
  // f32 cross_entropy): a row whose target dominates has nll ~ 1e-5 known only to ~1e-7.
  for (const { R, V } of cases) {
    it(`R=${R} V=${V}`, async () => {
      const logits = rng.normals(R * V, 3);
      const targets = randomTargets(rng, R, V);
      const want = nllReference(logits, targets, V);
      expectClose(await run(logits, targets, R, V), want, { tolerance: 1e-5, minScale: 1, what: `nll [${R}] from logits [${R}, ${V}]` });
    });
  }

  it('stays finite with huge logits (max subtraction)', async () => {
    const V = 1000;
    const base = rng.normals(V, 1);
    const rows: { logits: Float32Array; target: number; what: string }[] = [];
    const spike = (value: number, at: number) => {
      const row = base.slice();
      row[at] = value;
      return row;
    };
    rows.push({ logits: spike(1e4, 17), target: 17, what: 'target is the 1e4 spike (nll ~ 0)' });
    rows.push({ logits: spike(1e4, 17), target: 400, what: 'the 1e4 spike elsewhere (nll ~ 1e4)' });
    rows.push({ logits: spike(-1e4, 17), target: 17, what: 'target is a -1e4 spike (nll ~ 1e4)' });
    rows.push({ logits: base.map((x) => x + 1e4), target: 3, what: 'whole row shifted by +1e4' });
    rows.push({ logits: base.map((x) => x - 1e4), target: 999, what: 'whole row shifted by -1e4' });
    const R = rows.length;
    const logits = new Float32Array(R * V);
    rows.forEach((row, r) => logits.set(row.logits, r * V));
    const targets = Uint32Array.from(rows, (row) => row.target);
    const got = await run(logits, targets, R, V);
    const want = nllReference(logits, targets, V);
    rows.forEach((row, r) => {
      // Each row against its own scale, floored at 1: nll ~ 0 and nll ~ 1e4 rows differ by 1e4 in
      // size, and (m - x_t) + log(s) is accurate to ~1e-6 absolute plus ~1e-7 of m - x_t.
      expectClose([got[r]], [want[r]], { tolerance: 1e-5, minScale: 1, what: row.what });
    });
  });

  it('gives 0 for ignored rows and NaN, not an out-of-bounds read, for a target >= V', async () => {
    const R = 4;
    const V = 300;
    const logits = rng.normals(R * V, 3);
    const targets = Uint32Array.from([IGNORE_TARGET, 5, V, IGNORE_TARGET]);
    const got = await run(logits, targets, R, V);
    expect(got[0]).toBe(0);
    expect(got[3]).toBe(0);
    expectClose([got[1]], [nllReference(logits, targets, V)[1]], { tolerance: 1e-5, minScale: 1, what: 'row 1' });
    expect(got[2]).toBeNaN();
  });

  it('rejects mismatched shapes and dtypes', async () => {
    const engine = await testEngine();
    const logits = engine.tensor([3, 10], 'logits');
    const targets = engine.upload(new Uint32Array(3), [3], 'targets');
    expect(() => nllForward(engine, engine.tensor([4], 'nll'), logits, targets)).toThrow(/does not match/);
    expect(() => nllForward(engine, engine.tensor([3], 'nll'), logits, engine.upload(new Uint32Array(2), [2], 't'))).toThrow(
      /do not match/,
    );
    expect(() => nllForward(engine, engine.tensor([3], 'nll'), logits, engine.tensor([3], 'f32 targets'))).toThrow(/u32/);
  });
});

/** CPU reference of the backward in float64: scale * (softmax(row) - onehot(target)); ignored rows 0. */
function nllBackwardReference(logits: Float32Array, targets: Uint32Array, V: number, scale: number): Float64Array {
  const out = new Float64Array(logits.length);
  targets.forEach((t, r) => {
    if (t === IGNORE_TARGET) return;
    const row = logits.subarray(r * V, (r + 1) * V);
    let m = -Infinity;
    for (const x of row) m = Math.max(m, x);
    let s = 0;
    for (const x of row) s += Math.exp(x - m);
    for (let v = 0; v < V; v++) out[r * V + v] = scale * (Math.exp(row[v] - m) / s - (v === t ? 1 : 0));
  });
  return out;
}

describe('cross_entropy.backward', () => {
  const rng = new Rng(4202);

  async function runBackward(logits: Float32Array, targets: Uint32Array, R: number, V: number, scale: number): Promise<Float32Array> {
    const engine = await testEngine();
    const tl = engine.upload(logits, [R, V], 'logits');
    const tt = engine.upload(targets, [R], 'targets');
    // Garbage to start with: every element, ignored rows included, must be written.
    const td = engine.upload(rng.normals(R * V, 100), [R, V], 'dlogits');
    nllBackward(engine, td, tl, tt, scale);
    const out = await engine.read(td);
    engine.release(tl, tt, td);
    return out;
  }

  function countedScale(targets: Uint32Array): number {
    const counted = targets.filter((t) => t !== IGNORE_TARGET).length;
    return counted > 0 ? 1 / counted : 0;
  }

  const cases = [
    { R: 1, V: 1 },
    { R: 3, V: 2 },
    { R: 4, V: 255 },
    { R: 5, V: 257 },
    { R: 2, V: 49152 },
    ...Array.from({ length: 4 }, () => ({ R: rng.int(1, 40), V: rng.int(1, 3000) })),
  ];
  // The gradient is scale times probabilities in [0, 1] (minus 1 at the target), so its errors are
  // absolute, a few ulp of scale: exp's few ulp and the f32 sum s (at most V/256 + 8 terms per
  // invocation, then a tree), ~1e-6 relative. 1e-5 of max(scale, max |expected|) leaves a margin;
  // a missing max term, a wrong target or a probability off by one term's share fails it.
  for (const { R, V } of cases) {
    it(`R=${R} V=${V}`, async () => {
      const logits = rng.normals(R * V, 3);
      const targets = randomTargets(rng, R, V);
      const scale = countedScale(targets);
      const want = nllBackwardReference(logits, targets, V, scale);
      expectClose(await runBackward(logits, targets, R, V, scale), want, {
        tolerance: 1e-5,
        minScale: Math.max(scale, 1e-6),
        what: `dlogits [${R}, ${V}] scale ${scale}`,
      });
    });
  }

  it('stays finite with huge logits (max subtraction)', async () => {
    const V = 1000;
    const base = rng.normals(V, 1);
    const spike = (value: number, at: number) => {
      const row = base.slice();
      row[at] = value;
      return row;
    };
    const rows = [
      { logits: spike(1e4, 17), target: 17 },
      { logits: spike(1e4, 17), target: 400 },
      { logits: spike(-1e4, 17), target: 17 },
      { logits: base.map((x) => x + 1e4), target: 3 },
      { logits: base.map((x) => x - 1e4), target: 999 },
    ];
    const R = rows.length;
    const logits = new Float32Array(R * V);
    rows.forEach((row, r) => logits.set(row.logits, r * V));
    const targets = Uint32Array.from(rows, (row) => row.target);
    const got = await runBackward(logits, targets, R, V, 0.5);
    expect(got.every(Number.isFinite), 'all finite').toBe(true);
    // The shift of a whole row by 1e4 costs the softmax inputs x - m up to ulp(1e4) ~ 1e-3 of
    // absolute error, so those rows' probabilities (~1e-3 each, V = 1000) carry ~1e-3 relative
    // error: 1e-4 of the scale (0.5) bounds it; the other rows are as accurate as in the random cases.
    expectClose(got, nllBackwardReference(logits, targets, V, 0.5), { tolerance: 1e-4, what: 'rows with huge logits' });
  });

  it('gives 0 for ignored rows and NaN, not an out-of-bounds read, for a target >= V', async () => {
    const [R, V] = [4, 300];
    const logits = rng.normals(R * V, 3);
    const targets = Uint32Array.from([IGNORE_TARGET, 5, V, IGNORE_TARGET]);
    const got = await runBackward(logits, targets, R, V, 1);
    expect(Array.from(got.subarray(0, V)).every((g) => g === 0)).toBe(true);
    expect(Array.from(got.subarray(3 * V)).every((g) => g === 0)).toBe(true);
    expect(Array.from(got.subarray(2 * V, 3 * V)).every(Number.isNaN)).toBe(true);
    const want = nllBackwardReference(logits, targets, V, 1).subarray(V, 2 * V);
    expectClose(got.subarray(V, 2 * V), want, { tolerance: 1e-5, minScale: 1, what: 'row 1' });
  });

  it('matches finite differences of the float64 forward', async () => {
    const [R, V] = [4, 7];
    const logits = rng.normals(R * V, 2);
    const targets = Uint32Array.from([3, IGNORE_TARGET, 0, 6]);
    const scale = countedScale(targets);
    const got = await runBackward(logits, targets, R, V, scale);
    // L = scale * sum_r nll[r] (the mean over counted targets; ignored rows add 0), the forward
    // reference on the float64 logits, so the perturbations are not rounded to f32.
    const loss = (l: Float64Array) => scale * nllReference(l, targets, V).reduce((total, nll) => total + nll, 0);
    // h = 1e-4: truncation O(h^2) ~ 1e-8 and rounding ~ 1e-16 / h, far below the f32 gradient's
    // ~1e-6 relative error; 1e-4 of the scale is a safe bound that a wrong formula misses.
    const l64 = Float64Array.from(logits);
    const fd = Float64Array.from(l64, (_, i) => {
      const keep = l64[i];
      l64[i] = keep + 1e-4;
      const up = loss(l64);
      l64[i] = keep - 1e-4;
      const down = loss(l64);
      l64[i] = keep;
      return (up - down) / 2e-4;
    });
    expectClose(got, fd, { tolerance: 1e-4, what: 'dlogits vs finite differences' });
  });

  it('rejects mismatched shapes, dtypes and aliasing', async () => {
    const engine = await testEngine();
    const logits = engine.tensor([3, 10], 'logits');
    const targets = engine.upload(new Uint32Array(3), [3], 'targets');
    expect(() => nllBackward(engine, engine.tensor([3, 9], 'd'), logits, targets, 1)).toThrow(/does not match/);
    expect(() => nllBackward(engine, engine.tensor([3, 10], 'd'), logits, engine.upload(new Uint32Array(2), [2], 't'), 1)).toThrow(
      /do not match/,
    );
    expect(() => nllBackward(engine, engine.tensor([3, 10], 'd'), logits, engine.tensor([3], 'f32 targets'), 1)).toThrow(/u32/);
    expect(() => nllBackward(engine, logits, logits, targets, 1)).toThrow(/alias/);
    expect(() => nllBackward(engine, engine.tensor([3, 10], 'd'), logits, targets, NaN)).toThrow(/finite/);
  });
});
