// A Hub model whose weights do not fit the adapter's buffer limits as f32 but do as f16: the
// "Hugging Face model" card explains it and offers "Load with f16 weights", and loading with it
// checked estimates (and requests) f16 weights. The fake Hub serves only config.json, sized from
// this adapter's limits so that the embedding table is just over the limit as f32; the weights
// are never served, so the load ends in a download error after the estimate is shown.

import { expect, test } from '@playwright/test';
import { routeTinyModel } from './helpers/tiny-model.ts';

const HUB = 'https://hub.example.test';
const ID = 'drope-tests/too-big-for-f32';

test('weights too big as f32 but not as f16: the card offers "Load with f16 weights"', async ({ page }) => {
  test.setTimeout(90_000);
  await routeTinyModel(page);
  await page.goto('/');
  await expect(page.getByTestId('adapter-name')).toContainText(/swiftshader/i, { timeout: 30_000 });
  const limit = await page.evaluate(async () => {
    const adapter = await navigator.gpu.requestAdapter();
    return Math.min(adapter!.limits.maxBufferSize, adapter!.limits.maxStorageBufferBindingSize);
  });
  // Embedding table [V, 512]: V·512·4 bytes just over the limit, half of that well under it (a
  // hidden size of 512 keeps V within the vocabulary the engine accepts, 2^22).
  const C = 512;
  const V = 2 * Math.ceil(limit / (4 * C) / 2) + 2;
  const config = {
    model_type: 'llama',
    vocab_size: V,
    hidden_size: C,
    intermediate_size: 128,
    num_hidden_layers: 1,
    num_attention_heads: 8,
    num_key_value_heads: 1,
    max_position_embeddings: 16,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: true,
  };
  const cors = { 'access-control-allow-origin': '*' };
  await page.route(`${HUB}/**`, (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === `/${ID}/resolve/main/config.json`) {
      return route.fulfill({ status: 200, headers: cors, contentType: 'application/json', body: JSON.stringify(config) });
    }
    return route.fulfill({ status: 404, headers: cors, contentType: 'text/plain', body: 'Entry not found' });
  });
  await page.getByText('Hub settings').click();
  await page.getByLabel('Hub base URL').fill(HUB);
  await page.getByLabel('Hugging Face model').fill(ID);
  const f16 = page.getByRole('checkbox', { name: 'Load with f16 weights' });
  await expect(f16).toHaveCount(0);

  await page.getByRole('button', { name: 'Load from the Hub' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Does not fit' })).toHaveText(
    /Does not fit: the weight model\.embed_tokens\.weight alone needs .* as f32.*It fits with f16 weights \(/,
  );
  await expect(f16).toBeVisible();
  await expect(f16).toBeChecked();

  await page.getByRole('button', { name: 'Load from the Hub' }).click();
  // The estimate is now for f16 weights, and the load went ahead (to the missing weights file).
  await expect(page.getByTestId('hub-memory')).toContainText(/as f16/, { timeout: 30_000 });
  await expect(page.getByTestId('hub-memory')).toHaveText(
    /^Fits: .* as f16 weights, f32 activations \(.*Loads as f16 weights, f32 activations \(f32 did not fit; this GPU lacks shader-f16\)\.$/,
  );
  await expect(page.getByRole('alert').filter({ hasText: `Cannot load ${ID}` })).toBeVisible({ timeout: 30_000 });

  // Another id hides the offer.
  await page.getByLabel('Hugging Face model').fill('drope-tests/other');
  await expect(f16).toHaveCount(0);
});
