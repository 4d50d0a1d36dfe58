// The real WebGPU device for tests (Dawn in Node). No adapter is a failure with instructions,
// never a silent pass: tests of GPU kernels mean nothing without a GPU.

import { afterAll } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { LAVAPIPE_ADAPTER, nodeGpu } from '../../src/engine/node-gpu.ts';

let engine: Promise<Engine> | undefined;
let f16Engine: Promise<Engine> | undefined;

/** One engine per test file, destroyed after the file's tests. */
export function testEngine(): Promise<Engine> {
  if (!engine) {
    engine = Engine.create(nodeGpu());
    afterAll(async () => (await engine!).destroy());
  }
  return engine;
}

const F16_HELP =
  'the f16 tests need an adapter with shader-f16: Mesa 24+ lavapipe (scripts/setup.sh installs Mesa 25 from ' +
  'bookworm-backports), or WEBGPU_F16_ADAPTER naming a GPU adapter that has it';

/**
 * An engine on an adapter with `shader-f16`, for the f16-activation tests: lavapipe unless
 * WEBGPU_F16_ADAPTER names another. One per test file, like `testEngine`.
 */
export function f16TestEngine(): Promise<Engine> {
  if (!f16Engine) {
    f16Engine = (async () => {
      let created: Engine;
      try {
        created = await Engine.create(nodeGpu(process.env.WEBGPU_F16_ADAPTER ?? LAVAPIPE_ADAPTER));
      } catch (e) {
        throw new Error(`${F16_HELP} (${e instanceof Error ? e.message : String(e)})`, { cause: e });
      }
      if (!created.supportsF16) throw new Error(`${F16_HELP}; ${created.adapterName} has no shader-f16`);
      return created;
    })();
    afterAll(async () => (await f16Engine!).destroy());
  }
  return f16Engine;
}

/** The engine's high-water mark of allocated bytes while `work` runs, above what was alive before. */
export async function peakDuring(engine: Engine, work: () => Promise<void>): Promise<number> {
  const before = engine.bytesAllocated;
  engine.peakBytesAllocated = before;
  await work();
  return engine.peakBytesAllocated - before;
}
