// A tiny random checkpoint for the app's browser tests, built in Node and served with page.route
// under /models/ exactly as the shipped models are laid out (index.json, then per model
// config.json, model.safetensors, tokenizer.json, eval.json). Shapes are tiny (vocab 256, hidden
// 32, 2 layers, 2 heads, context 16) so SwiftShader evaluates and trains it in seconds.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { byteLevelTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { expectedTensorShapes } from '../../src/model/checkpoint.ts';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { serializeCheckpoint } from '../../src/model/save.ts';
import { TRAIN_BOOKS } from '../../src/train/data.ts';

export const TINY_NAME = 'tiny-rope';
export const TINY_CONTEXT = 16;

export const TINY_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 256,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 2,
  head_dim: 16,
  max_position_embeddings: TINY_CONTEXT,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
  initializer_range: 0.02,
};

const LENGTHS = [8, 16, 32, 64, 128, 256];
const perLength = <T>(value: (L: number, i: number) => T) => Object.fromEntries(LENGTHS.map((L, i) => [String(L), value(L, i)]));

/**
 * Recorded curves in eval.json's format (src/eval/curves.ts): RoPE and YaRN, which the page can
 * reproduce (live evaluation refines them), and dynamic NTK, which stays a recorded series.
 */
export const TINY_EVAL = {
  format: 'drope-playground/eval',
  version: 1,
  model: 'tiny-rope',
  text: 'persuasion.txt',
  tokens: 4096,
  train_ctx: TINY_CONTEXT,
  lengths: LENGTHS,
  series: [
    { id: 'rope', label: 'RoPE', positions: 'rope', beta_c: 0, modes: perLength(() => 'rope'), ppl: perLength((_, i) => 200 + 10 * i) },
    {
      id: 'yarn',
      label: 'YaRN',
      positions: 'yarn:L/C',
      beta_c: 0,
      modes: perLength((L) => (L <= TINY_CONTEXT ? 'rope' : `yarn:${L / TINY_CONTEXT}`)),
      ppl: perLength(() => 180),
    },
    {
      id: 'dynamic',
      label: 'Dynamic NTK',
      positions: 'dynamic:L/C',
      beta_c: 0,
      modes: perLength((L) => (L <= TINY_CONTEXT ? 'rope' : `dynamic:${L / TINY_CONTEXT}`)),
      ppl: perLength(() => 120),
    },
  ],
};

export function tinyModelFiles(): Map<string, { body: Buffer | string; contentType: string }> {
  const checkpoint = initializeCheckpoint(TINY_CONFIG, 7);
  const files = serializeCheckpoint(TINY_CONFIG, checkpoint.tensors, expectedTensorShapes(checkpoint.config));
  const out = new Map<string, { body: Buffer | string; contentType: string }>();
  for (const [name, bytes] of files) {
    out.set(name, { body: Buffer.from(bytes), contentType: name.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
  }
  out.set('tokenizer.json', { body: JSON.stringify(byteLevelTokenizerJson()), contentType: 'application/json' });
  out.set('eval.json', { body: JSON.stringify(TINY_EVAL), contentType: 'application/json' });
  return out;
}

/** Serves /models/index.json and /models/tiny-rope/* from memory; anything else there is a 404. */
export async function routeTinyModel(page: Page): Promise<void> {
  const files = tinyModelFiles();
  const index = [
    { name: TINY_NAME, label: 'Tiny random RoPE model', description: 'Random weights, for tests: every curve sits near perplexity 256.' },
  ];
  await page.route('**/models/**', async (route) => {
    const path = decodeURIComponent(new URL(route.request().url()).pathname);
    if (path.endsWith('/models/index.json'))
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(index) });
    const prefix = `/models/${TINY_NAME}/`;
    const file = path.includes(prefix) ? files.get(path.slice(path.indexOf(prefix) + prefix.length)) : undefined;
    if (!file) return route.fulfill({ status: 404, contentType: 'text/plain', body: `${path}: not served` });
    return route.fulfill({ status: 200, contentType: file.contentType, body: file.body });
  });
}

/**
 * The training novels, cut to their first `chars` characters: recalibration in a test needs a
 * few windows of 16 tokens, not 3.5 MB to tokenize.
 */
export async function routeShortTrainingText(page: Page, chars = 20_000): Promise<void> {
  for (const book of TRAIN_BOOKS) {
    const text = readFileSync(join('public/data/austen', book), 'utf8').slice(0, chars);
    await page.route(`**/data/austen/${book}`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/plain; charset=utf-8', body: text }),
    );
  }
}

/**
 * A tiny random checkpoint's files for any `config` (the layout of tinyModelFiles, without
 * eval.json), with `tokenizer` as its tokenizer.json (default: the byte-level one). For fake-Hub
 * specs that need several models: a DroPE twin of TINY_CONFIG (llama_drope, qk_norm_nope, with
 * q_norm/k_norm tensors), one with another tokenizer or vocabulary.
 */
export function tinyCheckpointFiles(
  config: Record<string, unknown>,
  seed: number,
  tokenizer: unknown = byteLevelTokenizerJson(),
): Map<string, { body: Buffer | string; contentType: string }> {
  const checkpoint = initializeCheckpoint(config, seed);
  const files = serializeCheckpoint(config, checkpoint.tensors, expectedTensorShapes(checkpoint.config));
  const out = new Map<string, { body: Buffer | string; contentType: string }>();
  for (const [name, bytes] of files) {
    out.set(name, { body: Buffer.from(bytes), contentType: name.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
  }
  out.set('tokenizer.json', { body: JSON.stringify(tokenizer), contentType: 'application/json' });
  return out;
}
