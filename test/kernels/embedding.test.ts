import { describe, expect, it } from 'vitest';
import { embeddingBackward, embeddingForward } from '../../src/engine/ops/embedding.ts';
import { linear } from '../../src/engine/ops/matmul.ts';
import { Rng } from '../../src/engine/random.ts';
import { expectClose } from '../helpers/compare.ts';
import { roundToF16 } from '../helpers/f16.ts';
import { finiteDifferences } from '../helpers/finite-differences.ts';
import { testEngine } from '../helpers/gpu.ts';
import { embeddingReference } from '../reference/embedding.ts';

const WG = 64; // the kernel's workgroup size (src/engine/ops/embedding.ts)

function randomIds(rng: Rng, R: number, V: number): Uint32Array {
  return Uint32Array.from({ length: R }, () => rng.int(0, V - 1));
}

describe('embedding.forward', () => {
  const rng = new Rng(4321);
  // One row of one channel, widths that are not multiples of the workgroup size, a single token
  // type, and random shapes.
  const cases = [
    { R: 1, V: 1, C: 1 },
    { R: 3, V: 5, C: 17 },
    { R: 7, V: 1, C: 64 },
    { R: 50, V: 300, C: 130 },
    ...Array.from({ length: 4 }, () => ({ R: rng.int(1, 80), V: rng.int(1, 500), C: rng.int(1, 300) })),
  ];

  async function check(R: number, V: number, C: number, ids: Uint32Array) {
    const engine = await testEngine();
    const table = rng.normals(V * C);
    const want = embeddingReference(ids, table, V, C);
    const tIds = engine.upload(ids, [R], 'ids');
    const tTable = engine.upload(table, [V, C], 'table');
    const tOut = engine.tensor([R, C], 'out');
    embeddingForward(engine, tOut, tIds, tTable);
    // A lookup copies values: the result must be bit-exact.
    expectClose(await engine.read(tOut), want, { tolerance: 0, what: `out [${R}, ${C}] from table [${V}, ${C}]` });
    engine.release(tIds, tTable, tOut);
  }

  for (const { R, V, C } of cases) {
    it(`R=${R} V=${V} C=${C}`, () => check(R, V, C, randomIds(rng, R, V)));
  }

  it('folds a dispatch of more than maxComputeWorkgroupsPerDimension workgroups', async () => {
    const engine = await testEngine();
    const C = 257;
    const V = 40;
    const R = Math.ceil((engine.limits.maxComputeWorkgroupsPerDimension * WG + 1) / C);
    expect(Math.ceil((R * C) / WG)).toBeGreaterThan(engine.limits.maxComputeWorkgroupsPerDimension);
    await check(R, V, C, randomIds(rng, R, V));
  });

  it('writes zeros, not out-of-bounds reads, for ids >= V', async () => {
    const V = 6;
    await check(4, V, 33, Uint32Array.from([2, V, 0xffffffff, V - 1]));
  });

  it('flattens leading dims of out and ids ([B, T, C])', async () => {
    const engine = await testEngine();
    const [B, T, V, C] = [2, 3, 9, 5];
    const ids = randomIds(rng, B * T, V);
    const table = rng.normals(V * C);
    const tIds = engine.upload(ids, [B, T], 'ids');
    const tTable = engine.upload(table, [V, C], 'table');
    const tOut = engine.tensor([B, T, C], 'out');
    embeddingForward(engine, tOut, tIds, tTable);
    expectClose(await engine.read(tOut), embeddingReference(ids, table, V, C), { tolerance: 0, what: 'out [2, 3, 5]' });
    engine.release(tIds, tTable, tOut);
  });

  it('rejects mismatched shapes and dtypes', async () => {
    const engine = await testEngine();
    const table = engine.tensor([10, 8], 'table');
    const ids = engine.upload(new Uint32Array(3), [3], 'ids');
    expect(() => embeddingForward(engine, engine.tensor([3, 7], 'out'), ids, table)).toThrow(/does not match/);
    expect(() => embeddingForward(engine, engine.tensor([4, 8], 'out'), ids, table)).toThrow(/do not match/);
    expect(() => embeddingForward(engine, engine.tensor([3, 8], 'out'), engine.tensor([3], 'f32 ids'), table)).toThrow(/u32/);
  });
});

/** CPU reference of nn.Embedding's backward in float64: dtable[ids[r]] += dout[r]; bad ids add nothing. */
function embeddingBackwardReference(dout: Float32Array, ids: Uint32Array, V: number, C: number, start?: Float32Array): Float64Array {
  const dtable = start ? Float64Array.from(start) : new Float64Array(V * C);
  ids.forEach((id, r) => {
    if (id >= V) return;
    for (let c = 0; c < C; c++) dtable[id * C + c] += dout[r * C + c];
  });
  return dtable;
}

describe('embedding.backward', () => {
  const rng = new Rng(8765);

  async function runBackward(R: number, V: number, C: number, dout: Float32Array, ids: Uint32Array, start?: Float32Array) {
    const engine = await testEngine();
    const tIds = engine.upload(ids, [R], 'ids');
    const tDout = engine.upload(dout, [R, C], 'dout');
    // Without accumulate, dtable starts as garbage: backward must overwrite every element.
    const tTable = engine.upload(start ?? rng.normals(V * C, 100), [V, C], 'dtable');
    embeddingBackward(engine, tTable, tDout, tIds, { accumulate: start !== undefined });
    const out = await engine.read(tTable);
    engine.release(tIds, tDout, tTable);
    return out;
  }

  it('runs calls of growing R recorded before one flush (the link scratch grows safely)', async () => {
    // First in this describe, while the module's link scratch is still small (R <= 90 so far).
    const engine = await testEngine();
    const [V, C] = [7, 3];
    const calls = [5, 300, 2000].map((R) => {
      const ids = randomIds(rng, R, V);
      const dout = rng.normals(R * C);
      const tIds = engine.upload(ids, [R], 'ids');
      const tDout = engine.upload(dout, [R, C], 'dout');
      const tTable = engine.tensor([V, C], 'dtable');
      embeddingBackward(engine, tTable, tDout, tIds);
      return { R, want: embeddingBackwardReference(dout, ids, V, C), tensors: [tIds, tDout, tTable] };
    });
    for (const { R, want, tensors } of calls) {
      expectClose(await engine.read(tensors[2]), want, { tolerance: 1e-5, what: `dtable from ${R} rows` });
      engine.release(...tensors);
    }
  });

  // Single elements, V = 1 (every row repeats the one id), few ids for many rows (long repeat
  // chains), rows and widths that are not multiples of the workgroup size, and random shapes.
  const cases = [
    { R: 1, V: 1, C: 1 },
    { R: 7, V: 1, C: 64 },
    { R: 3, V: 5, C: 17 },
    { R: 90, V: 3, C: 70 },
    { R: 50, V: 300, C: 130 },
    ...Array.from({ length: 4 }, () => ({ R: rng.int(1, 80), V: rng.int(1, 200), C: rng.int(1, 150) })),
  ];
  // Each element is an f32 sum, in row order, of the (at most R <= 90) rows with its id: a few ulp
  // of the largest partial sum, so 1e-6 of the scale is generous; a dropped or double-counted row
  // is off by O(1).
  for (const { R, V, C } of cases) {
    it(`R=${R} V=${V} C=${C}`, async () => {
      const ids = randomIds(rng, R, V);
      const dout = rng.normals(R * C);
      const got = await runBackward(R, V, C, dout, ids);
      expectClose(got, embeddingBackwardReference(dout, ids, V, C), { tolerance: 1e-6, what: `dtable [${V}, ${C}] from ${R} rows` });
    });
  }

  it('adds to dtable with accumulate: true (the tied LM head shares it)', async () => {
    const [R, V, C] = [40, 9, 33];
    const ids = randomIds(rng, R, V);
    const dout = rng.normals(R * C);
    const start = rng.normals(V * C, 3);
    const got = await runBackward(R, V, C, dout, ids, start);
    expectClose(got, embeddingBackwardReference(dout, ids, V, C, start), { tolerance: 1e-6, what: 'start + scatter' });
  });

  it('skips ids >= V (no out-of-bounds write) and still zeroes rows no id touches', async () => {
    const [V, C] = [6, 5];
    const ids = Uint32Array.from([2, V, 0xffffffff, V - 1, 2, V]);
    const dout = rng.normals(ids.length * C);
    const got = await runBackward(ids.length, V, C, dout, ids);
    expectClose(got, embeddingBackwardReference(dout, ids, V, C), { tolerance: 1e-6, what: 'dtable with bad ids' });
  });

  it('matches finite differences of the float64 forward', async () => {
    // L = sum(table[ids] * w) is linear in the table, so central differences are exact up to
    // rounding (~1e-16 / h); the check is that repeated ids sum and untouched rows get 0.
    const [R, V, C] = [6, 4, 3];
    const ids = Uint32Array.from([1, 3, 1, 0, 1, 3]);
    const w = rng.normals(R * C);
    const table = Float64Array.from(rng.normals(V * C));
    const loss = (t: Float64Array) => {
      let l = 0;
      ids.forEach((id, r) => {
        for (let c = 0; c < C; c++) l += t[id * C + c] * w[r * C + c];
      });
      return l;
    };
    const h = 1e-3;
    const fd = finiteDifferences(loss, table, h);
    const got = await runBackward(R, V, C, w, ids);
    expectClose(got, fd, { tolerance: 1e-6, what: 'dtable vs finite differences' });
    expect(Array.from(got.subarray(2 * C, 3 * C))).toEqual([0, 0, 0]); // id 2 never occurs
  });

  it('folds a dispatch of more than maxComputeWorkgroupsPerDimension workgroups', async () => {
    const engine = await testEngine();
    // One invocation per element of dout: R * C just past the limit. V = 30 keeps the link scans
    // short (a row meets an equal id within ~30 rows) and gives chains of ~R/30 rows.
    const C = 64;
    const R = Math.ceil((engine.limits.maxComputeWorkgroupsPerDimension * WG + 1) / C);
    const V = 30;
    const ids = randomIds(rng, R, V);
    const dout = rng.normals(R * C);
    const got = await runBackward(R, V, C, dout, ids);
    // Sums of ~2200 terms of size 1 in f32: a few times sqrt(2200) ulp of the ~50-sized partial
    // sums, ~1e-6 of the scale; 1e-5 leaves a margin.
    expectClose(got, embeddingBackwardReference(dout, ids, V, C), { tolerance: 1e-5, what: `dtable [${V}, ${C}] from ${R} rows` });
  });

  it('flattens leading dims of dout and ids ([B, T, C])', async () => {
    const engine = await testEngine();
    const [B, T, V, C] = [2, 3, 4, 5];
    const ids = randomIds(rng, B * T, V);
    const dout = rng.normals(B * T * C);
    const tIds = engine.upload(ids, [B, T], 'ids');
    const tDout = engine.upload(dout, [B, T, C], 'dout');
    const tTable = engine.tensor([V, C], 'dtable');
    embeddingBackward(engine, tTable, tDout, tIds);
    expectClose(await engine.read(tTable), embeddingBackwardReference(dout, ids, V, C), { tolerance: 1e-6, what: 'dtable [4, 5]' });
    engine.release(tIds, tDout, tTable);
  });

  it('rejects mismatched shapes, dtypes and aliasing', async () => {
    const engine = await testEngine();
    const dtable = engine.tensor([10, 8], 'dtable');
    const ids = engine.upload(new Uint32Array(3), [3], 'ids');
    expect(() => embeddingBackward(engine, dtable, engine.tensor([3, 7], 'dout'), ids)).toThrow(/does not match/);
    expect(() => embeddingBackward(engine, dtable, engine.tensor([4, 8], 'dout'), ids)).toThrow(/do not match/);
    expect(() => embeddingBackward(engine, dtable, engine.tensor([3, 8], 'dout'), engine.tensor([3], 'f32 ids'))).toThrow(/u32/);
    expect(() => embeddingBackward(engine, engine.tensor([30, 8], 'dtable'), engine.tensor([30, 8], 'dout'), ids)).toThrow(/do not match/);
  });
});

describe('embedding.forward with an f16 table', () => {
  const rng = new Rng(1616);
  // C even (pairs along C), widths past the workgroup size, a single row, random shapes.
  const cases = [
    { R: 1, V: 1, C: 2 },
    { R: 3, V: 5, C: 18 },
    { R: 50, V: 300, C: 130 },
    ...Array.from({ length: 3 }, () => ({ R: rng.int(1, 80), V: rng.int(1, 500), C: 2 * rng.int(1, 150) })),
  ];
  for (const { R, V, C } of cases) {
    it(`R=${R} V=${V} C=${C}`, async () => {
      const engine = await testEngine();
      const table = rng.normals(V * C);
      const ids = randomIds(rng, R, V);
      ids[0] = V - 1; // the last row, whose last word ends the buffer
      const want = embeddingReference(ids, Float32Array.from(table, roundToF16), V, C);
      const tIds = engine.upload(ids, [R], 'ids');
      const tTable = engine.upload(table, [V, C], 'table', 'f16');
      const tOut = engine.tensor([R, C], 'out');
      embeddingForward(engine, tOut, tIds, tTable);
      // Unpacking a binary16 value to f32 is exact: bit-exact against the rounded table.
      expectClose(await engine.read(tOut), want, { tolerance: 0, what: `out [${R}, ${C}] from f16 table [${V}, ${C}]` });
      engine.release(tIds, tTable, tOut);
    });
  }

  it('serves the tied LM head too: linear() on the same f16 table', async () => {
    const engine = await testEngine();
    const [R, V, C] = [5, 70, 34];
    const table = rng.normals(V * C, 0.05);
    const x = rng.normals(R * C);
    const rounded = Float32Array.from(table, roundToF16);
    const want = new Float64Array(R * V);
    for (let r = 0; r < R; r++)
      for (let v = 0; v < V; v++) for (let c = 0; c < C; c++) want[r * V + v] += x[r * C + c] * rounded[v * C + c];
    const tTable = engine.upload(table, [V, C], 'embed_tokens', 'f16');
    const tx = engine.upload(x, [R, C], 'x');
    const ty = engine.tensor([R, V], 'logits');
    linear(engine, ty, tx, tTable);
    // f32 accumulation of C = 34 products: see matmul.test.ts's TOLERANCE.
    expectClose(await engine.read(ty), want, { tolerance: 1e-4, what: `logits [${R}, ${V}]` });
    engine.release(tTable, tx, ty);
  });

  it('rejects an odd C for an f16 table', async () => {
    const engine = await testEngine();
    const ids = engine.upload(new Uint32Array(2), [2], 'ids');
    const odd = engine.upload(new Float32Array(15), [5, 3], 'embed.odd', 'f16');
    expect(() => embeddingForward(engine, engine.tensor([2, 3], 'out'), ids, odd)).toThrow(
      /table \[5, 3\] packs pairs along C = 3, which must be even/,
    );
    // A view that makes C odd is caught too.
    const table = engine.upload(new Float32Array(12), [3, 4], 'table', 'f16');
    expect(() => embeddingForward(engine, engine.tensor([2, 3], 'out'), ids, { ...table, shape: [4, 3] })).toThrow(
      /C = 3, which must be even/,
    );
    await engine.sync();
  });
});
