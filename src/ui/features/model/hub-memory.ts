// Will a model fit the GPU? An estimate from config.json alone, before any weights are fetched,
// for a StorageFormat (src/model/precision.ts): every parameter as f32 (LlamaModel's default), or
// with f16 weights every 2-D weight at 2 bytes (norm gains stay f32); plus the buffers of one
// inference pass at the evaluation length from the model's own size table
// (src/model/buffer-sizes.ts, what LlamaModel allocates) and the KV cache of a generation that long.
// Compared with the adapter's per-buffer limits (maxBufferSize, and maxStorageBufferBindingSize
// since every buffer is bound as storage).

import { byteSize } from '../../../engine/tensor.ts';
import { inferenceBufferSizes, weightDtype } from '../../../model/buffer-sizes.ts';
import { expectedTensorShapes } from '../../../model/checkpoint.ts';
import type { ModelConfig } from '../../../model/config.ts';
import { formatBytes } from '../../../model/format-bytes.ts';
import { KvCache } from '../../../model/kv-cache.ts';
import {
  F16_STORAGE,
  F16_WEIGHTS_STORAGE,
  F32_STORAGE,
  sameStorage,
  type PrecisionChoice,
  type StorageFormat,
} from '../../../model/precision.ts';

/** "f32 weights and activations", "f16 weights, f32 activations": how messages name a format. */
export function describeStorage(format: StorageFormat): string {
  return format.weights === format.activations
    ? `${format.weights} weights and activations`
    : `${format.weights} weights, ${format.activations} activations`;
}

export interface MemoryEstimate {
  length: number;
  format: StorageFormat;
  weightBytes: number;
  activationBytes: number;
  /** A generation's KV cache of `length` tokens (keys and values of every layer), as KvCache allocates it. */
  kvCacheBytes: number;
  totalBytes: number;
  /** The largest single buffer and what it holds. */
  largestBytes: number;
  largestName: string;
}

/**
 * The weights plus the inference buffers of a forward pass over `length` tokens (one sequence) and
 * the KV cache a generation of that length keeps beside them, stored as `format`.
 */
export function estimateGpuMemory(config: ModelConfig, length: number, format: StorageFormat = F32_STORAGE): MemoryEstimate {
  let weightBytes = 0;
  let largestBytes = 0;
  let largestName = '';
  for (const [name, shape] of expectedTensorShapes(config)) {
    const bytes = byteSize(shape, weightDtype(shape, format.weights));
    weightBytes += bytes;
    if (bytes > largestBytes) [largestBytes, largestName] = [bytes, name];
  }
  let activationBytes = 0;
  for (const { shape, dtype, what } of inferenceBufferSizes(config, length, format.activations)) {
    const bytes = byteSize(shape, dtype);
    activationBytes += bytes;
    if (bytes > largestBytes) [largestBytes, largestName] = [bytes, what];
  }
  const { numLayers, numKvHeads, headDim } = config;
  const kvCacheBytes = KvCache.bytesFor({ numLayers, numKvHeads, headDim }, length, format.activations);
  const totalBytes = weightBytes + activationBytes + kvCacheBytes;
  return { length, format, weightBytes, activationBytes, kvCacheBytes, totalBytes, largestBytes, largestName };
}

export interface AdapterLimits {
  maxBufferSize: number;
  maxStorageBinding: number;
  /** The adapter has shader-f16, so f16 activations can run there (absent: it has not). */
  shaderF16?: boolean;
}

export interface FitReport {
  /** The weights alone can be uploaded. */
  weightsFit: boolean;
  /** Weights and the activations at `estimate.length` fit. */
  fits: boolean;
  estimate: MemoryEstimate;
  /** The longest power-of-two length whose buffers fit (0 when none does). */
  longestFitting: number;
  /** One paragraph for the page. */
  message: string;
  /**
   * For an f32 check on an adapter without shader-f16: f32 does not fit (the weights, or the
   * buffers at this length) but f16 weights would, so the page offers "Load with f16 weights".
   * Always false otherwise (with shader-f16 the message suggests f16 weights and activations).
   */
  f16WouldFit: boolean;
}

/**
 * Checks the estimate at `length` with the model stored as `format` against the adapter's limits,
 * suggesting a length that fits, and (for f32) whether f16 would fit instead: f16 weights and
 * activations where the adapter has shader-f16, f16 weights alone elsewhere.
 */
export function checkFit(config: ModelConfig, length: number, limits: AdapterLimits, format: StorageFormat = F32_STORAGE): FitReport {
  const limit = Math.min(limits.maxBufferSize, limits.maxStorageBinding);
  const estimate = estimateGpuMemory(config, length, format);
  const weightsOnly = estimateGpuMemory(config, 1, format);
  const weightsFit = weightsOnly.largestBytes <= limit;
  const fits = estimate.largestBytes <= limit;
  let longestFitting = 0;
  for (let L = 2; L <= Math.max(2, length); L *= 2) if (estimateGpuMemory(config, L, format).largestBytes <= limit) longestFitting = L;
  // The half-precision alternative worth naming: it lets the weights in where these do not, or fits at this length.
  const alternative = sameStorage(format, F32_STORAGE) && !fits ? (limits.shaderF16 ? F16_STORAGE : F16_WEIGHTS_STORAGE) : null;
  let alternativeFits = false;
  if (alternative) {
    const half = checkFit(config, length, limits, alternative);
    alternativeFits = half.weightsFit && (!weightsFit || half.fits);
  }
  const suggestion =
    alternative === F16_STORAGE
      ? 'It fits as f16 weights and activations (half the memory, slightly rounded logits): choose them in Hub settings.'
      : 'It fits with f16 weights (half the memory, slightly rounded logits).';
  const needs =
    `about ${formatBytes(estimate.totalBytes)} of GPU memory at ${length.toLocaleString('en-US')} tokens as ${describeStorage(format)} ` +
    `(weights ${formatBytes(estimate.weightBytes)}, activations ${formatBytes(estimate.activationBytes)}, ` +
    `KV cache ${formatBytes(estimate.kvCacheBytes)}); ` +
    `largest buffer ${formatBytes(estimate.largestBytes)} (${estimate.largestName})`;
  const limitText = `this GPU allows ${formatBytes(limit)} per buffer (maxBufferSize ${formatBytes(limits.maxBufferSize)}, maxStorageBufferBindingSize ${formatBytes(limits.maxStorageBinding)})`;
  let message: string;
  if (!weightsFit) {
    message =
      `Does not fit: the weight ${weightsOnly.largestName} alone needs ${formatBytes(weightsOnly.largestBytes)} as ${format.weights}, but ${limitText}. ` +
      (alternativeFits ? suggestion : 'Choose a smaller model.');
  } else if (!fits) {
    message =
      `Does not fit at ${length.toLocaleString('en-US')} tokens: needs ${needs}, but ${limitText}. ` +
      (alternativeFits
        ? suggestion
        : longestFitting > 0
          ? `Use a shorter length: up to ${longestFitting.toLocaleString('en-US')} tokens fits.`
          : 'No length fits.');
  } else {
    message = `Fits: needs ${needs}; ${limitText}.`;
  }
  return { weightsFit, fits, estimate, longestFitting, message, f16WouldFit: alternativeFits && alternative === F16_WEIGHTS_STORAGE };
}

/** The sentence the card adds to its memory line: the format a model loads as, and why. */
export function precisionNote(choice: PrecisionChoice, format: StorageFormat, shaderF16: boolean): string {
  const gpu = shaderF16 ? 'this GPU has shader-f16' : 'this GPU lacks shader-f16';
  const why = sameStorage(format, F16_WEIGHTS_STORAGE) ? `f32 did not fit; ${gpu}` : choice === 'auto' ? `automatic: ${gpu}` : 'as chosen';
  return `Loads as ${describeStorage(format)} (${why}).`;
}

/** A model whose weights do not fit this GPU as asked; `report.f16WouldFit` says whether f16 weights would. */
export class FitError extends Error {
  constructor(readonly report: FitReport) {
    super(report.message);
  }
}

/**
 * For a model put beside the loaded one (side by side): the loaded model's weights stay on the GPU
 * too, and how much they take (`name` the current model, `config` its config, `format` its storage).
 */
export function currentWeightsNote(name: string, config: ModelConfig, format: StorageFormat): string {
  const { weightBytes } = estimateGpuMemory(config, 1, format);
  return `The current model’s weights are on the GPU too: ${formatBytes(weightBytes)} (${name}, ${format.weights}).`;
}
