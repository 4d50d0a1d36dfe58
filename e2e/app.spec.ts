// The app shell in a real browser: it opens WebGPU and names the adapter, and without WebGPU it
// says how to get it and still shows every shipped model's recorded curves.

import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';

/** public/models/index.json as shipped: the page reads every listed model's eval.json at start. */
const SHIPPED = JSON.parse(readFileSync(new URL('../public/models/index.json', import.meta.url), 'utf8')) as { name: string }[];

/** A legend or row name that ends with " · MODEL": a shipped model's recorded series. */
const ofModel = (name: string) => new RegExp(` · ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

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

test('without WebGPU, the chart shows every shipped model’s recorded curves, and keeps them through a model switch', async ({ page }) => {
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { configurable: true, get: () => undefined });
  });
  await page.goto('/');
  const legend = page.getByRole('list', { name: 'Legend' });
  const [loaded, ...others] = SHIPPED.map((m) => m.name);
  // The loaded model (the first listed) under its own names; every other listed model has at least
  // one series named after it, and the story's DroPE curve is among them.
  await expect(legend.getByText('RoPE', { exact: true })).toHaveCount(1);
  for (const name of others) await expect(legend.getByText(ofModel(name)).first()).toBeVisible();
  // One story DroPE curve per shipped DroPE model (austen-drope and austen-drope-long).
  await expect(legend.getByText(/^DroPE \(recalibrated\) · /)).toHaveCount(SHIPPED.filter((m) => /drope/.test(m.name)).length);
  await expect(legend.getByText(ofModel(loaded))).toHaveCount(0);
  await expect(page.getByRole('application', { name: 'Perplexity vs sequence length' })).toBeVisible();

  // "Show data" lists them, recorded (*).
  await page.getByRole('button', { name: 'Show data' }).click();
  const drope = page.getByRole('table').getByRole('row', { name: /^DroPE \(recalibrated\) · / });
  await expect(drope.first()).toContainText('*');

  // Another model loaded: the first one's curves now carry its name, the others' stay.
  if (others.length === 0) return;
  await page.getByRole('combobox', { name: 'Model', exact: true }).selectOption(others[0]);
  await expect(legend.getByText(ofModel(loaded)).first()).toBeVisible();
  await expect(legend.getByText(ofModel(others[0]))).toHaveCount(0);
  for (const name of others.slice(1)) await expect(legend.getByText(ofModel(name)).first()).toBeVisible();
});
