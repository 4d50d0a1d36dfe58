// The WGSL registry: one file per kernel family in shaders/, each prefixed with common.wgsl.
// Vite inlines `?raw` imports for the browser; the CLI registers the same loader
// (src/cli/raw-hooks.mjs), so every runtime compiles the same source.

import common from '../../shaders/common.wgsl?raw';
import rmsnorm from '../../shaders/rmsnorm.wgsl?raw';
import rope from '../../shaders/rope.wgsl?raw';
import matmul from '../../shaders/matmul.wgsl?raw';
import attention from '../../shaders/attention.wgsl?raw';
import embedding from '../../shaders/embedding.wgsl?raw';
import swiglu from '../../shaders/swiglu.wgsl?raw';
import residual from '../../shaders/residual.wgsl?raw';
import cross_entropy from '../../shaders/cross_entropy.wgsl?raw';
import adamw from '../../shaders/adamw.wgsl?raw';

const families = {
  rmsnorm,
  rope,
  matmul,
  attention,
  embedding,
  swiglu,
  residual,
  cross_entropy,
  adamw,
} as const;

export type ShaderName = keyof typeof families;

export function shaderSource(name: ShaderName): string {
  const source = families[name];
  if (source === undefined) throw new Error(`unknown shader family: ${name}`);
  if (typeof process !== 'undefined' && process.env?.WEBGPU_PRINT_SHADER === name) console.error(common + source);
  return `${common}\n${source}`;
}
