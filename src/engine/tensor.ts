// A GPU tensor: a storage buffer with a row-major shape. Activations and weights are f32;
// token ids are u32. Nothing else lives on the GPU.

export type DType = 'f32' | 'u32';

export interface Tensor {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly label: string;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
