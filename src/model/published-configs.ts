// The published config.json of the paper's base models (HuggingFaceTB/SmolLM-135M and -360M, as the
// Hub serves them), for checkpoints of their shape made without the Hub (`make-checkpoint --like`):
// the real-size path (memory estimate, buffer limits, BF16 and sharded loading, the page's Hub
// loader) can then be exercised offline. Only the weights are random.

import { byteLevelTokenizerJson } from './byte-tokenizer.ts';
import { expectedTensorShapes, parameterCount } from './checkpoint.ts';
import type { AttentionType } from './config.ts';
import { initializeCheckpoint } from './init.ts';
import { serializeCheckpoint, type SaveDType } from './save.ts';

const SMOLLM_COMMON = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: 'silu',
  initializer_range: 0.02,
  max_position_embeddings: 2048,
  model_type: 'llama',
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: true,
  use_cache: true,
  vocab_size: 49152,
};

export const PUBLISHED_CONFIGS = {
  'SmolLM-135M': {
    ...SMOLLM_COMMON,
    hidden_size: 576,
    intermediate_size: 1536,
    num_attention_heads: 9,
    num_hidden_layers: 30,
    num_key_value_heads: 3,
  },
  'SmolLM-360M': {
    ...SMOLLM_COMMON,
    hidden_size: 960,
    intermediate_size: 2560,
    num_attention_heads: 15,
    num_hidden_layers: 32,
    num_key_value_heads: 5,
  },
} as const satisfies Record<string, Record<string, unknown>>;

export type PublishedModel = keyof typeof PUBLISHED_CONFIGS;

export function isPublishedModel(name: string): name is PublishedModel {
  return Object.hasOwn(PUBLISHED_CONFIGS, name);
}

/**
 * config.json of a published model, or of its DroPE version with `attentionType` nope or
 * qk_norm_nope (model_type llama_drope, as SakanaAI's DroPE checkpoints declare it).
 */
export function publishedConfig(name: PublishedModel, attentionType: AttentionType = 'rope'): Record<string, unknown> {
  const config: Record<string, unknown> = { ...PUBLISHED_CONFIGS[name] };
  if (attentionType !== 'rope') {
    Object.assign(config, { model_type: 'llama_drope', architectures: ['DroPELlamaForCausalLM'], attention_type: attentionType });
  }
  return config;
}

export interface RandomCheckpointOptions {
  dtype: SaveDType;
  shards: number;
  seed: number;
  attentionType?: AttentionType;
}

/**
 * A checkpoint folder's files for a published model with seeded random weights at its init scale:
 * config.json, the safetensors file (or shards and their index) and the byte-level tokenizer.json
 * (SmolLM's own cannot be fetched offline; byte ids fit its vocabulary). What `make-checkpoint`
 * writes and the real-size tests serve.
 */
export function randomCheckpointFiles(
  name: PublishedModel,
  options: RandomCheckpointOptions,
): { files: Map<string, Uint8Array>; parameters: number } {
  const rawConfig = publishedConfig(name, options.attentionType);
  const { config, tensors } = initializeCheckpoint(rawConfig, options.seed);
  const files = serializeCheckpoint(rawConfig, tensors, expectedTensorShapes(config), options.dtype, options.shards);
  files.set('tokenizer.json', new TextEncoder().encode(JSON.stringify(byteLevelTokenizerJson())));
  return { files, parameters: parameterCount(config) };
}
