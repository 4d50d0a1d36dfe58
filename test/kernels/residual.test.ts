import { describe, expect, it } from 'vitest';
import { addInPlace } from '../../src/engine/ops/residual.ts';
import { Rng } from '../../src/engine/random.ts';
import { expectClose } from '../helpers/compare.ts';
import { testEngine } from '../helpers/gpu.ts';
import { residualAddReference } from '../reference/residual.ts';

const WG = 64; // the kernel's workgroup size (src/engine/ops/residual.ts)

describe('residual.add_in_place', () => {
  const rng = new Rng(777);
  // A single element, sizes that are not multiples of the workgroup size, and random shapes.
  const cases: number[][] = [
    [1],
    [1, 1],
    [3, 17],
    [64],
    [65],
    [50, 130],
    ...Array.from({ length: 4 }, () => [rng.int(1, 80), rng.int(1, 300)]),
  ];

  async function check(shape: number[]) {
    const engine = await testEngine();
    const n = shape.reduce((a, b) => a * b, 1);
    const x = rng.normals(n, 2);
    const y = rng.normals(n);
    // f32 addition is correctly rounded in WGSL, so Math.fround of the exact sum is the answer.
    const want = Float32Array.from(residualAddReference(x, y));
    const tx = engine.upload(x, shape, 'x');
    const ty = engine.upload(y, shape, 'y');
    addInPlace(engine, tx, ty);
    expectClose(await engine.read(tx), want, { tolerance: 0, what: `x [${shape}]` });
    // y is an input only.
    expectClose(await engine.read(ty), y, { tolerance: 0, what: `y [${shape}] unchanged` });
    engine.release(tx, ty);
  }

  for (const shape of cases) {
    it(`shape [${shape}]`, () => check(shape));
  }

  it('folds a dispatch of more than maxComputeWorkgroupsPerDimension workgroups', async () => {
    const engine = await testEngine();
    const n = engine.limits.maxComputeWorkgroupsPerDimension * WG + 1001;
    await check([n]);
  });

  it('rejects different shapes and aliasing', async () => {
    const engine = await testEngine();
    const x = engine.tensor([4, 8], 'x');
    expect(() => addInPlace(engine, x, engine.tensor([8, 4], 'y'))).toThrow(/differ in shape/);
    expect(() => addInPlace(engine, x, x)).toThrow(/the output x must not alias the input x/);
  });
});
