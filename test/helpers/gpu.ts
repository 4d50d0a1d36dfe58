// The real WebGPU device for tests (Dawn in Node). No adapter is a failure with instructions,
// never a silent pass: tests of GPU kernels mean nothing without a GPU.

import { afterAll } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { nodeGpu } from '../../src/engine/node-gpu.ts';

let engine: Promise<Engine> | undefined;

/** One engine per test file, destroyed after the file's tests. */
export function testEngine(): Promise<Engine> {
  if (!engine) {
    engine = Engine.create(nodeGpu());
    afterAll(async () => (await engine!).destroy());
  }
  return engine;
}
