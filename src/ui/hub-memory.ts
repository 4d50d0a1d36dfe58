// Will a model fit the GPU? An estimate from config.json alone, before any weights are fetched:
// every parameter as f32 (how LlamaModel uploads them by default), or with f16 weights every 2-D
// weight at 2 bytes (LlamaModel's `weights: 'f16'`; norm gains stay f32), plus the inference activations of one
// forward pass at the evaluation length (LlamaModel shares one set of per-layer buffers across
// layers), compared with the adapter's per-buffer limits (maxBufferSize, and
// maxStorageBufferBindingSize since every buffer is bound as storage).
//
// Glossary: R rows (tokens) of one forward pass, C hidden size, I MLP size, H/KVH query/key-value
// heads, D head dim, V vocabulary.

import { expectedTensorShapes } from '../model/checkpoint.ts';
import type { ModelConfig } from '../model/config.ts';

/** The LM head's row chunk when only the loss is needed (LlamaModel's LOGIT_CHUNK_ELEMENTS). */
const LOGIT_CHUNK_ELEMENTS = 1 << 24;

/** How the weights are stored on the GPU (LlamaModel's `weights` option). */
export type WeightFormat = 'f32' | 'f16';

export interface MemoryEstimate {
  length: number;
  weights: WeightFormat;
  weightBytes: number;
  activationBytes: number;
  totalBytes: number;
  /** The largest single buffer and what it holds. */
  largestBytes: number;
  largestName: string;
}

/** The weights (f32, or f16 matrices) plus the activations of a forward pass over `length` tokens (one sequence). */
export function estimateGpuMemory(config: ModelConfig, length: number, weights: WeightFormat = 'f32'): MemoryEstimate {
  let weightBytes = 0;
  let largestBytes = 0;
  let largestName = '';
  for (const [name, shape] of expectedTensorShapes(config)) {
    const bytesPerValue = weights === 'f16' && shape.length === 2 ? 2 : 4;
    const bytes = bytesPerValue * shape.reduce((a, b) => a * b, 1);
    weightBytes += bytes;
    if (bytes > largestBytes) [largestBytes, largestName] = [bytes, name];
  }
  const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: KVH, headDim: D, vocabSize: V, qkNorm } = config;
  const R = length;
  const activations: [string, number][] = [
    // residual, projected, finalNormed, normed1, normed2: [R, C]
    ['hidden states [R, C] ×5', 5 * R * C],
    // q, attention [R, H*D] (and QK-norm's copies); k, v [R, KVH*D]
    ['attention [R, H·D]', (qkNorm ? 3 : 2) * R * H * D + (qkNorm ? 3 : 2) * R * KVH * D],
    // gate, up, hidden [R, I]
    ['MLP [R, I] ×3', 3 * R * I],
    ['lse, rstd', R * H + 4 * R],
    ['logits chunk', Math.min(R, Math.max(1, Math.floor(LOGIT_CHUNK_ELEMENTS / V))) * V],
  ];
  let activationBytes = 0;
  for (const [, floats] of activations) activationBytes += 4 * floats;
  // The largest single activation buffers: one [R, I] or [R, H*D] tensor, or the logits chunk.
  for (const [name, floats] of [
    ['MLP activation [R, I]', R * I],
    ['attention activation [R, H·D]', R * H * D],
    ['logits chunk', Math.min(R, Math.max(1, Math.floor(LOGIT_CHUNK_ELEMENTS / V))) * V],
  ] as const) {
    if (4 * floats > largestBytes) [largestBytes, largestName] = [4 * floats, name];
  }
  return { length, weights, weightBytes, activationBytes, totalBytes: weightBytes + activationBytes, largestBytes, largestName };
}

export interface AdapterLimits {
  maxBufferSize: number;
  maxStorageBinding: number;
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
   * For an f32 check: f32 does not fit (the weights, or the buffers at this length) but f16 weights
   * would, so the page offers "Load with f16 weights". Always false for an f16 check.
   */
  f16WouldFit: boolean;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * Checks the estimate at `length` with `weights` stored as f32 or f16 against the adapter's
 * limits, suggesting a length that fits, and (for f32) whether f16 weights would fit instead.
 */
export function checkFit(config: ModelConfig, length: number, limits: AdapterLimits, weights: WeightFormat = 'f32'): FitReport {
  const limit = Math.min(limits.maxBufferSize, limits.maxStorageBinding);
  const estimate = estimateGpuMemory(config, length, weights);
  const weightsOnly = estimateGpuMemory(config, 1, weights);
  const weightsFit = weightsOnly.largestBytes <= limit;
  const fits = estimate.largestBytes <= limit;
  let longestFitting = 0;
  for (let L = 2; L <= Math.max(2, length); L *= 2) if (estimateGpuMemory(config, L, weights).largestBytes <= limit) longestFitting = L;
  let f16WouldFit = false;
  if (weights === 'f32' && !fits) {
    const half = checkFit(config, length, limits, 'f16');
    f16WouldFit = half.weightsFit && (!weightsFit || half.fits);
  }
  const needs =
    `about ${formatBytes(estimate.totalBytes)} of GPU memory at ${length.toLocaleString('en-US')} tokens ` +
    `(weights ${formatBytes(estimate.weightBytes)} as ${weights}, activations ${formatBytes(estimate.activationBytes)}); ` +
    `largest buffer ${formatBytes(estimate.largestBytes)} (${estimate.largestName})`;
  const limitText = `this GPU allows ${formatBytes(limit)} per buffer (maxBufferSize ${formatBytes(limits.maxBufferSize)}, maxStorageBufferBindingSize ${formatBytes(limits.maxStorageBinding)})`;
  let message: string;
  if (!weightsFit) {
    message =
      `Does not fit: the weight ${weightsOnly.largestName} alone needs ${formatBytes(weightsOnly.largestBytes)} as ${weights}, but ${limitText}. ` +
      (f16WouldFit ? 'It fits with f16 weights (half the memory, slightly rounded logits).' : 'Choose a smaller model.');
  } else if (!fits) {
    message =
      `Does not fit at ${length.toLocaleString('en-US')} tokens: needs ${needs}, but ${limitText}. ` +
      (f16WouldFit
        ? 'It fits with f16 weights (half the memory, slightly rounded logits).'
        : longestFitting > 0
          ? `Use a shorter length: up to ${longestFitting.toLocaleString('en-US')} tokens fits.`
          : 'No length fits.');
  } else {
    message = `Fits: needs ${needs}; ${limitText}.`;
  }
  return { weightsFit, fits, estimate, longestFitting, message, f16WouldFit };
}

/** A model whose weights do not fit this GPU as asked; `report.f16WouldFit` says whether f16 weights would. */
export class FitError extends Error {
  constructor(readonly report: FitReport) {
    super(report.message);
  }
}
