import { describe, expect, it } from 'vitest';
import { parseConfig, usesRope } from '../../src/model/config.ts';

/** The smallest config.json a checkpoint can have: the sizes only. */
const minimal = {
  model_type: 'llama',
  vocab_size: 97,
  hidden_size: 64,
  intermediate_size: 176,
  num_hidden_layers: 2,
  num_attention_heads: 4,
};

describe('parseConfig', () => {
  it('fills the keys a config may omit with LlamaConfig defaults', () => {
    const config = parseConfig({ ...minimal });
    expect(config).toMatchObject({
      vocabSize: 97,
      hiddenSize: 64,
      intermediateSize: 176,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 4, // = num_attention_heads
      headDim: 16, // = hidden_size / num_attention_heads
      maxPositionEmbeddings: 2048,
      rmsNormEps: 1e-6,
      ropeTheta: 10000,
      tieWordEmbeddings: false,
      attentionType: 'rope',
      qkNorm: false,
    });
    expect(config.raw).toEqual(minimal);
  });

  it('reads every key when present (a v4-style config like the fixtures)', () => {
    const raw = {
      ...minimal,
      architectures: ['LlamaForCausalLM'],
      num_key_value_heads: 2,
      head_dim: 32,
      max_position_embeddings: 64,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      tie_word_embeddings: true,
      hidden_act: 'silu',
      attention_bias: false,
      mlp_bias: false,
      rope_scaling: null,
      torch_dtype: 'float32',
    };
    expect(parseConfig(raw)).toMatchObject({
      numKvHeads: 2,
      headDim: 32,
      maxPositionEmbeddings: 64,
      rmsNormEps: 1e-5,
      ropeTheta: 500000,
      tieWordEmbeddings: true,
    });
  });

  it('treats null as absent, as LlamaConfig does', () => {
    expect(parseConfig({ ...minimal, num_key_value_heads: null, head_dim: null, rope_theta: null })).toMatchObject({
      numKvHeads: 4,
      headDim: 16,
      ropeTheta: 10000,
    });
  });

  it('reads rope_theta from rope_parameters (transformers v5)', () => {
    const config = parseConfig({ ...minimal, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } });
    expect(config.ropeTheta).toBe(1e6);
    expect(parseConfig({ ...minimal, rope_parameters: { rope_type: 'default', partial_rotary_factor: 1 } }).ropeTheta).toBe(10000);
  });

  it('accepts DroPE checkpoints and their attention types', () => {
    const drope = { ...minimal, model_type: 'llama_drope', architectures: ['DroPELlamaForCausalLM'] };
    expect(parseConfig(drope).attentionType).toBe('rope');
    expect(parseConfig({ ...drope, attention_type: 'rope' }).attentionType).toBe('rope');
    expect(parseConfig({ ...drope, attention_type: 'nope' })).toMatchObject({ attentionType: 'nope', qkNorm: false });
    expect(parseConfig({ ...drope, attention_type: 'qk_norm_nope' })).toMatchObject({ attentionType: 'qk_norm_nope', qkNorm: true });
  });

  it('usesRope: rope (or no attention_type) adds rotary embeddings; nope and qk_norm_nope do not', () => {
    const drope = { ...minimal, model_type: 'llama_drope', architectures: ['DroPELlamaForCausalLM'] };
    expect(usesRope(parseConfig(minimal))).toBe(true);
    expect(usesRope(parseConfig({ ...drope, attention_type: 'rope', rope_scaling: { rope_type: 'yarn', factor: 4 } }))).toBe(true);
    expect(usesRope(parseConfig({ ...drope, attention_type: 'nope' }))).toBe(false);
    expect(usesRope(parseConfig({ ...drope, attention_type: 'qk_norm_nope' }))).toBe(false);
  });

  const rejections: { what: string; raw: unknown; message: RegExp }[] = [
    { what: 'a non-object', raw: [1], message: /config\.json must hold a JSON object/ },
    { what: 'null', raw: null, message: /config\.json must hold a JSON object/ },
    { what: 'a missing model_type', raw: { ...minimal, model_type: undefined }, message: /missing required key "model_type"/ },
    { what: 'another model type', raw: { ...minimal, model_type: 'mistral' }, message: /model_type "mistral"/ },
    {
      what: 'another architecture',
      raw: { ...minimal, architectures: ['LlamaForSequenceClassification'] },
      message: /architectures \["LlamaForSequenceClassification"\]/,
    },
    { what: 'another attention type', raw: { ...minimal, attention_type: 'alibi' }, message: /attention_type "alibi"/ },
    { what: 'hidden_act gelu', raw: { ...minimal, hidden_act: 'gelu' }, message: /hidden_act "gelu"/ },
    { what: 'attention_bias', raw: { ...minimal, attention_bias: true }, message: /attention_bias is true/ },
    { what: 'mlp_bias', raw: { ...minimal, mlp_bias: true }, message: /mlp_bias is true/ },
    {
      what: 'a non-boolean tie_word_embeddings',
      raw: { ...minimal, tie_word_embeddings: 'yes' },
      message: /"tie_word_embeddings" must be true or false/,
    },
    {
      what: 'heads not divisible by kv heads',
      raw: { ...minimal, num_key_value_heads: 3 },
      message: /num_attention_heads \(4\) is not divisible by num_key_value_heads \(3\)/,
    },
    {
      what: 'hidden_size not divisible by heads without head_dim',
      raw: { ...minimal, num_attention_heads: 5 },
      message: /hidden_size \(64\) is not divisible by num_attention_heads \(5\)/,
    },
    { what: 'an odd head_dim', raw: { ...minimal, head_dim: 15 }, message: /head_dim 15 is odd/ },
    { what: 'a head_dim below 16', raw: { ...minimal, head_dim: 8 }, message: /head_dim 8 is not a multiple of 4 in 16\.\.128/ },
    { what: 'a head_dim above 128', raw: { ...minimal, head_dim: 256 }, message: /head_dim 256 is not a multiple of 4 in 16\.\.128/ },
    { what: 'a head_dim not a multiple of 4', raw: { ...minimal, head_dim: 18 }, message: /head_dim 18 is not a multiple of 4/ },
    { what: 'a zero size', raw: { ...minimal, intermediate_size: 0 }, message: /"intermediate_size" must be a positive integer, got 0/ },
    {
      what: 'a negative size',
      raw: { ...minimal, num_hidden_layers: -1 },
      message: /"num_hidden_layers" must be a positive integer, got -1/,
    },
    { what: 'a fractional size', raw: { ...minimal, vocab_size: 9.5 }, message: /"vocab_size" must be a positive integer, got 9\.5/ },
    {
      what: 'a size given as a string',
      raw: { ...minimal, hidden_size: '64' },
      message: /"hidden_size" must be a positive integer, got "64"/,
    },
    {
      what: 'a non-positive rms_norm_eps',
      raw: { ...minimal, rms_norm_eps: 0 },
      message: /"rms_norm_eps" must be a number > 1e-30 and <= 1, got 0/,
    },
    {
      what: 'an rms_norm_eps above 1',
      raw: { ...minimal, rms_norm_eps: 5 },
      message: /"rms_norm_eps" must be a number > 1e-30 and <= 1, got 5/,
    },
    {
      what: 'a non-positive rope_theta',
      raw: { ...minimal, rope_theta: -1 },
      message: /"rope_theta" must be a number > 1 and <= 3e\+38, got -1/,
    },
    { what: 'a rope_theta of 1', raw: { ...minimal, rope_theta: 1 }, message: /"rope_theta" must be a number > 1/ },
    // Sizes past the limits fail at once, before anything is built from them (a million layers took 50 s and 3.4 GB).
    {
      what: 'a million layers',
      raw: { ...minimal, num_hidden_layers: 1_000_000 },
      message: /"num_hidden_layers" is 1000000, more than the 1024 this engine accepts/,
    },
    { what: 'a vocabulary of 2^23', raw: { ...minimal, vocab_size: 2 ** 23 }, message: /"vocab_size" is 8388608, more than the 4194304/ },
    { what: 'hidden_size 2^17', raw: { ...minimal, hidden_size: 2 ** 17 }, message: /"hidden_size" is 131072, more than the 65536/ },
    {
      what: 'an MLP of 2^19',
      raw: { ...minimal, intermediate_size: 2 ** 19 },
      message: /"intermediate_size" is 524288, more than the 262144/,
    },
    { what: '2048 heads', raw: { ...minimal, num_attention_heads: 2048 }, message: /"num_attention_heads" is 2048, more than the 1024/ },
    {
      what: 'max_position_embeddings 2^25',
      raw: { ...minimal, max_position_embeddings: 2 ** 25 },
      message: /"max_position_embeddings" is 33554432, more than the 16777216/,
    },
    { what: 'partial_rotary_factor', raw: { ...minimal, partial_rotary_factor: 0.5 }, message: /partial_rotary_factor 0\.5/ },
    {
      what: 'partial_rotary_factor in rope_parameters',
      raw: { ...minimal, rope_parameters: { rope_theta: 1e4, partial_rotary_factor: 0.25 } },
      message: /partial_rotary_factor 0\.25/,
    },
    { what: 'a non-object rope_parameters', raw: { ...minimal, rope_parameters: 3 }, message: /rope_parameters must be an object/ },
  ];
  for (const key of ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads']) {
    rejections.push({
      what: `a missing ${key}`,
      raw: { ...minimal, [key]: undefined },
      message: new RegExp(`missing required key "${key}"`),
    });
  }
  for (const { what, raw, message } of rejections) {
    it(`rejects ${what}`, () => {
      expect(() => parseConfig(raw)).toThrow(/^unsupported config: /);
      expect(() => parseConfig(raw)).toThrow(message);
    });
  }
});
