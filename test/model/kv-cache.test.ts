// KvCache: growth keeps the rows already cached, its bytes, and a length past what one buffer may
// hold fails naming the device limit before anything is allocated.

import { describe, expect, it } from 'vitest';
import { KvCache } from '../../src/model/kv-cache.ts';
import { testEngine } from '../helpers/gpu.ts';

describe('KvCache', () => {
  const shape = { numLayers: 2, numKvHeads: 2, headDim: 4 };
  const width = 8; // KVH * D

  it('grows by doubling, keeping every cached row of every layer', async () => {
    const engine = await testEngine();
    const cache = new KvCache(engine, shape, 3);
    expect(cache.bytes).toBe(2 * 2 * 3 * width * 4);
    const rows = (l: number, kv: number) => Float32Array.from({ length: 3 * width }, (_, i) => 100 * l + 10 * kv + i);
    for (let l = 0; l < 2; l++) {
      engine.write(cache.layer(l).k, rows(l, 0));
      engine.write(cache.layer(l).v, rows(l, 1));
    }
    cache.length = 3;
    await cache.reserve(1);
    expect(cache.capacity).toBe(6);
    await cache.reserve(10);
    expect(cache.capacity).toBe(13);
    for (let l = 0; l < 2; l++) {
      expect(Array.from((await engine.read(cache.layer(l).k)).subarray(0, 3 * width))).toEqual(Array.from(rows(l, 0)));
      expect(Array.from((await engine.read(cache.layer(l).v)).subarray(0, 3 * width))).toEqual(Array.from(rows(l, 1)));
    }
    cache.clear();
    expect(cache.length).toBe(0);
    expect(cache.capacity).toBe(13);
    cache.destroy();
  });

  it('refuses a length past the buffer limits, naming them, and keeps its rows', async () => {
    const engine = await testEngine();
    const cache = new KvCache(engine, shape, 4);
    const tooMany = Math.floor(engine.limits.maxStorageBufferBindingSize / (width * 4)) + 1;
    await expect(cache.reserve(tooMany)).rejects.toThrow(/KV cache layer .* more than this adapter's max(StorageBufferBinding|Buffer)Size/);
    expect(cache.capacity).toBe(4);
    expect(() => cache.layer(2)).toThrow(/no layer 2/);
    cache.destroy();
  });
});
