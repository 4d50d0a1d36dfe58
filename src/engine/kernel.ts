// A kernel call is a plain object that says everything the dispatcher needs
// (after tfjs-backend-webgpu's WebGPUProgram): which entry point of which shader file,
// its override constants, its bindings in binding order, its uniforms and its workgroup count.
//
// Binding order is fixed for every kernel: outputs first (read_write storage), then inputs
// (read-only storage), then one uniform struct if the kernel has parameters. The bind group
// layout follows from those counts alone, so every kernel with the same counts shares it.

import type { ShaderName } from './shaders.ts';
import { shapeString, type Precision, type Tensor } from './tensor.ts';
import type { Uniforms } from './uniforms.ts';

export interface KernelCall {
  /** Shader file (one per kernel family) and entry point; also the label, `family.entry`. */
  readonly shader: ShaderName;
  readonly entryPoint: string;
  /** The element type of its activation bindings (`act`); f32 unless given. Part of the pipeline key. */
  readonly precision?: Precision;
  /** WGSL `override` values: workgroup size, head dim, flags. Part of the pipeline key. */
  readonly constants?: Readonly<Record<string, number>>;
  readonly outputs: readonly Tensor[];
  readonly inputs: readonly Tensor[];
  readonly uniforms?: Uniforms;
  /** Workgroup counts; `foldDispatch` keeps each under the device limit. */
  readonly workgroups: readonly [number, number?, number?];
}

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

/**
 * Folds a one-dimensional workgroup count that exceeds `maxPerDimension` into x·y.
 * Kernels dispatched one-dimensionally recover their linear ids with `linear_workgroup_id` and
 * `linear_invocation_id` from common.wgsl and ignore the few extra workgroups folding can add.
 */
export function foldDispatch(workgroups: readonly [number, number?, number?], maxPerDimension: number): [number, number, number] {
  const [x, y = 1, z = 1] = workgroups;
  if (x > maxPerDimension && y === 1 && z === 1) return [maxPerDimension, ceilDiv(x, maxPerDimension), 1];
  if (x > maxPerDimension || y > maxPerDimension || z > maxPerDimension) {
    throw new Error(`a dispatch of ${x}x${y}x${z} workgroups exceeds this adapter's maxComputeWorkgroupsPerDimension (${maxPerDimension})`);
  }
  return [x, y, z];
}

/**
 * The precision of a call whose activation tensors are `activations`: all f32 or all f16, never a
 * mix (a kernel declares one `act` type, and an f32 buffer read as f16 would give silent garbage).
 */
export function activationPrecision(what: string, activations: readonly Tensor[]): Precision {
  const first = activations[0].dtype;
  for (const t of activations) {
    if (t.dtype !== 'f32' && t.dtype !== 'f16')
      throw new Error(`${what}: ${t.label} ${shapeString(t.shape)} is ${t.dtype}, expected f32 or f16 activations`);
    if (t.dtype !== first) {
      const list = activations.map((x) => `${x.label} (${x.dtype})`).join(', ');
      throw new Error(`${what}: activations must all be f32 or all f16, got ${list}`);
    }
  }
  return first as Precision;
}

/** Throws unless every tensor is f32 (the bindings a kernel keeps in f32 at any precision). */
export function expectF32(what: string, tensors: readonly Tensor[]): void {
  for (const t of tensors) {
    if (t.dtype !== 'f32') throw new Error(`${what}: ${t.label} ${shapeString(t.shape)} is ${t.dtype}, expected f32`);
  }
}
