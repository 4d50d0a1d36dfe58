// Every kernel of the inference path at f16 precision (activations stored as binary16 through the
// adapter's shader-f16; arithmetic in f32 inside the kernel) on a real adapter that has the
// feature, against the float64 references of e2e/kernels/table.ts given the same inputs rounded
// to binary16: what remains is the f16 storage of the outputs. And the rules around it: one
// precision per call, a clear error where the adapter has no shader-f16.

import { describe, expect, it } from 'vitest';
import { addInPlace } from '../../src/engine/ops/residual.ts';
import { matmul } from '../../src/engine/ops/matmul.ts';
import { Rng } from '../../src/engine/random.ts';
import type { Tensor } from '../../src/engine/tensor.ts';
import { KERNELS, type HostTensor } from '../../e2e/kernels/table.ts';
import { expectClose } from '../helpers/compare.ts';
import { roundToF16 } from '../helpers/f16.ts';
import { f16TestEngine, testEngine } from '../helpers/gpu.ts';

describe('kernels at f16 precision', () => {
  for (const entry of KERNELS.filter((k) => k.f16)) {
    const { activations, tolerance } = entry.f16!;
    it(`${entry.name}: activations in f16 match the float64 reference within ${tolerance} of scale`, async () => {
      const engine = await f16TestEngine();
      const rng = new Rng(0x5eed);
      for (const kernelCase of entry.cases(rng)) {
        const what = `${entry.name} f16 ${kernelCase.label}`;
        const inputs: Record<string, HostTensor> = {};
        for (const [key, t] of Object.entries(kernelCase.inputs)) {
          inputs[key] = activations.includes(key) ? { ...t, data: t.data.map(roundToF16) } : t;
        }
        const want = entry.reference({ ...kernelCase, inputs });
        const uploaded: Record<string, Tensor> = {};
        for (const [key, t] of Object.entries(inputs)) {
          uploaded[key] =
            t.dtype === 'u32'
              ? engine.upload(Uint32Array.from(t.data), t.shape, key)
              : engine.upload(Float32Array.from(t.data), t.shape, key, activations.includes(key) ? 'f16' : undefined);
        }
        const outputs = await entry.run(engine, uploaded, kernelCase.params, 'f16');
        expect(Object.keys(outputs).sort(), `${what}: outputs`).toEqual(Object.keys(want).sort());
        for (const [key, expected] of Object.entries(want))
          expectClose(await engine.read(outputs[key]), expected, { tolerance, what: `${what}: ${key}` });
        // The path under test really stores f16: every output is f16 but the f32 statistics.
        const dtypes = Object.values(outputs).map((t) => t.dtype);
        expect(dtypes.some((d) => d === 'f16') || entry.name === 'cross_entropy.forward', `${what}: an f16 output`).toBe(true);
        engine.release(...new Set([...Object.values(uploaded), ...Object.values(outputs)]));
      }
    });
  }

  it('stores binary16: 1 + 2^-12 is 1 after an f16 add, 1.000244 after an f32 one', async () => {
    const engine = await f16TestEngine();
    const sum = async (precision: 'f32' | 'f16') => {
      const x = engine.upload(new Float32Array([1, 3]), [2], 'x', precision === 'f16' ? 'f16' : undefined);
      const y = engine.upload(new Float32Array([2 ** -12, 2 ** -10]), [2], 'y', precision === 'f16' ? 'f16' : undefined);
      addInPlace(engine, x, y);
      const out = await engine.read(x);
      engine.release(x, y);
      return [...out];
    };
    expect(await sum('f32')).toEqual([1 + 2 ** -12, 3 + 2 ** -10]);
    expect(await sum('f16')).toEqual([1, 3]); // half an f16 ulp of 1 and of 3 ties to even
  });

  it('refuses a call that mixes f16 and f32 activations, naming them', async () => {
    const engine = await f16TestEngine();
    const a = engine.upload(new Float32Array(6), [2, 3], 'a', 'f16');
    const b = engine.upload(new Float32Array(6), [3, 2], 'b');
    const c = engine.tensor([2, 2], 'c');
    expect(() => matmul(engine, c, a, b)).toThrow(/activations must all be f32 or all f16, got c \(f32\), a \(f16\)/);
    engine.release(a, b, c);
  });

  it('an adapter without shader-f16 (SwiftShader) says so instead of running', async () => {
    const engine = await testEngine();
    expect(engine.supportsF16).toBe(false);
    const a = engine.upload(new Float32Array(6), [2, 3], 'a', 'f16');
    const b = engine.upload(new Float32Array(6), [3, 2], 'b');
    const c = engine.tensor([2, 2], 'c', 'f16');
    expect(() => matmul(engine, c, a, b)).toThrow(
      /matmul at f16 precision needs the adapter feature shader-f16, which .*SwiftShader.* does not have/,
    );
  });
});
