// The app shell in a real browser: it opens WebGPU and names the adapter, and without WebGPU it
// says how to get it.

import { expect, test } from '@playwright/test';

test('shows the WebGPU adapter (SwiftShader here)', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });

  await page.goto('/');
  await expect(page).toHaveTitle('DroPE Playground');
  await expect(page.getByRole('heading', { level: 1, name: 'DroPE Playground' })).toBeVisible();

  // Playwright's config asks Chromium for its SwiftShader adapter, a CPU implementation.
  const adapterName = page.getByTestId('adapter-name');
  await expect(adapterName).toContainText(/swiftshader/i);
  await expect(adapterName).toContainText('(software)');
  await expect(page.getByTestId('adapter-type')).toContainText(/^Software/);
  await expect(page.getByRole('alert')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('explains how to enable WebGPU when the browser has none', async ({ page }) => {
  // Hide the API before any page script runs, as in a browser without WebGPU.
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { configurable: true, get: () => undefined });
  });
  await page.goto('/');
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('WebGPU is not available');
  await expect(alert).toContainText('navigator.gpu is missing');
  await expect(alert).toContainText('--enable-unsafe-webgpu');
  await expect(page.getByTestId('adapter-name')).toHaveCount(0);
});
