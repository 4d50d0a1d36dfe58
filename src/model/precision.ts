// How a model is stored on the GPU, and the policy that picks it. f32 everywhere is exact (the
// numbers transformers gives in float32) and trainable. f16 halves the memory, as transformers'
// float16: weights as binary16 on any adapter (unpacked in the kernels), activations as binary16
// only where the adapter has `shader-f16`. Arithmetic stays f32 inside every kernel either way.

import type { ModelOptions } from './model.ts';

export type StorageFormat = Required<Pick<ModelOptions, 'weights' | 'activations'>>;

/** What a user asks for: 'auto' is f16 where the adapter has shader-f16, f32 elsewhere. */
export type PrecisionChoice = 'auto' | 'f32' | 'f16';

export const PRECISION_CHOICES: readonly PrecisionChoice[] = ['auto', 'f32', 'f16'];

export const F32_STORAGE: StorageFormat = { weights: 'f32', activations: 'f32' };
export const F16_STORAGE: StorageFormat = { weights: 'f16', activations: 'f16' };
/** f16 weights beside f32 activations: what any adapter can hold. */
export const F16_WEIGHTS_STORAGE: StorageFormat = { weights: 'f16', activations: 'f32' };

export function sameStorage(a: StorageFormat, b: StorageFormat): boolean {
  return a.weights === b.weights && a.activations === b.activations;
}

/** The storage a choice means on an adapter with or without shader-f16; 'f16' without it throws, saying why. */
export function resolvePrecision(choice: PrecisionChoice, supportsF16: boolean, adapterName = 'this adapter'): StorageFormat {
  switch (choice) {
    case 'f32':
      return F32_STORAGE;
    case 'auto':
      return supportsF16 ? F16_STORAGE : F32_STORAGE;
    case 'f16':
      if (!supportsF16) {
        throw new Error(
          `f16 precision needs the adapter feature shader-f16, which ${adapterName} does not have; use f32 (or f16 weights alone, which any adapter can hold)`,
        );
      }
      return F16_STORAGE;
    default:
      throw new Error(`precision must be one of ${PRECISION_CHOICES.join(', ')}, got "${String(choice)}"`);
  }
}
