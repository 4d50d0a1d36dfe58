// Vite serves and builds the browser app (index.html -> src/ui/main.tsx).
// WGSL comes in through `?raw` imports (src/engine/shaders.ts), which Vite handles natively.
// The Playwright kernel specs import engine modules straight from this dev server.

import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

/**
 * src/engine/node-gpu.ts loads the npm `webgpu` package (Dawn, a native Node addon). The UI never
 * imports it; this fails the build, or the dev-server request, if something starts to.
 */
function nodeOnlyGuard(): Plugin {
  const nodeOnly = [/[\\/]src[\\/]engine[\\/]node-gpu\.ts$/, /[\\/]node_modules[\\/]webgpu[\\/]/];
  return {
    name: 'drope:node-only-guard',
    enforce: 'pre',
    load(id) {
      const file = id.split('?')[0];
      if (nodeOnly.some((pattern) => pattern.test(file))) {
        this.error(`${file} is Node-only (Dawn through the npm webgpu package) and must not reach the browser; use navigator.gpu there`);
      }
      return null;
    },
  };
}

export default defineConfig({
  plugins: [react(), nodeOnlyGuard()],
  build: {
    // WebGPU browsers all support ES2022.
    target: 'es2022',
    sourcemap: true,
  },
});
