// Browser tests: Debian's Chromium (never Playwright's own download) with WebGPU on SwiftShader,
// a CPU implementation of Vulkan, so the suite needs no GPU. scripts/setup.sh installs Chromium.
//
// Why each flag:
//   --enable-unsafe-webgpu               WebGPU on Linux is still behind this flag.
//   --use-webgpu-adapter=swiftshader     Pick Chromium's bundled SwiftShader: same adapter on every machine.
//   --no-sandbox                         CI runs as root, where Chromium's sandbox refuses to start.
//   --disable-background-networking, --disable-component-update, --disable-sync, --no-first-run
//                                        No network traffic or first-run work besides the dev server.
// Headless Chromium 156 offers the SwiftShader adapter with these flags alone (checked: neither
// --enable-features=Vulkan nor --use-angle=swiftshader changes that), so they are left out.

import { defineConfig } from '@playwright/test';

// PW_PORT / PW_OUTPUT let two checkouts (or engineers) run the suite at once without colliding.
const PORT = Number(process.env.PW_PORT ?? 5199);
const baseURL = `http://127.0.0.1:${PORT}`;

export default defineConfig({
  testDir: 'e2e',
  // SwiftShader shares two CPU cores with everything else: one browser at a time.
  workers: 1,
  fullyParallel: false,
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  // Device creation and pipeline compilation on a software GPU take seconds, not milliseconds.
  timeout: 60_000,
  expect: {
    timeout: 15_000,
    toHaveScreenshot: {
      // Anti-aliasing and font hinting differ slightly between machines; a chart that changed
      // shape moves far more than 1% of its pixels.
      maxDiffPixelRatio: 0.01,
      threshold: 0.2,
      animations: 'disabled',
      caret: 'hide',
    },
  },
  // `list` ends with the summary line ("N passed (Xs)"), also under CI.
  reporter: [['list']],
  outputDir: process.env.PW_OUTPUT ?? 'test-results',
  use: {
    baseURL,
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    colorScheme: 'light',
    locale: 'en-US',
    timezoneId: 'UTC',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--enable-unsafe-webgpu',
        '--use-webgpu-adapter=swiftshader',
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [{ name: 'chromium' }],
  webServer: {
    // 127.0.0.1 rather than localhost: both are secure contexts (WebGPU needs one), and an IPv4
    // literal avoids localhost resolving to ::1 on some machines.
    command: `npx vite --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: baseURL,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
