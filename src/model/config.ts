// config.json of a Hugging Face Llama checkpoint (LlamaConfig) → the sizes the engine runs.
//
// Dimensions: V vocab, C hidden size, I MLP intermediate size, L layers, H query heads,
// KVH key/value heads (grouped-query attention: H / KVH query heads share one), D head dim.
//
// Keys are read as Hugging Face writes them, with LlamaConfig's defaults where a key may be absent
// (transformers src/transformers/models/llama/configuration_llama.py): head_dim = hidden_size /
// num_attention_heads, num_key_value_heads = num_attention_heads, max_position_embeddings 2048,
// rms_norm_eps 1e-6, rope_theta 10000, tie_word_embeddings false, hidden_act "silu", no biases.
// The sizes themselves are required: LlamaConfig's defaults for them describe Llama-2-7B, which
// no checkpoint we can run omits by intent.
//
// DroPE checkpoints (model_type "llama_drope", architectures ["DroPELlamaForCausalLM"]) are Llama
// with an `attention_type`: "rope" (the default), "nope" (rotary embedding dropped) or
// "qk_norm_nope" (no rotary embedding; RMSNorm on queries and keys, weights q_norm and k_norm).
//
// Anything the engine cannot run is rejected here, with "unsupported config: …", so a bad
// checkpoint fails at load and never halfway through a forward pass. How positions are encoded
// (rope_scaling, …) is read from `raw` by src/model/positions.ts.

import { MAX_HEAD_DIM, MIN_HEAD_DIM } from '../engine/ops/attention.ts';

export type AttentionType = 'rope' | 'nope' | 'qk_norm_nope';

export interface ModelConfig {
  /** V */
  vocabSize: number;
  /** C */
  hiddenSize: number;
  /** I */
  intermediateSize: number;
  /** L */
  numLayers: number;
  /** H */
  numHeads: number;
  /** KVH */
  numKvHeads: number;
  /** D */
  headDim: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** lm_head shares model.embed_tokens.weight (and the checkpoint has no lm_head.weight of its own). */
  tieWordEmbeddings: boolean;
  attentionType: AttentionType;
  /** True for qk_norm_nope: RMSNorm over each head's query and key (self_attn.q_norm / k_norm). */
  qkNorm: boolean;
  /** config.json as parsed, for the position-mode parser and anything else that needs a raw key. */
  raw: Record<string, unknown>;
}

export class ConfigError extends Error {}

/** Whether the model adds rotary position embeddings (attention_type rope), the one place that says so. */
export function usesRope(config: ModelConfig): boolean {
  return config.attentionType === 'rope';
}

const MODEL_TYPES = ['llama', 'llama_drope'];
export const ATTENTION_TYPES: readonly AttentionType[] = ['rope', 'nope', 'qk_norm_nope'];

/** LlamaConfig's defaults for the keys that may be absent. */
export const LLAMA_DEFAULTS = {
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: false,
  hidden_act: 'silu',
} as const;

function unsupported(message: string): never {
  throw new ConfigError(`unsupported config: ${message}`);
}

/** A JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The largest size each key may ask for: above the largest public Llama-architecture models
 * (Llama 3.1 405B: 126 layers, hidden 16384, MLP 53248, 128 heads; Gemma's vocabulary 262144), and
 * small enough that a config cannot make the loader build millions of tensor descriptions before
 * a weight is read. A position must be exact in float32 (2^24).
 */
export const CONFIG_LIMITS = {
  vocab_size: 2 ** 22,
  hidden_size: 2 ** 16,
  intermediate_size: 2 ** 18,
  num_hidden_layers: 1024,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  max_position_embeddings: 2 ** 24,
} as const;

function positiveInt(raw: Record<string, unknown>, key: keyof typeof CONFIG_LIMITS, fallback?: number): number {
  const value = raw[key] ?? fallback;
  if (value === undefined) unsupported(`missing required key "${key}"`);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    unsupported(`"${key}" must be a positive integer, got ${JSON.stringify(value)}`);
  }
  if (value > CONFIG_LIMITS[key]) unsupported(`"${key}" is ${value}, more than the ${CONFIG_LIMITS[key]} this engine accepts`);
  return value;
}

/** A finite number in (min, max]. */
function numberIn(value: unknown, key: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= min || value > max) {
    unsupported(`"${key}" must be a number > ${min} and <= ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function bool(raw: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const value = raw[key] ?? fallback;
  if (typeof value !== 'boolean') unsupported(`"${key}" must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

/** Validates config.json (already parsed) and returns the engine's view of it. */
export function parseConfig(raw: unknown): ModelConfig {
  if (!isRecord(raw)) unsupported('config.json must hold a JSON object');

  const modelType = raw.model_type;
  if (modelType === undefined) unsupported('missing required key "model_type" (expected "llama" or "llama_drope")');
  if (typeof modelType !== 'string' || !MODEL_TYPES.includes(modelType)) {
    unsupported(`model_type ${JSON.stringify(modelType)} (this engine runs "llama" and "llama_drope")`);
  }
  if (raw.architectures !== undefined) {
    const architectures = raw.architectures;
    // LlamaForCausalLM, DroPELlamaForCausalLM and similar: a Llama body with a language-model head.
    const causalLlama = (a: unknown) => typeof a === 'string' && /llama/i.test(a) && /ForCausalLM$/.test(a);
    if (!Array.isArray(architectures) || !architectures.some(causalLlama)) {
      unsupported(
        `architectures ${JSON.stringify(architectures)} (expected a Llama causal LM such as ` +
          '"LlamaForCausalLM" or "DroPELlamaForCausalLM")',
      );
    }
  }

  const attentionType = raw.attention_type ?? 'rope';
  if (!ATTENTION_TYPES.includes(attentionType as AttentionType)) {
    unsupported(`attention_type ${JSON.stringify(attentionType)} (supported: ${ATTENTION_TYPES.join(', ')})`);
  }

  const hiddenAct = raw.hidden_act ?? LLAMA_DEFAULTS.hidden_act;
  if (hiddenAct !== 'silu') unsupported(`hidden_act ${JSON.stringify(hiddenAct)} (the MLP is SwiGLU: "silu" only)`);
  if (bool(raw, 'attention_bias', false)) unsupported('attention_bias is true (q/k/v/o projections without bias only)');
  if (bool(raw, 'mlp_bias', false)) unsupported('mlp_bias is true (MLP projections without bias only)');

  const vocabSize = positiveInt(raw, 'vocab_size');
  const hiddenSize = positiveInt(raw, 'hidden_size');
  const intermediateSize = positiveInt(raw, 'intermediate_size');
  const numLayers = positiveInt(raw, 'num_hidden_layers');
  const numHeads = positiveInt(raw, 'num_attention_heads');
  const numKvHeads = positiveInt(raw, 'num_key_value_heads', numHeads);
  const maxPositionEmbeddings = positiveInt(raw, 'max_position_embeddings', LLAMA_DEFAULTS.max_position_embeddings);

  if (numHeads % numKvHeads !== 0) {
    unsupported(`num_attention_heads (${numHeads}) is not divisible by num_key_value_heads (${numKvHeads})`);
  }
  if (raw.head_dim === undefined || raw.head_dim === null) {
    if (hiddenSize % numHeads !== 0) {
      unsupported(`hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numHeads}) and head_dim is not given`);
    }
  }
  const headDim = raw.head_dim ?? hiddenSize / numHeads;
  if (typeof headDim !== 'number' || !Number.isSafeInteger(headDim) || headDim <= 0) {
    unsupported(`"head_dim" must be a positive integer, got ${JSON.stringify(headDim)}`);
  }
  if (headDim % 2 !== 0) unsupported(`head_dim ${headDim} is odd (rotary embeddings pair dimension i with i + D/2)`);
  if (headDim < MIN_HEAD_DIM || headDim > MAX_HEAD_DIM || headDim % 4 !== 0) {
    unsupported(`head_dim ${headDim} is not a multiple of 4 in ${MIN_HEAD_DIM}..${MAX_HEAD_DIM}, what the attention kernels support`);
  }

  // An epsilon below float32's smallest normal number (1.2e-38) is 0 on the GPU.
  const rmsNormEps = numberIn(raw.rms_norm_eps ?? LLAMA_DEFAULTS.rms_norm_eps, 'rms_norm_eps', 1e-30, 1);

  // transformers v5 keeps rope_theta (and partial_rotary_factor) inside rope_parameters; v4 at the top level.
  const ropeParameters = raw.rope_parameters ?? null;
  if (ropeParameters !== null && !isRecord(ropeParameters)) {
    unsupported(`rope_parameters must be an object, got ${JSON.stringify(ropeParameters)}`);
  }
  const nested = (ropeParameters ?? {}) as Record<string, unknown>;
  // θ > 1, or the rotary frequencies 1/θ^(2k/D) grow with k (the rotary tables refuse it too); θ beyond
  // float32's range is infinite on the GPU.
  const ropeTheta = numberIn(nested.rope_theta ?? raw.rope_theta ?? LLAMA_DEFAULTS.rope_theta, 'rope_theta', 1, 3e38);
  for (const factor of [raw.partial_rotary_factor, nested.partial_rotary_factor]) {
    if (factor !== undefined && factor !== null && factor !== 1) {
      unsupported(`partial_rotary_factor ${JSON.stringify(factor)} (the rotary embedding covers the whole head: 1 only)`);
    }
  }

  const tieWordEmbeddings = bool(raw, 'tie_word_embeddings', LLAMA_DEFAULTS.tie_word_embeddings);

  return {
    vocabSize,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings,
    rmsNormEps,
    ropeTheta,
    tieWordEmbeddings,
    attentionType: attentionType as AttentionType,
    qkNorm: attentionType === 'qk_norm_nope',
    raw,
  };
}
