// The real-size path in the page: a SmolLM-135M-shaped checkpoint (the published config, seeded
// random weights at its init scale, BF16 in three shards with their index, as `make-checkpoint
// --like SmolLM-135M --shards 3` writes it; 0.27 GB) served by the local Hub stand-in over real HTTP
// (page.route cannot carry it: DevTools' pipe takes 100 MB a message, a shard is 90 MB), loaded
// through "Hugging Face model": download progress, the memory estimate, the current model's card;
// then side by side generates a few tokens with it, and "Drop RoPE" mid-generation takes effect on
// the next token (the KV cache keeps unrotated keys). SwiftShader runs a 135M forward at a few
// tokens a second, so the prompt is short and the tokens few.

import { expect, test } from '@playwright/test';
import { randomCheckpointFiles } from '../src/model/published-configs.ts';
import { continuation, slot, tokenCount } from './helpers/page.ts';
import { routeTinyModel } from './helpers/tiny-model.ts';
import { startHubServer, type HubServer } from '../test/helpers/hub-server.ts';

const ID = 'drope-tests/SmolLM-135M-random';
const NEW_TOKENS = 12;

// A trace would record the 0.27 GB of responses.
test.use({ trace: 'off' });

let hub: HubServer;
test.beforeAll(async () => {
  hub = await startHubServer();
});
test.afterAll(async () => hub?.close());

test('a SmolLM-135M-shaped checkpoint from the Hub: progress, memory estimate, generation, Drop RoPE mid-generation', async ({ page }) => {
  test.setTimeout(600_000);
  // make-checkpoint --like SmolLM-135M --shards 3 --seed 7, in memory.
  const { files, parameters } = randomCheckpointFiles('SmolLM-135M', { dtype: 'BF16', shards: 3, seed: 7 });
  expect(parameters).toBe(134_515_008);
  hub.addRepo(ID, files);
  await routeTinyModel(page);
  await page.goto('/?live=0');
  await expect(page.getByText(/^Weights loaded/)).toBeVisible({ timeout: 60_000 });
  await page.getByText('Hub settings').click();
  await page.getByLabel('Hub base URL').fill(hub.endpoint);

  await page.getByLabel('Hugging Face model').fill(ID);
  await page.getByRole('button', { name: 'Load from the Hub' }).click();
  // The memory line from config.json alone, before the weights: 134.5M parameters as f32 (SwiftShader has no shader-f16) are 513 MB.
  await expect(page.getByTestId('hub-memory')).toHaveText(
    /^Fits: needs about [\d.]+ GB of GPU memory at [\d,]+ tokens as f32 weights and activations \(weights 513 MB, activations/,
    { timeout: 60_000 },
  );
  // Shard by shard, in megabytes.
  await expect(page.getByTestId('hub-status')).toHaveText(/^Downloading model-0000[123]-of-00003\.safetensors: [\d.]+ MB of [\d.]+ MB$/, {
    timeout: 120_000,
  });
  await expect(page.getByRole('progressbar', { name: 'Download progress' })).toBeVisible();
  await expect(page.getByTestId('hub-status')).toHaveText(`Current model: hf:${ID} (${parameters.toLocaleString('en-US')} parameters).`, {
    timeout: 300_000,
  });
  await expect(page.getByText(/30 layers, 9 heads, hidden size 576/)).toBeVisible();
  await expect(page.getByRole('alert')).toHaveCount(0);

  // Side by side: A runs it with RoPE; "Drop RoPE" while it generates removes RoPE from the next token on.
  await page.getByLabel('Prompt').fill('It is a truth');
  await page.getByRole('spinbutton', { name: 'New tokens' }).fill(String(NEW_TOKENS));
  await expect(slot(page, 'A').getByRole('checkbox', { name: 'Rotary embeddings' })).toBeChecked();
  const generate = page.getByRole('button', { name: 'Generate', exact: true });
  await expect(generate).toBeEnabled({ timeout: 60_000 });
  await generate.click();
  await expect.poll(() => tokenCount(page, 'A'), { timeout: 240_000 }).toBeGreaterThan(0);
  expect(await tokenCount(page, 'A')).toBeLessThan(NEW_TOKENS);
  await page.getByRole('button', { name: 'Drop RoPE' }).click();
  await expect(slot(page, 'A').getByRole('checkbox', { name: 'Rotary embeddings' })).not.toBeChecked();
  await expect(slot(page, 'A').getByText(`Done: ${NEW_TOKENS} tokens`)).toBeVisible({ timeout: 240_000 });
  await expect(continuation(page, 'A').locator('.after-drop')).toHaveCount(1);
  await expect(page.getByText(/Failed:/)).toHaveCount(0);
});
