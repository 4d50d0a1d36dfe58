// A GPU tensor: a storage buffer with a row-major shape. Activations and weights are f32;
// token ids are u32. Weights may instead be 'f16packed': binary16 values two per u32 word along
// the last dimension (which must be even, so every row starts on a word), see f16.ts; kernels
// unpack them to f32. Nothing else lives on the GPU.

export type DType = 'f32' | 'u32' | 'f16packed';

export interface Tensor {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly label: string;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The bytes a tensor's elements occupy: 4 each, 2 when f16packed. */
export function byteSize(shape: readonly number[], dtype: DType): number {
  return numel(shape) * (dtype === 'f16packed' ? 2 : 4);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
