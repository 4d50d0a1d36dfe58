// Loading a model from the Hugging Face Hub in the page: a tiny random checkpoint served with
// page.route under a fake Hub (https://hub.example.test/{org}/{name}/resolve/main/{file}), whose
// base URL is set in the app's "Hub base URL" setting. Loading it by id shows a memory estimate
// and download progress and makes it the current model; a second load comes from Cache Storage
// without a request; an id the Hub does not have shows a clear error. The Precision setting:
// SwiftShader has no shader-f16, so Automatic loads f32 and "f16 weights and activations" is
// disabled; the choice survives a reload.

import { expect, test, type Page } from '@playwright/test';
import { routeTinyModel, tinyModelFiles } from './helpers/tiny-model.ts';

const HUB = 'https://hub.example.test';
const ID = 'drope-tests/tiny-hub-model';

/** The fake Hub: the tiny model's files under ID, 404 for anything else; counts the requests. */
async function routeHub(page: Page): Promise<{ requests: string[] }> {
  const files = tinyModelFiles();
  files.delete('eval.json');
  const requests: string[] = [];
  const cors = { 'access-control-allow-origin': '*' };
  await page.route(`${HUB}/**`, async (route) => {
    const url = new URL(route.request().url());
    requests.push(`${route.request().method()} ${url.pathname}`);
    const prefix = `/${ID}/resolve/main/`;
    const file = url.pathname.startsWith(prefix) ? files.get(decodeURIComponent(url.pathname.slice(prefix.length))) : undefined;
    if (!file) return route.fulfill({ status: 404, headers: cors, contentType: 'text/plain', body: 'Entry not found' });
    // The tokenizer last and slowly, so the weights' finished download stays on screen a moment.
    if (url.pathname.endsWith('/tokenizer.json') && route.request().method() === 'GET') await new Promise((r) => setTimeout(r, 2000));
    return route.fulfill({
      status: 200,
      headers: cors,
      contentType: file.contentType,
      body: route.request().method() === 'HEAD' ? '' : file.body,
    });
  });
  return { requests };
}

async function setHub(page: Page) {
  await page.getByText('Hub settings').click();
  await page.getByLabel('Hub base URL').fill(HUB);
}

test('load a model by id from the Hub: memory estimate, progress, current model; the second load is cached', async ({ page }) => {
  test.setTimeout(90_000);
  await routeTinyModel(page);
  const hub = await routeHub(page);
  await page.goto('/');
  // The listed model first, so the Hub model visibly replaces it.
  await expect(page.getByText(/^Weights loaded/)).toBeVisible({ timeout: 30_000 });
  await setHub(page);

  await page.getByLabel('Hugging Face model').fill(ID);
  await page.getByRole('button', { name: 'Load from the Hub' }).click();
  // Download progress, file by file, in bytes of the Content-Length.
  await expect(page.getByTestId('hub-status')).toHaveText(/^Downloading model\.safetensors: [\d.]+ KB of [\d.]+ KB$/, { timeout: 30_000 });
  await expect(page.getByRole('progressbar', { name: 'Download progress' })).toBeVisible();
  // Tied embeddings [256, 32]; per layer q, k, v, o [32, 32], gate, up, down [64, 32] and two norms; the final norm.
  const parameters = (256 * 32 + 2 * (4 * 32 * 32 + 3 * 32 * 64 + 2 * 32) + 32).toLocaleString('en-US');
  await expect(page.getByTestId('hub-status')).toHaveText(`Current model: hf:${ID} (${parameters} parameters).`, { timeout: 30_000 });
  await expect(page.getByTestId('hub-memory')).toHaveText(/^Fits: needs about .* at 256 tokens as f32 weights and activations \(/);
  await expect(page.getByTestId('hub-memory')).toContainText(
    'Loads as f32 weights and activations (automatic: this GPU lacks shader-f16).',
  );
  // The model card describes the Hub model now.
  await expect(page.getByText(`Weights loaded: ${parameters} parameters`, { exact: false })).toBeVisible();
  await expect(page.getByText(/2 layers, 2 heads, hidden size 32.*trained on 16-token windows with RoPE/)).toBeVisible();
  expect(hub.requests).toContain(`GET /${ID}/resolve/main/model.safetensors`);

  // Again: everything from Cache Storage, nothing fetched.
  hub.requests.length = 0;
  await page.getByRole('button', { name: 'Load from the Hub' }).click();
  await expect(page.getByTestId('hub-status')).toHaveText(/^Current model: hf:/, { timeout: 30_000 });
  expect(hub.requests).toEqual([]);
});

test('an id the Hub does not have: a clear error', async ({ page }) => {
  await routeTinyModel(page);
  await routeHub(page);
  await page.goto('/');
  await expect(page.getByTestId('adapter-name')).toContainText(/swiftshader/i, { timeout: 30_000 });
  await setHub(page);
  await page.getByLabel('Hugging Face model').fill('nobody/no-such-model');
  await page.getByRole('button', { name: 'Load from the Hub' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Cannot load nobody/no-such-model' })).toHaveText(
    /Cannot load nobody\/no-such-model: config\.json not found in nobody\/no-such-model .*HTTP 404/,
  );
  // A malformed id says what an id looks like.
  await page.getByLabel('Hugging Face model').fill('not an id');
  await page.getByRole('button', { name: 'Load from the Hub' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Cannot load not an id' })).toContainText('expected ORG/NAME');
});

test('Precision in Hub settings: Automatic by default, f16 disabled without shader-f16, the choice kept over a reload', async ({
  page,
}) => {
  test.setTimeout(90_000);
  await routeTinyModel(page);
  await routeHub(page);
  await page.goto('/');
  await expect(page.getByTestId('adapter-name')).toContainText(/swiftshader/i, { timeout: 30_000 });
  const precision = page.getByRole('combobox', { name: 'Precision' });
  // Inside the closed "Hub settings" until it is opened.
  await expect(precision).toBeHidden();
  await setHub(page);
  await expect(precision).toBeVisible();
  await expect(precision).toHaveValue('auto');
  await expect(precision.locator('option:checked')).toHaveText('Automatic');
  await expect(precision.getByRole('option')).toHaveText(['Automatic', 'f32', 'f16 weights and activations']);
  await expect(precision.getByRole('option', { name: 'f16 weights and activations' })).toBeDisabled();
  await expect(precision.getByRole('option', { name: 'f32' })).toBeEnabled();
  await expect(precision).toHaveAccessibleDescription(
    /f16 weights and activations where this GPU has shader-f16, f32 otherwise\..*need the GPU feature shader-f16, which .*swiftshader.* does not have/i,
  );
  // "Precision" names this select alone (Playwright matches names by substring).
  let named = 0;
  for (const role of [
    'button',
    'checkbox',
    'combobox',
    'listbox',
    'option',
    'radio',
    'slider',
    'spinbutton',
    'switch',
    'tab',
    'textbox',
    'link',
    'region',
    'group',
    'img',
    'progressbar',
    'table',
    'heading',
  ] as const) {
    named += await page.getByRole(role, { name: 'Precision' }).count();
  }
  expect(named).toBe(1);
  await expect(page.getByLabel('Precision')).toHaveCount(1);

  // f32, kept over a reload (beside the Hub base URL), and used for the load.
  await precision.selectOption('f32');
  await expect(precision).toHaveAccessibleDescription(/^Exact: the numbers transformers gives in float32; recalibration possible\./);
  await page.reload();
  await expect(page.getByTestId('adapter-name')).toContainText(/swiftshader/i, { timeout: 30_000 });
  await page.getByText('Hub settings').click();
  await expect(precision).toHaveValue('f32');
  await expect(page.getByLabel('Hub base URL')).toHaveValue(HUB);
  await page.getByLabel('Hugging Face model').fill(ID);
  await page.getByRole('button', { name: 'Load from the Hub' }).click();
  await expect(page.getByTestId('hub-status')).toHaveText(/^Current model: hf:/, { timeout: 30_000 });
  await expect(page.getByTestId('hub-memory')).toHaveText(
    /^Fits: .* as f32 weights and activations .*Loads as f32 weights and activations \(as chosen\)\.$/,
  );
  // Back to Automatic, also kept.
  await precision.selectOption('auto');
  await page.reload();
  await page.getByText('Hub settings').click();
  await expect(precision).toHaveValue('auto');
});
