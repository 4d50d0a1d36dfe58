// The WGSL registry: one file per kernel family in shaders/, each prefixed with common.wgsl.
// Vite inlines `?raw` imports for the browser; the CLI registers the same loader
// (src/cli/raw-hooks.mjs), so every runtime compiles the same source.

import common from '../../shaders/common.wgsl?raw';
import rmsnorm from '../../shaders/rmsnorm.wgsl?raw';

const families = {
  rmsnorm,
} as const;

export type ShaderName = keyof typeof families;

export function shaderSource(name: ShaderName): string {
  const source = families[name];
  if (source === undefined) throw new Error(`unknown shader family: ${name}`);
  if (typeof process !== 'undefined' && process.env?.WEBGPU_PRINT_SHADER === name) console.error(common + source);
  return `${common}\n${source}`;
}
