// The page's GPU memory estimate (src/ui/features/model/hub-memory.ts) held against the bytes the engine really
// allocates (Engine.peakBytesAllocated) when LlamaModel loads a checkpoint, measures perplexity at
// the estimate's length and generates with a KV cache of that length: both read one size table
// (src/model/buffer-sizes.ts), so a perplexity pass agrees to the byte; a generation adds its KV
// cache, which the estimate counts, and a few decode rows.

import { describe, expect, it } from 'vitest';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { LlamaModel } from '../../src/model/model.ts';
import type { StorageFormat } from '../../src/model/precision.ts';
import { estimateGpuMemory } from '../../src/ui/features/model/hub-memory.ts';
import { peakDuring, testEngine } from '../helpers/gpu.ts';
import { TINY_CONFIG } from '../helpers/tiny-config.ts';

const CONFIGS: Record<string, Record<string, unknown>> = {
  'GQA 2:1, tied embeddings': TINY_CONFIG,
  'QK-norm, untied LM head, odd sizes': {
    ...TINY_CONFIG,
    attention_type: 'qk_norm_nope',
    model_type: 'llama_drope',
    hidden_size: 24,
    intermediate_size: 40,
    num_attention_heads: 3,
    num_key_value_heads: 3,
    head_dim: 16,
    vocab_size: 200,
    tie_word_embeddings: false,
  },
};

const FORMATS: StorageFormat[] = [
  { weights: 'f32', activations: 'f32' },
  { weights: 'f16', activations: 'f32' },
];

describe('memory estimate against allocated bytes', () => {
  for (const [name, rawConfig] of Object.entries(CONFIGS)) {
    for (const format of FORMATS) {
      for (const length of [1, 13, 40]) {
        it(`${name}, ${format.weights} weights, ${length} tokens: weights, then one perplexity pass`, async () => {
          const engine = await testEngine();
          const checkpoint = initializeCheckpoint(rawConfig, 3);
          const estimate = estimateGpuMemory(checkpoint.config, length, format);
          let model: LlamaModel | undefined;
          const weightBytes = await peakDuring(engine, async () => {
            model = LlamaModel.fromCheckpoint(engine, checkpoint, { weights: format.weights });
          });
          try {
            // Buffers are rounded up to whole 4-byte words: an f16 weight with an odd element count gains 2 bytes.
            expect(weightBytes).toBeGreaterThanOrEqual(estimate.weightBytes);
            expect(weightBytes).toBeLessThanOrEqual(estimate.weightBytes + 2 * checkpoint.tensors.size);
            const ids = Array.from({ length }, (_, i) => (i * 37) % checkpoint.config.vocabSize);
            // With RoPE on (the estimate counts the rotary tables even for a model trained without, which the page may give RoPE).
            const passBytes = await peakDuring(engine, async () => {
              await model!.nll(ids, 1, length, { positions: { kind: 'rope' } });
            });
            expect(passBytes).toBe(estimate.activationBytes);
          } finally {
            model!.destroy();
          }
        });
      }
    }
  }

  it('as the page uses a model: perplexity at the estimate length, then a generation that long, within 10% of the estimate and never above it', async () => {
    const engine = await testEngine();
    const checkpoint = initializeCheckpoint(TINY_CONFIG, 5);
    const length = 48;
    const estimate = estimateGpuMemory(checkpoint.config, length);
    let model: LlamaModel | undefined;
    const allocated = await peakDuring(engine, async () => {
      model = LlamaModel.fromCheckpoint(engine, checkpoint);
      const ids = Array.from({ length }, (_, i) => (i * 11) % 256);
      await model.nll(ids, 1, length);
      const cache = model.createKvCache(length);
      expect(cache.bytes).toBe(estimate.kvCacheBytes);
      await model.prefill(cache, ids.slice(0, length - 8));
      for (let i = 0; i < 8; i++) await model.decode(cache, [i]);
      // The cache did not grow: it was sized for the whole generation.
      expect(cache.capacity).toBe(length);
    });
    try {
      expect(allocated).toBeLessThanOrEqual(estimate.totalBytes);
      expect(allocated).toBeGreaterThan(0.9 * estimate.totalBytes);
    } finally {
      model!.destroy();
    }
  });
});
