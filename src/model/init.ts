// Seeded initialization of a fresh Llama checkpoint, as Hugging Face's LlamaPreTrainedModel does it:
// every linear and embedding matrix from N(0, initializer_range), every RMSNorm gain at 1.

import { Rng } from '../engine/random.ts';
import { expectedTensorShapes, type Checkpoint } from './checkpoint.ts';
import { parseConfig } from './config.ts';

export function initializeCheckpoint(rawConfig: Record<string, unknown>, seed: number): Checkpoint {
  const config = parseConfig(rawConfig);
  const std = typeof rawConfig.initializer_range === 'number' ? rawConfig.initializer_range : 0.02;
  const rng = new Rng(seed);
  const tensors = new Map<string, Float32Array>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, shape.length === 1 ? new Float32Array(size).fill(1) : rng.normals(size, std));
  }
  return { config, tensors };
}
