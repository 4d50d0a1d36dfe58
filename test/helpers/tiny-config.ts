/**
 * A tiny byte-level Llama (2 layers, C 32, GQA 2:1, context 16; ~70 KB in F32) for tests that write
 * checkpoints; initializer_range 0.2 so attention logits are O(1) and beta visibly matters.
 */
export const TINY_CONFIG = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  vocab_size: 256,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 16,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  hidden_act: 'silu',
  tie_word_embeddings: true,
  initializer_range: 0.2,
};

/** config.json of a one-layer Llama as a shipped model's folder has it: RoPE, or trained without positions (DroPE's `llama_drope`, attention_type nope), at context `ctx`. */
export function shippedConfig(attention: 'rope' | 'nope', ctx = 64): string {
  return JSON.stringify({
    model_type: attention === 'rope' ? 'llama' : 'llama_drope',
    architectures: [attention === 'rope' ? 'LlamaForCausalLM' : 'DroPELlamaForCausalLM'],
    vocab_size: 256,
    hidden_size: 32,
    intermediate_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    head_dim: 16,
    max_position_embeddings: ctx,
    tie_word_embeddings: true,
    ...(attention === 'nope' ? { attention_type: 'nope' } : {}),
  });
}
