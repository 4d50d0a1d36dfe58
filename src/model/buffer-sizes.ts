// The size table of the buffers LlamaModel allocates for a forward pass: one layer's activations,
// the model-level rows, the LM head's row chunk and the rotary tables. LlamaModel allocates from
// these functions and the page's memory estimate (src/ui/features/model/hub-memory.ts) sums them, so the two
// cannot drift apart.
//
// Glossary: B sequences of T tokens, R = B·T rows, C hidden size, I MLP size, H/KVH query/key-value
// heads, D head dim, V vocabulary, N rows of one LM-head chunk.

import type { DType } from '../engine/tensor.ts';
import type { ModelConfig } from './config.ts';

export interface BufferSize {
  shape: number[];
  dtype: DType;
  /** What the buffer holds, as the memory estimate names its largest buffer. */
  what: string;
}

/**
 * How a weight is stored with `weights` storage: f16 puts every 2-D weight (projections, embedding
 * table, lm_head) in binary16 and keeps the 1-D norm gains f32, where rounding would shift every row.
 */
export function weightDtype(shape: readonly number[], weights: 'f32' | 'f16'): 'f32' | 'f16' {
  return weights === 'f16' && shape.length === 2 ? 'f16' : 'f32';
}

/** Rows of logits computed at once when only the loss is needed (bounds memory for a large V). */
export const LOGIT_CHUNK_ELEMENTS = 1 << 24;

/** Rows N of one LM-head chunk over R rows: as many as fit in LOGIT_CHUNK_ELEMENTS logits, at least one. */
export function logitChunkRows(config: ModelConfig, rows: number): number {
  return Math.max(1, Math.min(rows, Math.floor(LOGIT_CHUNK_ELEMENTS / config.vocabSize)));
}

/** The activations of one layer; null where this model or this pass has none. */
export interface LayerBufferSizes {
  input: BufferSize | null; //   [R, C]      residual entering the layer (training only: rmsnorm backward reads it)
  normed1: BufferSize; //        [R, C]      input_layernorm output
  rstd1: BufferSize; //          [R]
  q: BufferSize; //              [R, H*D]    q_proj output (rotated in place unless QK-norm)
  k: BufferSize; //              [R, KVH*D]
  v: BufferSize; //              [R, KVH*D]
  qNormed: BufferSize | null; // [R, H*D]    QK-norm output, then rotated (qk_norm_nope only)
  kNormed: BufferSize | null; // [R, KVH*D]
  qRstd: BufferSize | null; //   [R]
  kRstd: BufferSize | null; //   [R]
  attention: BufferSize; //      [R, H*D]    per-head attention output before o_proj
  lse: BufferSize; //            [B, H, T]   log-sum-exp of each query's logits
  mid: BufferSize | null; //     [R, C]      residual after the attention block (training only)
  normed2: BufferSize; //        [R, C]      post_attention_layernorm output
  rstd2: BufferSize; //          [R]
  gate: BufferSize; //           [R, I]
  up: BufferSize; //             [R, I]
  hidden: BufferSize; //         [R, I]      silu(gate) * up
}

/**
 * One layer's activations at (B, T) stored as `activations`; the norm statistics and lse stay f32
 * at any precision (f16 would lose the reciprocal square roots and the log-sum-exp's range).
 */
export function layerBufferSizes(
  config: ModelConfig,
  B: number,
  T: number,
  training: boolean,
  activations: 'f32' | 'f16',
): LayerBufferSizes {
  const { hiddenSize: C, numHeads: H, numKvHeads: KVH, headDim: D, intermediateSize: I, qkNorm } = config;
  const R = B * T;
  const hidden: BufferSize = { shape: [R, C], dtype: activations, what: 'hidden-state activation [R, C]' };
  const query: BufferSize = { shape: [R, H * D], dtype: activations, what: 'attention activation [R, H·D]' };
  const keyValue: BufferSize = { shape: [R, KVH * D], dtype: activations, what: 'key/value activation [R, KVH·D]' };
  const mlp: BufferSize = { shape: [R, I], dtype: activations, what: 'MLP activation [R, I]' };
  const rstd: BufferSize = { shape: [R], dtype: 'f32', what: 'rstd [R]' };
  return {
    input: training ? hidden : null,
    normed1: hidden,
    rstd1: rstd,
    q: query,
    k: keyValue,
    v: keyValue,
    qNormed: qkNorm ? query : null,
    kNormed: qkNorm ? keyValue : null,
    qRstd: qkNorm ? rstd : null,
    kRstd: qkNorm ? rstd : null,
    attention: query,
    lse: { shape: [B, H, T], dtype: 'f32', what: 'lse [H, R]' },
    mid: training ? hidden : null,
    normed2: hidden,
    rstd2: rstd,
    gate: mlp,
    up: mlp,
    hidden: mlp,
  };
}

/** The rows outside the layers: token ids, the residual stream, the sublayer output and the final norm. */
export interface ModelBufferSizes {
  ids: BufferSize; //         [R] u32
  residual: BufferSize; //    [R, C]  the residual stream
  projected: BufferSize; //   [R, C]  o_proj or down_proj output, added to the residual
  finalNormed: BufferSize; // [R, C]  model.norm output
  finalRstd: BufferSize; //   [R]
}

export function modelBufferSizes(config: ModelConfig, B: number, T: number, activations: 'f32' | 'f16'): ModelBufferSizes {
  const R = B * T;
  const hidden: BufferSize = { shape: [R, config.hiddenSize], dtype: activations, what: 'hidden-state activation [R, C]' };
  return {
    ids: { shape: [R], dtype: 'u32', what: 'token ids [R]' },
    residual: hidden,
    projected: hidden,
    finalNormed: hidden,
    finalRstd: { shape: [R], dtype: 'f32', what: 'rstd [R]' },
  };
}

/** The LM head's chunk when only the loss is needed (LlamaModel.nll): N rows of logits at a time. */
export interface LogitChunkSizes {
  logits: BufferSize; //  [N, V]
  hidden: BufferSize; //  [N, C]  the chunk's final-norm rows
  targets: BufferSize; // [N] u32
  nll: BufferSize; //     [N]
}

export function logitChunkSizes(config: ModelConfig, rows: number, activations: 'f32' | 'f16'): LogitChunkSizes {
  const N = logitChunkRows(config, rows);
  return {
    logits: { shape: [N, config.vocabSize], dtype: activations, what: 'logits chunk' },
    hidden: { shape: [N, config.hiddenSize], dtype: activations, what: 'final-norm chunk [N, C]' },
    targets: { shape: [N], dtype: 'u32', what: 'targets chunk [N]' },
    nll: { shape: [N], dtype: 'f32', what: 'NLL chunk [N]' },
  };
}

/** One rotary table (cos or sin) covering `rows` positions: [rows, D/2], f32 at any precision. */
export function rotaryTableSize(config: ModelConfig, rows: number): BufferSize {
  return { shape: [rows, config.headDim / 2], dtype: 'f32', what: 'rotary tables [R, D/2]' };
}

/**
 * Every buffer of one inference pass over `length` tokens (one sequence) whose loss is computed, as
 * LlamaModel.nll allocates them: one layer set (inference shares it across layers), the model
 * rows, the LM head's chunk and the cos and sin tables (counted even for a model without RoPE, which
 * may be given RoPE in the page).
 */
export function inferenceBufferSizes(config: ModelConfig, length: number, activations: 'f32' | 'f16'): BufferSize[] {
  const present = (sizes: object) => Object.values(sizes).filter((s): s is BufferSize => s !== null);
  const rotary = rotaryTableSize(config, length);
  return [
    ...present(layerBufferSizes(config, 1, length, false, activations)),
    ...present(modelBufferSizes(config, 1, length, activations)),
    ...present(logitChunkSizes(config, length, activations)),
    rotary,
    rotary,
  ];
}
