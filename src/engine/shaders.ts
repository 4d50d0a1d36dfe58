// The WGSL registry: one file per kernel family in shaders/, each prefixed with common.wgsl, and
// the families that reduce over their workgroup also with reduce.wgsl (workgroup_sum, workgroup_max).
// A family compiles at a precision: its activation bindings are declared with the element type
// `act`, which the prefix aliases to f32, or to f16 behind `enable f16` (needs the adapter's
// `shader-f16`). Arithmetic stays f32 inside the kernels; `act` is how activations are stored.
// Vite inlines `?raw` imports for the browser; the CLI registers the same loader
// (src/cli/raw-hooks.mjs), so every runtime compiles the same source.

import common from '../../shaders/common.wgsl?raw';
import reduce from '../../shaders/reduce.wgsl?raw';
import rmsnorm from '../../shaders/rmsnorm.wgsl?raw';
import rope from '../../shaders/rope.wgsl?raw';
import matmul from '../../shaders/matmul.wgsl?raw';
import attention from '../../shaders/attention.wgsl?raw';
import embedding from '../../shaders/embedding.wgsl?raw';
import swiglu from '../../shaders/swiglu.wgsl?raw';
import residual from '../../shaders/residual.wgsl?raw';
import cross_entropy from '../../shaders/cross_entropy.wgsl?raw';
import adamw from '../../shaders/adamw.wgsl?raw';
import type { Precision } from './tensor.ts';

/** Each family's source: the shared parts it needs, then its own file. */
const families = {
  rmsnorm: [reduce, rmsnorm],
  rope: [rope],
  matmul: [matmul],
  attention: [attention],
  embedding: [embedding],
  swiglu: [swiglu],
  residual: [residual],
  cross_entropy: [reduce, cross_entropy],
  adamw: [reduce, adamw],
} as const;

export type ShaderName = keyof typeof families;

const PRECISION_PREFIX: Record<Precision, string> = {
  f32: 'alias act = f32;\n',
  f16: 'enable f16;\nalias act = f16;\n',
};

export function shaderSource(name: ShaderName, precision: Precision = 'f32'): string {
  const source = families[name];
  if (source === undefined) throw new Error(`unknown shader family: ${name}`);
  const full = [PRECISION_PREFIX[precision], common, ...source].join('\n');
  if (typeof process !== 'undefined' && process.env?.WEBGPU_PRINT_SHADER === name) console.error(full);
  return full;
}
