// The KV cache of one sequence for KV-cached decoding (LlamaModel.prefill / decode): per layer,
// the keys and values of every token so far. Keys are stored UNROTATED (after QK-norm where the
// model has it, before RoPE): attention rotates them as it reads them (shaders/attention_decode.wgsl)
// at the position mode of the current step, so switching the mode ("Drop RoPE", another scaling)
// or the logit scale between two tokens needs no recompute, as in the DroPE code, which passes an
// identity rotation.
//
// Glossary: L layers, KVH key/value heads, D head dim, capacity rows allocated, length rows filled.

import type { Engine } from '../engine/engine.ts';
import { byteSize, type DType, type Tensor } from '../engine/tensor.ts';

export interface KvCacheShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
}

interface LayerCache {
  k: Tensor; // [capacity, KVH*D] keys, unrotated
  v: Tensor; // [capacity, KVH*D]
}

export class KvCache {
  readonly engine: Engine;
  readonly shape: KvCacheShape;
  /** Element type of the cached rows: the model's activation format. */
  readonly dtype: DType;
  /** Rows 0 .. length-1 hold the tokens so far. */
  length = 0;
  private layerCaches: LayerCache[];

  constructor(engine: Engine, shape: KvCacheShape, capacity: number, dtype: DType = 'f32') {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new Error(`KV cache: capacity must be a positive integer, got ${capacity}`);
    this.engine = engine;
    this.shape = shape;
    this.dtype = dtype;
    this.layerCaches = this.allocate(capacity);
  }

  /** Rows allocated per layer. */
  get capacity(): number {
    return this.layerCaches[0].k.shape[0];
  }

  /** GPU bytes of the cache: 2 · L · capacity · KVH · D elements. */
  get bytes(): number {
    return KvCache.bytesFor(this.shape, this.capacity, this.dtype);
  }

  static bytesFor(shape: KvCacheShape, capacity: number, dtype: DType = 'f32'): number {
    return 2 * shape.numLayers * byteSize([capacity, shape.numKvHeads * shape.headDim], dtype);
  }

  layer(l: number): LayerCache {
    const cache = this.layerCaches[l];
    if (!cache) throw new Error(`KV cache: no layer ${l} (the cache has ${this.layerCaches.length})`);
    return cache;
  }

  /**
   * Makes room for `rows` more tokens: when length + rows exceeds the capacity, every layer's
   * buffers are replaced by ones of twice the capacity (at most what one buffer may hold, at least
   * length + rows) holding the same rows. Past the device's buffer limits it fails, naming them.
   */
  async reserve(rows: number): Promise<void> {
    const needed = this.length + rows;
    if (needed <= this.capacity) return;
    const width = this.shape.numKvHeads * this.shape.headDim;
    const { maxStorageBufferBindingSize, maxBufferSize } = this.engine.limits;
    const maxRows = Math.floor(Math.min(maxStorageBufferBindingSize, maxBufferSize) / byteSize([width], this.dtype));
    const capacity = Math.max(needed, Math.min(2 * this.capacity, maxRows));
    this.engine.assertFits([capacity, width], 'KV cache layer', this.dtype);
    const grown = this.allocate(capacity);
    if (this.length > 0) {
      this.layerCaches.forEach((old, l) => {
        this.engine.copy(grown[l].k, old.k, { count: this.length * width });
        this.engine.copy(grown[l].v, old.v, { count: this.length * width });
      });
    }
    // The old buffers may be destroyed only once the copies (and any work reading them) are submitted.
    await this.engine.flush();
    this.release();
    this.layerCaches = grown;
  }

  /** Forgets every token (the buffers stay for the next sequence). */
  clear(): void {
    this.length = 0;
  }

  destroy(): void {
    this.release();
    this.layerCaches = [];
  }

  private allocate(capacity: number): LayerCache[] {
    const { numLayers, numKvHeads, headDim } = this.shape;
    const shape = [capacity, numKvHeads * headDim];
    return Array.from({ length: numLayers }, (_, l) => ({
      k: this.engine.tensor(shape, `kvCache.${l}.k`, this.dtype),
      v: this.engine.tensor(shape, `kvCache.${l}.v`, this.dtype),
    }));
  }

  private release(): void {
    this.engine.release(...this.layerCaches.flatMap(({ k, v }) => [k, v]));
  }
}
