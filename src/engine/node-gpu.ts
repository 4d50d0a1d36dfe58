// WebGPU in Node through the npm `webgpu` package (Dawn). Dawn needs a Vulkan driver. Unless
// VK_ICD_FILENAMES or VK_DRIVER_FILES picks one, use the SwiftShader ICD that Debian's chromium
// package ships (Debian 12's own lavapipe is too old for Dawn), so `npm test` and the CLI work on a
// machine without a GPU. On a machine with a GPU, point VK_ICD_FILENAMES at its driver.

import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let gpu: GPU | undefined;

/** The process-wide `GPU` object (navigator.gpu's Node counterpart). */
export function nodeGpu(): GPU {
  if (gpu) return gpu;
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  Object.assign(globalThis, globals);
  gpu = create([]) as GPU;
  return gpu;
}
