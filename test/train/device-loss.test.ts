// A device lost in the middle of training ends the step with a clear error, promptly: never a hang.
//
// The loss is real: `device.destroy()` called on the engine's device from outside the engine, as
// the app's test-only `loseDevice` worker command does. What Dawn (npm `webgpu`) does then, checked
// here and relied on by src/engine/engine.ts: destroy() waits for the work already submitted, then
// `device.lost` resolves with reason 'destroyed'; a pending mapAsync rejects with a bare AbortError
// (empty message), popErrorScope resolves null and onSubmittedWorkDone resolves. The engine turns
// all of that into one EngineError naming the loss, and calls its failure listeners once.
//
// Each test opens its own device (testEngine()'s is shared by a file and must stay alive).

import { describe, expect, it } from 'vitest';
import { Engine, EngineError } from '../../src/engine/engine.ts';
import { nodeGpu } from '../../src/engine/node-gpu.ts';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { LlamaModel } from '../../src/model/model.ts';
import { TokenStream } from '../../src/train/data.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { TINY_CONFIG } from '../helpers/tiny-config.ts';

const TEXT =
  'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. '.repeat(8);
const data = new TokenStream(new TextEncoder().encode(TEXT));

/** A step on this tiny model takes milliseconds; after a loss, an answer must come well within this. */
const PROMPT_MS = 10_000;

/** The promise's outcome, or a failure naming `what` once `ms` pass: the test's guard against a hang. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms (a hang)`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function setup() {
  const engine = await Engine.create(nodeGpu());
  const failures: { message: string; lost: boolean }[] = [];
  engine.onFailure((message, lost) => failures.push({ message, lost }));
  const model = LlamaModel.fromCheckpoint(engine, initializeCheckpoint(TINY_CONFIG, 3));
  const trainer = new Trainer(model, data, { steps: 500, ctx: 16, batch: 2, lr: 1e-3, warmup: 2, seed: 1, positions: { kind: 'none' } });
  return { engine, failures, trainer };
}

function expectLossError(error: unknown): void {
  expect(error).toBeInstanceOf(EngineError);
  expect((error as Error).message).toMatch(/^the GPU device was lost \(destroyed\): /);
}

describe('device loss during training', () => {
  it('a device destroyed while a step awaits the GPU ends that step with the loss as an EngineError', async () => {
    const { engine, failures, trainer } = await setup();
    await trainer.trainStep();
    // trainStep runs synchronously up to its first GPU wait (the forward is submitted, a readback
    // is pending): destroying now lands in the middle of the step.
    const step = trainer.trainStep();
    engine.device.destroy();
    const error = await within(
      step.then(
        () => null,
        (e: unknown) => e,
      ),
      PROMPT_MS,
      'the interrupted step',
    );
    expectLossError(error);
    expect(trainer.step).toBe(1);
    expect(engine.isLost).toBe(true);
    expect(failures).toEqual([{ message: (error as Error).message, lost: true }]);

    // Every later step fails at once with the same error: nothing waits on the dead device.
    const again = await within(
      trainer.trainStep().then(
        () => null,
        (e: unknown) => e,
      ),
      PROMPT_MS,
      'a step after the loss',
    );
    expectLossError(again);
    // Freeing buffers of a lost device is allowed (the worker does it when a run ends).
    trainer.destroy();
    trainer.model.destroy();
    expect(failures).toHaveLength(1);
  });

  it('a device destroyed at a random moment of a training loop ends the loop with the loss', async () => {
    const { engine, failures, trainer } = await setup();
    await trainer.trainStep(); // pipelines compiled: later steps are quick
    const loop = (async () => {
      while (!trainer.done) await trainer.trainStep();
    })();
    // Between and within steps alike: the loop must end with the loss, whichever it hits.
    setTimeout(() => engine.device.destroy(), 40);
    const error = await within(
      loop.then(
        () => null,
        (e: unknown) => e,
      ),
      PROMPT_MS + 40,
      'the training loop',
    );
    // 499 steps cannot finish in 40 ms on any GPU this runs on (each waits for two readbacks).
    expectLossError(error);
    expect(trainer.done).toBe(false);
    expect(failures.filter((f) => f.lost)).toHaveLength(1);
  });

  it('reading back from a device lost while idle fails at once, not after a wait', async () => {
    const { engine, trainer } = await setup();
    engine.device.destroy();
    // The loss is reported asynchronously: wait for it, as an idle app would.
    await within(engine.device.lost, PROMPT_MS, 'device.lost');
    await Promise.resolve();
    expect(engine.isLost).toBe(true);
    const error = await within(
      trainer.trainStep().then(
        () => null,
        (e: unknown) => e,
      ),
      PROMPT_MS,
      'a step on a lost device',
    );
    expectLossError(error);
  });

  it("the engine's own destroy() is a quiet end, not a failure", async () => {
    const { engine, failures } = await setup();
    engine.destroy();
    const info = await within(engine.device.lost, PROMPT_MS, 'device.lost');
    expect(info.reason).toBe('destroyed');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(engine.isLost).toBe(false);
    expect(failures).toEqual([]);
  });
});
