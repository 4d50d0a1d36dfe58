// WebGPU in Node through the npm `webgpu` package (Dawn). Dawn needs a Vulkan driver. Unless
// VK_ICD_FILENAMES or VK_DRIVER_FILES picks one, this module offers Dawn a CPU driver: the SwiftShader
// ICD that Debian's chromium package ships (the default), or, when the lavapipe adapter is asked
// for by name, Mesa's lavapipe if it is new enough (Mesa 25 from bookworm-backports; Debian 12's
// own is too old for Dawn). Lavapipe is the one CPU adapter with `shader-f16`, so f16 kernels can
// be tested without a GPU; it is not the default because Dawn prints warnings about it on stderr,
// and because SwiftShader is what Chromium uses. On a machine with a GPU, point VK_ICD_FILENAMES at
// its driver.
//
// The Vulkan loader reads VK_ICD_FILENAMES each time Dawn creates an instance, so each adapter
// name gets its own `GPU` object created under its own driver list.

import { existsSync, readFileSync } from 'node:fs';
import { create, globals } from 'webgpu';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
export const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';

/** Dawn's adapter name for lavapipe contains this (for `nodeGpu(adapter)` and WEBGPU_ADAPTER). */
export const LAVAPIPE_ADAPTER = 'llvmpipe';

/** Lavapipe of Mesa 24 or later reports Vulkan 1.4; Debian 12's (Mesa 22) reports 1.3 and fails in Dawn. */
function usableLavapipe(): boolean {
  try {
    const version = JSON.parse(readFileSync(LAVAPIPE_ICD, 'utf8')).ICD.api_version as string;
    const [major, minor] = version.split('.').map(Number);
    return major > 1 || (major === 1 && minor >= 4);
  } catch {
    return false;
  }
}

let userDrivers: boolean | undefined;
const gpus = new Map<string, GPU>();

/** The ICD list to offer for `adapter`, or null to leave the environment (the user's choice) alone. */
function driversFor(adapter: string): string | null {
  userDrivers ??= Boolean(process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES);
  if (userDrivers) return null;
  const swiftShader = existsSync(SWIFTSHADER_ICD) ? [SWIFTSHADER_ICD] : [];
  const lavapipe = usableLavapipe() ? [LAVAPIPE_ICD] : [];
  const list = adapter === '' ? swiftShader : adapter === LAVAPIPE_ADAPTER ? lavapipe : [...swiftShader, ...lavapipe];
  return list.length > 0 ? list.join(':') : null;
}

/**
 * The `GPU` object (navigator.gpu's Node counterpart) whose adapter's name contains `adapter`
 * (default WEBGPU_ADAPTER, else Dawn's choice among the drivers offered). A name no adapter has
 * makes requestAdapter fail, listing the adapters there are.
 */
export function nodeGpu(adapter = process.env.WEBGPU_ADAPTER ?? ''): GPU {
  let gpu = gpus.get(adapter);
  if (gpu) return gpu;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  Object.assign(globalThis, globals);
  const drivers = driversFor(adapter);
  if (drivers !== null) process.env.VK_ICD_FILENAMES = drivers;
  gpu = create(adapter ? [`adapter=${adapter}`] : []) as GPU;
  gpus.set(adapter, gpu);
  return gpu;
}
