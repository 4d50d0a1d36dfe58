// A tiny byte-level checkpoint folder on disk (test/helpers/tiny-config.ts's model, or another
// config), as a user's model folder holds one: config.json, model.safetensors, tokenizer.json.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { byteLevelTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { expectedTensorShapes } from '../../src/model/checkpoint.ts';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { serializeCheckpoint, type SaveDType } from '../../src/model/save.ts';
import { TINY_CONFIG } from './tiny-config.ts';

/** The files of a tiny checkpoint, by name. */
export function tinyModelFiles(
  rawConfig: Record<string, unknown> = TINY_CONFIG,
  seed = 1,
  dtype: SaveDType = 'F32',
): Map<string, Uint8Array> {
  const { config, tensors } = initializeCheckpoint(rawConfig, seed);
  const files = serializeCheckpoint(rawConfig, tensors, expectedTensorShapes(config), dtype);
  files.set('tokenizer.json', new TextEncoder().encode(JSON.stringify(byteLevelTokenizerJson())));
  return files;
}

/** Writes a tiny checkpoint into `dir` (created); returns `dir`. */
export function writeTinyModel(dir: string, rawConfig?: Record<string, unknown>, seed?: number, dtype?: SaveDType): string {
  mkdirSync(dir, { recursive: true });
  for (const [file, bytes] of tinyModelFiles(rawConfig, seed, dtype)) writeFileSync(join(dir, file), bytes);
  return dir;
}
