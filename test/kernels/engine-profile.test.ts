// Engine profiles (timestamp-query): every dispatch is counted once under its kernel and output,
// more work takes more GPU time, results are the same as unprofiled, and more dispatches than one
// query set holds are all counted (the slots are resolved and reused within one submit).

import { describe, expect, it } from 'vitest';
import { matmul } from '../../src/engine/ops/matmul.ts';
import { Rng } from '../../src/engine/random.ts';
import { testEngine } from '../helpers/gpu.ts';

function random(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

describe('Engine profile', () => {
  it('times every dispatch by kernel and output, and leaves results unchanged', async () => {
    const engine = await testEngine();
    const [M, K, N] = [257, 250, 255]; // ~16M multiply-adds per large product, 1/86 of it per small one
    const a = engine.upload(random(M * K, 1), [M, K], 'a');
    const b = engine.upload(random(K * N, 2), [K, N], 'b');
    const small = engine.tensor([3, N], 'acts.0.small');
    const large = engine.tensor([M, N], 'acts.1.large');
    const large2 = engine.tensor([M, N], 'acts.2.large');
    const a3 = engine.upload(random(3 * K, 3), [3, K], 'a3');
    matmul(engine, large, a, b);
    const unprofiled = await engine.read(large);

    engine.beginProfile();
    matmul(engine, small, a3, b);
    matmul(engine, large, a, b);
    matmul(engine, large2, a, b);
    const rows = await engine.endProfile();

    expect(Array.from(await engine.read(large))).toEqual(Array.from(unprofiled));
    expect(rows.map((r) => `${r.kernel} ${r.bindings} ${r.calls}`).sort()).toEqual([
      'matmul.forward acts.*.large ← a, b 2',
      'matmul.forward acts.*.small ← a3, b 1',
    ]);
    const [first, second] = rows;
    expect(first.bindings).toBe('acts.*.large ← a, b'); // longest first: two 257-row products against one of 3 rows
    expect(first.ms).toBeGreaterThan(second.ms);
    expect(second.ms).toBeGreaterThan(0);
    engine.release(a, b, small, large, large2, a3);
  });

  it('counts more dispatches than the query set holds, in one submit', async () => {
    const engine = await testEngine();
    const a = engine.upload(random(4 * 5, 4), [4, 5], 'a');
    const b = engine.upload(random(5 * 6, 5), [5, 6], 'b');
    const c = engine.tensor([4, 6], 'c');
    engine.beginProfile();
    for (let i = 0; i < 1500; i++) matmul(engine, c, a, b);
    const rows = await engine.endProfile();
    expect(rows).toHaveLength(1);
    expect(rows[0].calls).toBe(1500);
    await expect(engine.endProfile()).rejects.toThrow(/no profile is open/);
    engine.release(a, b, c);
  });
});
