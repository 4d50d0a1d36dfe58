// The GPU memory estimate the "Hugging Face model" field shows before loading (src/ui/features/model/hub-memory.ts),
// checked against counts written out by hand for one config, for each storage format
// (src/model/precision.ts), and the Precision policy that picks the format.

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/model/config.ts';
import { F16_STORAGE, F32_STORAGE, resolvePrecision, type StorageFormat } from '../../src/model/precision.ts';
import { checkFit, describeStorage, estimateGpuMemory, precisionNote } from '../../src/ui/features/model/hub-memory.ts';

const F16_WEIGHTS: StorageFormat = { weights: 'f16', activations: 'f32' };

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

/**
 * SmolLM-135M's inference buffers at R tokens, written out from LlamaModel's allocations: `act`
 * bytes for each activation (residual, projected, finalNormed, normed1, normed2 [R, 576]; q and
 * attention [R, 9·64]; k, v [R, 3·64]; gate, up, hidden [R, 1536]; the LM head's logits [N, V] and
 * final-norm rows [N, 576] with N = 341 rows of 49152 under 2^24 elements), 4 bytes for the rest at
 * any precision (lse [9, R]; rstd1, rstd2, finalRstd [R]; ids [R]; targets and NLL [N]; rotary cos
 * and sin [R, 32]).
 */
function smolActivationBytes(R: number, act: number): number {
  const N = Math.min(R, 341);
  const activations = 5 * R * 576 + 2 * R * 576 + 2 * R * 192 + 3 * R * 1536 + N * 49152 + N * 576;
  const f32Always = 9 * R + 3 * R + R + 2 * N + 2 * R * 32;
  return act * activations + 4 * f32Always;
}

describe('estimateGpuMemory', () => {
  it('counts f32 weights and the activations of one forward pass', () => {
    const perLayer = 576 * 576 * 2 + 576 * 192 * 2 + 3 * 576 * 1536 + 2 * 576;
    const weights = 4 * (49152 * 576 + 30 * perLayer + 576);
    const e = estimateGpuMemory(SMOL, 4096);
    expect(e.format).toEqual(F32_STORAGE);
    expect(e.weightBytes).toBe(weights);
    expect(e.activationBytes).toBe(smolActivationBytes(4096, 4));
    // The KV cache of a 4096-token generation: keys and values of 30 layers, 3 KV heads of 64, f32.
    expect(e.kvCacheBytes).toBe(2 * 30 * 4096 * 3 * 64 * 4);
    expect(e.totalBytes).toBe(e.weightBytes + e.activationBytes + e.kvCacheBytes);
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
    const f16 = estimateGpuMemory(SMOL, 4096, F16_WEIGHTS);
    expect(f16.format).toEqual(F16_WEIGHTS);
    expect(f32.weightBytes).toBe(4 * (matrices + gains));
    expect(f16.weightBytes).toBe(2 * matrices + 4 * gains);
    expect(f16.activationBytes).toBe(f32.activationBytes);
    // At one token the f16 table is the largest buffer (at 4096 the 67 MB logits chunk is).
    expect(estimateGpuMemory(SMOL, 1, F16_WEIGHTS)).toMatchObject({
      largestBytes: 2 * 49152 * 576,
      largestName: 'model.embed_tokens.weight',
    });
    // The figures the README quotes (MB = 2^20).
    expect((f32.weightBytes / MB).toFixed(0)).toBe('513');
    expect((f16.weightBytes / MB).toFixed(0)).toBe('257');
    const big32 = estimateGpuMemory(SMOL_360, 1);
    const big16 = estimateGpuMemory(SMOL_360, 1, F16_WEIGHTS);
    expect((big32.weightBytes / MB).toFixed(0)).toBe('1380');
    expect((big16.weightBytes / MB).toFixed(0)).toBe('690');
    expect(big32.largestBytes).toBe(4 * 49152 * 960); // 180 MB, over WebGPU's default 128 MB binding
  });

  it('offers f16 where f32 weights do not fit and f16 ones do (SmolLM-360M under 128 MB per binding)', () => {
    const limits = { maxBufferSize: 256 * MB, maxStorageBinding: 128 * MB };
    const f32 = checkFit(SMOL_360, 2048, limits);
    expect(f32).toMatchObject({ weightsFit: false, fits: false, f16WouldFit: true });
    expect(f32.message).toMatch(
      /^Does not fit: the weight model\.embed_tokens\.weight alone needs 180 MB as f32, .*It fits with f16 weights \(/,
    );
    const f16 = checkFit(SMOL_360, 2048, limits, F16_WEIGHTS);
    expect(f16).toMatchObject({ weightsFit: true, fits: true, f16WouldFit: false });
    expect(f16.message).toMatch(/^Fits: needs about .* as f16 weights, f32 activations \(weights 690 MB, /);
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

describe('f16 weights and activations', () => {
  const MB = 1024 * 1024;
  it('counts activations at 2 bytes and the statistics (rstd, lse), ids and rotary tables at 4', () => {
    const f32 = estimateGpuMemory(SMOL, 4096);
    const half = estimateGpuMemory(SMOL, 4096, F16_STORAGE);
    expect(half.format).toEqual(F16_STORAGE);
    expect(half.weightBytes).toBe(estimateGpuMemory(SMOL, 4096, F16_WEIGHTS).weightBytes);
    expect(half.activationBytes).toBe(smolActivationBytes(4096, 2));
    // The KV cache holds activations: f16 rows, half the f32 cache.
    expect(half.kvCacheBytes).toBe(f32.kvCacheBytes / 2);
    expect(half.totalBytes).toBe(half.weightBytes + half.activationBytes + half.kvCacheBytes);
    // About half: only the small f32 statistics keep it above.
    const ratio = half.activationBytes / f32.activationBytes;
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(0.52);
    // The largest buffer at 32768 tokens is still an [R, I] activation, at 2 bytes.
    expect(estimateGpuMemory(SMOL, 32768, F16_STORAGE)).toMatchObject({
      largestBytes: 2 * 32768 * 1536,
      largestName: 'MLP activation [R, I]',
    });
  });

  it('names the format in every message', () => {
    const roomy = { maxBufferSize: 1024 * MB, maxStorageBinding: 1024 * MB };
    expect(checkFit(SMOL, 4096, roomy).message).toMatch(
      /^Fits: needs about .* at 4,096 tokens as f32 weights and activations \(weights 513 MB, /,
    );
    expect(checkFit(SMOL, 4096, roomy, F16_STORAGE).message).toMatch(
      /^Fits: needs about .* at 4,096 tokens as f16 weights and activations \(weights 257 MB, /,
    );
    expect(checkFit(SMOL, 4096, roomy, F16_WEIGHTS).message).toMatch(/ as f16 weights, f32 activations \(/);
    expect(describeStorage(F32_STORAGE)).toBe('f32 weights and activations');
    expect(describeStorage({ weights: 'f32', activations: 'f16' })).toBe('f32 weights, f16 activations');
  });

  it('with shader-f16, suggests f16 weights and activations where f32 does not fit (and offers no f16-weights checkbox)', () => {
    // SmolLM-135M at 32768 tokens under 128 MB per binding: [R, 1536] is 192 MB as f32, 96 MB as f16.
    const limits = { maxBufferSize: 256 * MB, maxStorageBinding: 128 * MB };
    const without = checkFit(SMOL, 32768, limits);
    expect(without).toMatchObject({ fits: false, f16WouldFit: false });
    expect(without.message).toMatch(/Use a shorter length: up to 16,384 tokens fits\.$/);
    const f32 = checkFit(SMOL, 32768, { ...limits, shaderF16: true });
    expect(f32).toMatchObject({ weightsFit: true, fits: false, f16WouldFit: false });
    expect(f32.message).toMatch(
      /^Does not fit at 32,768 tokens: .* as f32 weights and activations .*It fits as f16 weights and activations \(half the memory.*\): choose them in Hub settings\.$/,
    );
    const half = checkFit(SMOL, 32768, { ...limits, shaderF16: true }, F16_STORAGE);
    expect(half).toMatchObject({ fits: true, longestFitting: 32768, f16WouldFit: false });
    // f16 at a length that does not fit either: a shorter length, no further format.
    const longer = checkFit(SMOL, 65536, { ...limits, shaderF16: true }, F16_STORAGE);
    expect(longer).toMatchObject({ fits: false, longestFitting: 32768, f16WouldFit: false });
    expect(longer.message).toMatch(
      /^Does not fit at 65,536 tokens: .* as f16 weights and activations .*Use a shorter length: up to 32,768 tokens fits\.$/,
    );
    // SmolLM-360M's 180 MB table: f16 weights and activations rather than the checkbox.
    const big = checkFit(SMOL_360, 2048, { ...limits, shaderF16: true });
    expect(big).toMatchObject({ weightsFit: false, f16WouldFit: false });
    expect(big.message).toMatch(/alone needs 180 MB as f32, .*It fits as f16 weights and activations/);
  });
});

describe('resolvePrecision and the note on the card', () => {
  it('automatic: f16 weights and activations with shader-f16, f32 without; f32 always f32', () => {
    expect(resolvePrecision('auto', true)).toEqual({ weights: 'f16', activations: 'f16' });
    expect(resolvePrecision('auto', false)).toEqual({ weights: 'f32', activations: 'f32' });
    expect(resolvePrecision('f32', true)).toEqual({ weights: 'f32', activations: 'f32' });
    expect(resolvePrecision('f16', true)).toEqual({ weights: 'f16', activations: 'f16' });
  });
  it('f16 without shader-f16 throws, naming the feature and the adapter', () => {
    expect(() => resolvePrecision('f16', false, 'SwiftShader (software)')).toThrow(/shader-f16.*SwiftShader \(software\) does not have/);
  });
  it('says the format used and why', () => {
    expect(precisionNote('auto', F16_STORAGE, true)).toBe('Loads as f16 weights and activations (automatic: this GPU has shader-f16).');
    expect(precisionNote('auto', F32_STORAGE, false)).toBe('Loads as f32 weights and activations (automatic: this GPU lacks shader-f16).');
    expect(precisionNote('f32', F32_STORAGE, true)).toBe('Loads as f32 weights and activations (as chosen).');
    expect(precisionNote('auto', F16_WEIGHTS, false)).toBe(
      'Loads as f16 weights, f32 activations (f32 did not fit; this GPU lacks shader-f16).',
    );
  });
});
