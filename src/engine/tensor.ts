// A GPU tensor: a storage buffer with a row-major shape. Activations and weights are f32 or f16;
// token ids are u32. An f16 tensor holds IEEE binary16 values, two per 4-byte word (element 2i in
// the low half, see f16.ts): the memory of WGSL's array<f16>. Kernels read f16 weights as words
// and unpack them with `unpack2x16float` (any adapter); f16 activations are array<f16> bindings
// of a kernel compiled at f16 precision (the adapter's `shader-f16`, see shaders.ts).

export type DType = 'f32' | 'u32' | 'f16';

/** The element type a kernel is compiled with for its activations (`act` in the WGSL). */
export type Precision = 'f32' | 'f16';

export interface Tensor {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly label: string;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The bytes a tensor's elements occupy: 4 each, 2 when f16. */
export function byteSize(shape: readonly number[], dtype: DType): number {
  return numel(shape) * (dtype === 'f16' ? 2 : 4);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
