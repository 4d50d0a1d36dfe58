// The GPU memory estimate the "Hugging Face model" field shows before loading (src/ui/hub-memory.ts),
// checked against counts written out by hand for one config.

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/model/config.ts';
import { checkFit, estimateGpuMemory } from '../../src/ui/hub-memory.ts';

// SmolLM-135M's shape: 30 layers, C 576, I 1536, 9 heads of 64, 3 kv heads, V 49152, tied embeddings.
const SMOL = parseConfig({
  model_type: 'llama',
  vocab_size: 49152,
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
});

describe('estimateGpuMemory', () => {
  it('counts f32 weights and the activations of one forward pass', () => {
    const perLayer = 576 * 576 * 2 + 576 * 192 * 2 + 3 * 576 * 1536 + 2 * 576;
    const weights = 4 * (49152 * 576 + 30 * perLayer + 576);
    const e = estimateGpuMemory(SMOL, 4096);
    expect(e.weightBytes).toBe(weights);
    const R = 4096;
    const chunk = Math.floor((1 << 24) / 49152) * 49152;
    expect(e.activationBytes).toBe(4 * (5 * R * 576 + 2 * R * 576 + 2 * R * 192 + 3 * R * 1536 + R * 9 + 4 * R + chunk));
    expect(e.totalBytes).toBe(e.weightBytes + e.activationBytes);
    // The embedding table (113 MB) is the largest buffer at 4096 tokens; an [R, I] activation at 32768.
    expect(e.largestName).toBe('model.embed_tokens.weight');
    expect(estimateGpuMemory(SMOL, 32768)).toMatchObject({ largestBytes: 4 * 32768 * 1536, largestName: 'MLP activation [R, I]' });
  });
});

describe('checkFit', () => {
  const MB = 1024 * 1024;
  it('fits under generous limits', () => {
    const r = checkFit(SMOL, 32768, { maxBufferSize: 1024 * MB, maxStorageBinding: 1024 * MB });
    expect(r).toMatchObject({ weightsFit: true, fits: true, longestFitting: 32768 });
    expect(r.message).toMatch(/^Fits: needs about .* at 32,768 tokens/);
  });
  it('says when activations at the length do not fit and suggests a shorter length', () => {
    // 128 MB per binding (WebGPU's default): [R, 1536] f32 fits up to R = 21845, so 16384.
    const r = checkFit(SMOL, 32768, { maxBufferSize: 256 * MB, maxStorageBinding: 128 * MB });
    expect(r).toMatchObject({ weightsFit: true, fits: false, longestFitting: 16384 });
    expect(r.message).toMatch(/^Does not fit at 32,768 tokens: .*Use a shorter length: up to 16,384 tokens fits\./);
  });
  it('says when the weights alone do not fit', () => {
    const r = checkFit(SMOL, 2048, { maxBufferSize: 64 * MB, maxStorageBinding: 64 * MB });
    expect(r.weightsFit).toBe(false);
    expect(r.message).toMatch(/^Does not fit: the weight model\.embed_tokens\.weight alone needs 108 MB/);
  });
});

// SmolLM-360M's shape: 32 layers, C 960, I 2560, 15 heads of 64, 5 kv heads, V 49152, tied.
const SMOL_360 = parseConfig({
  model_type: 'llama',
  vocab_size: 49152,
  hidden_size: 960,
  intermediate_size: 2560,
  num_hidden_layers: 32,
  num_attention_heads: 15,
  num_key_value_heads: 5,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
});

describe('f16 weights', () => {
  const MB = 1024 * 1024;
  it('counts 2-D weights at 2 bytes and norm gains at 4; activations unchanged', () => {
    const matrices = 49152 * 576 + 30 * (576 * 576 * 2 + 576 * 192 * 2 + 3 * 576 * 1536);
    const gains = 30 * 2 * 576 + 576;
    const f32 = estimateGpuMemory(SMOL, 4096);
    const f16 = estimateGpuMemory(SMOL, 4096, 'f16');
    expect(f16.weights).toBe('f16');
    expect(f32.weightBytes).toBe(4 * (matrices + gains));
    expect(f16.weightBytes).toBe(2 * matrices + 4 * gains);
    expect(f16.activationBytes).toBe(f32.activationBytes);
    // At one token the f16 table is the largest buffer (at 4096 the 67 MB logits chunk is).
    expect(estimateGpuMemory(SMOL, 1, 'f16')).toMatchObject({ largestBytes: 2 * 49152 * 576, largestName: 'model.embed_tokens.weight' });
    // The figures the README quotes (MB = 2^20).
    expect((f32.weightBytes / MB).toFixed(0)).toBe('513');
    expect((f16.weightBytes / MB).toFixed(0)).toBe('257');
    const big32 = estimateGpuMemory(SMOL_360, 1);
    const big16 = estimateGpuMemory(SMOL_360, 1, 'f16');
    expect((big32.weightBytes / MB).toFixed(0)).toBe('1380');
    expect((big16.weightBytes / MB).toFixed(0)).toBe('690');
    expect(big32.largestBytes).toBe(4 * 49152 * 960); // 180 MB, over WebGPU's default 128 MB binding
  });

  it('offers f16 where f32 weights do not fit and f16 ones do (SmolLM-360M under 128 MB per binding)', () => {
    const limits = { maxBufferSize: 256 * MB, maxStorageBinding: 128 * MB };
    const f32 = checkFit(SMOL_360, 2048, limits);
    expect(f32).toMatchObject({ weightsFit: false, fits: false, f16WouldFit: true });
    expect(f32.message).toMatch(/^Does not fit: the weight model\.embed_tokens\.weight alone needs 180 MB as f32, .*It fits with f16 weights/);
    const f16 = checkFit(SMOL_360, 2048, limits, 'f16');
    expect(f16).toMatchObject({ weightsFit: true, fits: true, f16WouldFit: false });
    expect(f16.message).toMatch(/^Fits: needs about .*weights 690 MB as f16/);
  });

  it('does not offer f16 where f32 fits, or where f16 does not fit either, or where activations are the problem', () => {
    expect(checkFit(SMOL_360, 2048, { maxBufferSize: 1024 * MB, maxStorageBinding: 1024 * MB }).f16WouldFit).toBe(false);
    const tiny = checkFit(SMOL_360, 2048, { maxBufferSize: 64 * MB, maxStorageBinding: 64 * MB });
    expect(tiny).toMatchObject({ weightsFit: false, f16WouldFit: false });
    expect(tiny.message).toMatch(/Choose a smaller model\./);
    const long = checkFit(SMOL, 32768, { maxBufferSize: 256 * MB, maxStorageBinding: 128 * MB });
    expect(long).toMatchObject({ weightsFit: true, fits: false, f16WouldFit: false });
  });
});
