// The WGSL registry: one file per kernel family in shaders/, each prefixed with common.wgsl, and
// the families that reduce over their workgroup also with reduce.wgsl (workgroup_sum, workgroup_max).
// A family compiles at a precision: its activation bindings are declared with the element type
// `act`, which the prefix aliases to f32, or to f16 behind `enable f16` (needs the adapter's
// `shader-f16`). Arithmetic stays f32 inside the kernels; `act` is how activations are stored.
// A family's source may unroll a statement over an override count with `#unroll N MAX: statement`
// (expandUnroll). Vite inlines `?raw` imports for the browser; the CLI registers the same loader
// (src/cli/raw-hooks.mjs), so every runtime compiles the same source.

import common from '../../shaders/common.wgsl?raw';
import reduce from '../../shaders/reduce.wgsl?raw';
import rmsnorm from '../../shaders/rmsnorm.wgsl?raw';
import rope from '../../shaders/rope.wgsl?raw';
import matmul from '../../shaders/matmul.wgsl?raw';
import attentionParams from '../../shaders/attention_params.wgsl?raw';
import attention from '../../shaders/attention.wgsl?raw';
import attentionNaive from '../../shaders/attention_naive.wgsl?raw';
import attentionProbabilities from '../../shaders/attention_probabilities.wgsl?raw';
import attentionDecode from '../../shaders/attention_decode.wgsl?raw';
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
  attention: [attentionParams, attention],
  attention_naive: [attentionParams, attentionNaive],
  attention_probabilities: [attentionParams, attentionProbabilities],
  attention_decode: [attentionParams, reduce, attentionDecode],
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
  const full = expandUnroll([PRECISION_PREFIX[precision], common, ...source].join('\n'));
  if (typeof process !== 'undefined' && process.env?.WEBGPU_PRINT_SHADER === name) console.error(full);
  return full;
}

/**
 * Expands each line `#unroll N MAX: statement` into the statement with # replaced by 0, then
 * `if (N > iu) { statement }` for i = 1 .. MAX-1 with # replaced by i. N is an override constant,
 * so the pipeline keeps exactly N copies: what a loop over registers would do, written out because
 * SwiftShader turns any loop-indexed register access into a slow gather (see attention.wgsl).
 */
export function expandUnroll(source: string): string {
  return source.replace(/^([ \t]*)#unroll (\w+) (\d+): (.*)$/gm, (_line, indent: string, count: string, max: string, statement: string) => {
    const copies = Array.from({ length: Number(max) }, (_, i) => {
      const body = statement.replaceAll('#', String(i));
      return i === 0 ? `${indent}${body}` : `${indent}if (${count} > ${i}u) { ${body} }`;
    });
    return copies.join('\n');
  });
}
