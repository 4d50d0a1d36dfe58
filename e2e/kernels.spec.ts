// Kernels on real WebGPU in Chromium (SwiftShader here), against CPU references computed in Node.
// Vitest runs the same kernels on Dawn in Node; this checks the browser's WebGPU and the Vite-served
// WGSL as well. Each entry of e2e/kernels/table.ts becomes one test with a step per seeded case.

import { expect, test, type Page } from '@playwright/test';
import { Rng } from '../src/engine/random.ts';
import { KERNELS, type HostTensor, type KernelCase } from './kernels/table.ts';

type EngineModule = typeof import('../src/engine/engine.ts');
type TableModule = typeof import('./kernels/table.ts');

/** Runs one case in the page: uploads the inputs, runs the table's `run`, reads every output back. */
function runInBrowser(page: Page, name: string, kernelCase: KernelCase): Promise<Record<string, number[]>> {
  return page.evaluate(
    async ({ name, kernelCase }) => {
      // Paths on the Vite dev server, held in variables so TypeScript (Node side) leaves them alone.
      const enginePath = '/src/engine/engine.ts';
      const tablePath = '/e2e/kernels/table.ts';
      const { Engine } = (await import(enginePath)) as EngineModule;
      const { KERNELS } = (await import(tablePath)) as TableModule;
      // One engine (one GPUDevice) per page, shared by the test's cases.
      const scope = globalThis as { kernelEngine?: ReturnType<typeof Engine.create> };
      scope.kernelEngine ??= Engine.create(navigator.gpu);
      const engine = await scope.kernelEngine;

      const entry = KERNELS.find((k) => k.name === name);
      if (!entry) throw new Error(`no kernel named ${name} in e2e/kernels/table.ts`);
      const upload = (t: HostTensor, label: string) =>
        engine.upload(t.dtype === 'u32' ? Uint32Array.from(t.data) : Float32Array.from(t.data), t.shape, label);
      const inputs = Object.fromEntries(Object.entries(kernelCase.inputs).map(([key, t]) => [key, upload(t, key)]));
      const outputs = await entry.run(engine, inputs, kernelCase.params);
      const result: Record<string, number[]> = {};
      for (const [key, tensor] of Object.entries(outputs)) {
        result[key] = Array.from(tensor.dtype === 'u32' ? await engine.readU32(tensor) : await engine.read(tensor));
      }
      engine.release(...Object.values(inputs), ...Object.values(outputs));
      return result;
    },
    { name, kernelCase },
  );
}

/** Null when every |actual - expected| is within tolerance x max|expected|; otherwise what differs. */
function mismatch(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): string | null {
  if (actual.length !== expected.length) return `${actual.length} values, want ${expected.length}`;
  let scale = 1e-6; // floor, so an all-zero reference still allows rounding noise
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const limit = tolerance * scale;
  let worst = 0;
  const first: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= limit) && first.length < 5) first.push(`[${i}] got ${actual[i]} want ${expected[i]}`);
    if (!(diff <= worst)) worst = Number.isNaN(diff) ? Infinity : diff;
  }
  return first.length === 0
    ? null
    : `max abs diff ${worst} > ${limit} (${tolerance} x scale ${scale}); first mismatches: ${first.join(', ')}`;
}

test.beforeEach(async ({ page }) => {
  await page.goto('/e2e/harness.html');
});

for (const entry of KERNELS) {
  test(entry.name, async ({ page }) => {
    // The seed is fixed per kernel, so a failing case reproduces; each step names its shape.
    const rng = new Rng(0x5eed);
    for (const kernelCase of entry.cases(rng)) {
      await test.step(kernelCase.label, async () => {
        const want = entry.reference(kernelCase);
        const got = await runInBrowser(page, entry.name, kernelCase);
        expect(Object.keys(got).sort(), `${entry.name} ${kernelCase.label}: outputs`).toEqual(Object.keys(want).sort());
        for (const [key, expected] of Object.entries(want)) {
          const problem = mismatch(got[key], expected, entry.tolerance);
          expect(problem, `${entry.name} ${kernelCase.label}: ${key}`).toBeNull();
        }
      });
    }
  });
}
