// The worker client (src/ui/worker/client.ts) over a scripted worker: which event ends which
// request, progress on the way, control commands, a GPU failure, batching, and a stop then a start.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { WorkerClient, type WorkerPort } from '../../src/ui/worker/client.ts';
import type { ProgressEvent } from '../../src/ui/worker/protocol.ts';
import { scriptedController } from './helpers/scripted-worker.ts';

afterEach(() => {
  vi.useRealTimers();
});

/** Whether a request has ended: its promise settled (with the microtasks queued so far run). */
async function ended(result: Promise<unknown>): Promise<boolean> {
  const pending = Symbol('pending');
  return (await Promise.race([result, Promise.resolve(pending)])) !== pending;
}

describe('WorkerClient', () => {
  it('numbers each request; progress goes to its callback, the final event resolves its promise', async () => {
    const { client, requests, emit } = scriptedController();
    const points: ProgressEvent<'evaluate'>[] = [];
    const evaluation = client.request(
      { type: 'evaluate', variant: 'base', settings: { rope: true, scaling: 'none', factor: 2, c: 0 }, lengths: [32, 64], tokens: 64 },
      (event) => points.push(event),
    );
    const count = client.request({ type: 'countTokens', text: 'abc' });
    expect(requests.map((r) => [r.id, r.command.type])).toEqual([
      [evaluation.id, 'evaluate'],
      [count.id, 'countTokens'],
    ]);
    expect(count.id).not.toBe(evaluation.id);
    emit(0, { type: 'progress', done: 1, total: 2, length: 32 });
    emit(0, { type: 'point', length: 32, ppl: 9.5 });
    expect(await ended(evaluation.result)).toBe(false);
    emit(0, { type: 'done' });
    expect(await ended(evaluation.result)).toBe(true);
    // Nothing listens to a request once it ended.
    emit(0, { type: 'point', length: 64, ppl: 8 });
    expect(points.map((p) => p.type)).toEqual(['progress', 'point']);
    await expect(evaluation.result).resolves.toEqual({ type: 'done', id: evaluation.id });
    expect(await ended(count.result)).toBe(false);
  });

  it('each command ends on its own final event: init on ready or noWebGPU, loadModel on modelLoaded, fitC on fitted', async () => {
    const { client, emit } = scriptedController();
    const init = client.request({ type: 'init' });
    const load = client.request({ type: 'loadModel', name: 'm', baseUrl: '/m/', validationUrl: '/v.txt' });
    const fit = client.request({
      type: 'fitC',
      variant: 'base',
      settings: { rope: false, scaling: 'none', factor: 2, c: 0 },
      lengths: [64],
      tokens: 64,
      grid: [0, 0.1],
    });
    const other = client.request({ type: 'init' });
    emit(0, {
      type: 'ready',
      adapter: { name: 'a', software: true, maxBufferSize: 1, maxStorageBinding: 1, shaderF16: false },
    });
    emit(1, { type: 'modelLoaded', summary: { name: 'm', trainContext: 64, parameters: 1, validationTokens: 1 } });
    emit(2, { type: 'fitted', c: 0.1, lengths: [64], scores: [] });
    emit(3, { type: 'noWebGPU', reason: 'none here' });
    expect((await init.result).type).toBe('ready');
    expect((await load.result).type).toBe('modelLoaded');
    expect(await fit.result).toMatchObject({ type: 'fitted', c: 0.1 });
    expect(await other.result).toMatchObject({ type: 'noWebGPU', reason: 'none here' });
  });

  it('cancelled and error end any request', async () => {
    const { client, emit } = scriptedController();
    const a = client.request({ type: 'dropRope', from: 'base' });
    const b = client.request({ type: 'loadModel', name: 'm', baseUrl: '/m/', validationUrl: '/v.txt' });
    emit(0, { type: 'cancelled' });
    emit(1, { type: 'error', message: 'HTTP 404' });
    expect(await a.result).toEqual({ type: 'cancelled', id: a.id });
    expect(await b.result).toEqual({ type: 'error', id: b.id, message: 'HTTP 404' });
  });

  it('control commands are numbered too, and open no request', () => {
    const { client, requests, controls } = scriptedController();
    const run = client.request({ type: 'forgetVariant', variant: 'x' });
    client.control({ type: 'cancel', target: run.id });
    client.control({ type: 'loseDevice' });
    expect(requests).toHaveLength(1);
    expect(controls).toEqual([{ type: 'cancel', target: run.id }, { type: 'loseDevice' }]);
  });

  it('a GPU failure goes to onGpuFailure, not to a request', async () => {
    const { client, ports, gpuFailures } = scriptedController();
    const run = client.request({ type: 'dropRope', from: 'base' });
    ports[0].onmessage!({ data: { type: 'gpuFailure', id: 0, message: 'device lost', lost: true } } as MessageEvent);
    expect(gpuFailures).toEqual(['device lost']);
    expect(await ended(run.result)).toBe(false);
  });

  it('stop, then start: the open requests end as cancelled, the old worker’s late events are dropped, new requests go to the new one', async () => {
    const { client, ports, requests, emit } = scriptedController();
    const terminated = vi.spyOn(ports[0], 'terminate');
    const before = client.request({ type: 'restoreVariants' });
    client.stop();
    client.start();
    expect(terminated).toHaveBeenCalledOnce();
    expect(ports).toHaveLength(2);
    expect(await before.result).toEqual({ type: 'cancelled', id: before.id });
    ports[0].onmessage!({ data: { type: 'done', id: before.id } } as MessageEvent);
    const after = client.request({ type: 'init' });
    expect(requests.at(-1)!.id).toBe(after.id);
    emit(requests.length - 1, { type: 'error', message: 'no adapter' });
    expect(await after.result).toMatchObject({ type: 'error', message: 'no adapter' });
  });

  it('events arriving within batchMs are applied together, in one later task', async () => {
    vi.useFakeTimers();
    let port!: WorkerPort;
    const client = new WorkerClient({
      create: () => (port = { postMessage: () => undefined, terminate: () => undefined, onmessage: null, onerror: null }),
      onGpuFailure: () => undefined,
      onWorkerError: () => undefined,
      batchMs: 100,
    });
    client.start();
    const seen: number[] = [];
    const run = client.request(
      {
        type: 'generate',
        slot: 'A',
        variant: 'base',
        prompt: 'x',
        maxTokens: 3,
        settings: { rope: true, scaling: 'none', factor: 2, c: 0 },
      },
      (e) => seen.push(e.count),
    );
    for (const count of [1, 2, 3])
      port.onmessage!({ data: { type: 'token', id: run.id, slot: 'A', count, text: 'y', rope: true } } as MessageEvent);
    expect(seen).toEqual([]);
    vi.advanceTimersByTime(0);
    expect(seen).toEqual([1, 2, 3]);
    // The next batch waits for the rest of the 100 ms since the last one.
    port.onmessage!({ data: { type: 'done', id: run.id } } as MessageEvent);
    vi.advanceTimersByTime(50);
    expect(await ended(run.result)).toBe(false);
    vi.advanceTimersByTime(60);
    expect(await ended(run.result)).toBe(true);
    expect((await run.result).type).toBe('done');
  });

  it('a worker that fails to start is reported', () => {
    const messages: string[] = [];
    let port!: WorkerPort;
    const client = new WorkerClient({
      create: () => (port = { postMessage: () => undefined, terminate: () => undefined, onmessage: null, onerror: null }),
      onGpuFailure: () => undefined,
      onWorkerError: (message) => messages.push(message),
      batchMs: 0,
    });
    client.start();
    port.onerror!({ message: '', preventDefault: () => undefined } as ErrorEvent);
    expect(messages).toEqual(['it could not start']);
  });
});
