// Two Hugging Face models side by side, as with SmolLM-360M and SmolLM-360M-DroPE: a fake Hub
// (https://hub.example.test/{org}/{name}/resolve/main/{file}, as in hub.spec.ts) serves tiny random
// models under several ids. One RoPE model is loaded as the current model; "Compare with the
// current model" with its DroPE twin (llama_drope, attention_type qk_norm_nope: no rotary
// embeddings, and q_norm/k_norm tensors the RoPE one has not, so its tensor shapes differ) shows
// the memory line and download progress, loads it beside the current one and selects it in Model
// B, and Generate continues the prompt in both slots. A model with another tokenizer (two ids
// swapped) or another vocab_size is refused with an error naming both models and what differs,
// before its weights are fetched; so is any compare before a model is loaded.
//
// `?live=0`: no automatic evaluation of the main chart, so the worker is free for side by side.

import { expect, test, type Page } from '@playwright/test';
import { slot } from './helpers/page.ts';
import { byteLevelTokenizerJson } from '../src/model/byte-tokenizer.ts';
import { routeTinyModel, TINY_CONFIG, tinyCheckpointFiles } from './helpers/tiny-model.ts';

const HUB = 'https://hub.example.test';
const ROPE = 'drope-tests/tiny-rope-hub';
const DROPE = 'drope-tests/tiny-rope-hub-DroPE';
const OTHER_TOKENIZER = 'drope-tests/tiny-other-tokenizer';
const OTHER_VOCAB = 'drope-tests/tiny-other-vocab';

/** The byte-level tokenizer with the ids of "a" and "b" swapped: same size, other ids. */
function swappedTokenizer() {
  const json = byteLevelTokenizerJson();
  json.model.vocab = { ...json.model.vocab, a: 98, b: 97 };
  return json;
}

type Files = ReturnType<typeof tinyCheckpointFiles>;

/** The fake Hub: each model's files under its id, 404 for anything else; records the requests. */
async function routeHub(page: Page): Promise<{ requests: string[] }> {
  const models = new Map<string, Files>([
    [ROPE, tinyCheckpointFiles(TINY_CONFIG, 7)],
    [
      DROPE,
      tinyCheckpointFiles(
        { ...TINY_CONFIG, architectures: ['DroPELlamaForCausalLM'], model_type: 'llama_drope', attention_type: 'qk_norm_nope' },
        11,
      ),
    ],
    [OTHER_TOKENIZER, tinyCheckpointFiles(TINY_CONFIG, 13, swappedTokenizer())],
    [OTHER_VOCAB, tinyCheckpointFiles({ ...TINY_CONFIG, vocab_size: 300 }, 17)],
  ]);
  const requests: string[] = [];
  const cors = { 'access-control-allow-origin': '*' };
  await page.route(`${HUB}/**`, async (route) => {
    const url = new URL(route.request().url());
    const method = route.request().method();
    requests.push(`${method} ${decodeURIComponent(url.pathname)}`);
    const [, org, name, resolve, , ...rest] = decodeURIComponent(url.pathname).split('/');
    const file = resolve === 'resolve' ? models.get(`${org}/${name}`)?.get(rest.join('/')) : undefined;
    if (!file) return route.fulfill({ status: 404, headers: cors, contentType: 'text/plain', body: 'Entry not found' });
    // The DroPE twin's weights come slowly, so its tokenizer's finished download stays on screen a moment.
    if (url.pathname.startsWith(`/${DROPE}/`) && url.pathname.endsWith('/model.safetensors') && method === 'GET')
      await new Promise((r) => setTimeout(r, 2000));
    return route.fulfill({ status: 200, headers: cors, contentType: file.contentType, body: method === 'HEAD' ? '' : file.body });
  });
  return { requests };
}

async function setHub(page: Page) {
  await page.getByText('Hub settings').click();
  await page.getByLabel('Hub base URL').fill(HUB);
}

const weights = (page: Page, name: 'A' | 'B') => slot(page, name).getByRole('combobox', { name: 'Weights' });
const compareButton = (page: Page) => page.getByRole('button', { name: 'Compare with the current model', exact: true });

async function loadCurrent(page: Page) {
  await page.getByLabel('Hugging Face model').fill(ROPE);
  await page.getByRole('button', { name: 'Load from the Hub' }).click();
  await expect(page.getByTestId('hub-status')).toHaveText(/^Current model: hf:drope-tests\/tiny-rope-hub \(/, { timeout: 60_000 });
  await expect(page.getByRole('button', { name: 'Generate', exact: true })).toBeEnabled({ timeout: 30_000 });
}

test('a Hub model and its DroPE twin side by side: memory line, progress, Model B selected, both generate', async ({ page }) => {
  test.setTimeout(180_000);
  await routeTinyModel(page);
  const hub = await routeHub(page);
  await page.goto('/?live=0');
  await expect(page.getByText(/^Weights loaded/)).toBeVisible({ timeout: 60_000 });
  await setHub(page);
  await loadCurrent(page);

  // The button's name stays clear of the page's contract names, and only it has this name.
  await expect(compareButton(page)).toHaveCount(1);
  await expect(page.getByRole('group', { name: 'Model B' })).toHaveCount(1);
  const scrolled = await page.evaluate(() => window.scrollY);

  await page.getByLabel('Hugging Face model').fill(DROPE);
  await compareButton(page).click();
  // The memory check of the new model, and the current model's weights beside it.
  await expect(page.getByTestId('hub-memory')).toHaveText(
    /^Fits: needs about .* as f32 weights and activations .* The current model’s weights are on the GPU too: [\d.]+ KB \(hf:drope-tests\/tiny-rope-hub, f32\)\. Loads as f32 weights/,
  );
  // Download progress (the weights are held back 2 s, so the tokenizer's finished download shows).
  await expect(page.getByTestId('hub-status')).toHaveText(/^Downloading tokenizer\.json: [\d.]+ KB of [\d.]+ KB$/, { timeout: 30_000 });
  await expect(page.getByRole('progressbar', { name: 'Download progress' })).toBeVisible();
  await expect(page.getByTestId('hub-status')).toHaveText(`${DROPE} is loaded beside the current model and selected in Side by side.`, {
    timeout: 60_000,
  });
  await expect(page.getByRole('alert')).toHaveCount(0);
  expect(hub.requests).toContain(`GET /${DROPE}/resolve/main/model.safetensors`);
  // The current model is still the RoPE one.
  await expect(page.getByText(/^Weights loaded/)).toBeVisible();

  // Selected in Model B, offered in both slots under "From the Hub"; nothing scrolled.
  await expect(weights(page, 'B')).toHaveValue(`hub:${DROPE}`);
  await expect(weights(page, 'A')).toHaveValue('base');
  for (const name of ['A', 'B'] as const) {
    await expect(weights(page, name).locator('optgroup[label="From the Hub"] option')).toHaveText([DROPE]);
  }
  await expect(slot(page, 'B').locator('.slot-label')).toHaveText(DROPE);
  // Its own config says no rotary embeddings (qk_norm_nope).
  await expect(slot(page, 'B').getByRole('checkbox', { name: 'Rotary embeddings' })).toBeDisabled();
  await expect(slot(page, 'A').getByRole('checkbox', { name: 'Rotary embeddings' })).toBeChecked();
  expect(await page.evaluate(() => window.scrollY)).toBe(scrolled);

  // A few greedy tokens each (a prefill of the prompt, then one KV-cached step per token).
  await page.getByRole('spinbutton', { name: 'New tokens' }).fill('4');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  for (const name of ['A', 'B'] as const) {
    await expect(slot(page, name).getByText('Done: 4 tokens')).toBeVisible({ timeout: 60_000 });
    await expect(page.getByRole('log', { name: `Model ${name} continuation` })).toHaveAttribute('data-count', '4');
  }
  await expect(page.getByText(/Failed:/)).toHaveCount(0);

  // Again: answered from the worker's memory and Cache Storage, nothing fetched.
  hub.requests.length = 0;
  await weights(page, 'B').selectOption('base');
  await compareButton(page).click();
  await expect(page.getByTestId('hub-status')).toHaveText(`${DROPE} is loaded beside the current model and selected in Side by side.`, {
    timeout: 30_000,
  });
  await expect(weights(page, 'B')).toHaveValue(`hub:${DROPE}`);
  expect(hub.requests).toEqual([]);
});

test('another tokenizer or vocabulary, or no model loaded yet: a clear error, and no weights fetched', async ({ page }) => {
  test.setTimeout(180_000);
  await routeTinyModel(page);
  // The listed model's weights are held back: a compare before any model is loaded is refused.
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/models/tiny-rope/model.safetensors', async (route) => {
    await held;
    await route.fallback();
  });
  const hub = await routeHub(page);
  await page.goto('/?live=0');
  await expect(page.getByTestId('adapter-name')).toContainText(/swiftshader/i, { timeout: 60_000 });
  await setHub(page);
  await page.getByLabel('Hugging Face model').fill(DROPE);
  await compareButton(page).click();
  await expect(page.getByRole('alert').filter({ hasText: `Cannot compare ${DROPE}` })).toHaveText(
    `Cannot compare ${DROPE}: no model is loaded yet: load one first, then compare another with it.`,
  );
  release();
  await expect(page.getByText(/^Weights loaded/)).toBeVisible({ timeout: 60_000 });
  await loadCurrent(page);
  hub.requests.length = 0;

  await page.getByLabel('Hugging Face model').fill(OTHER_TOKENIZER);
  await compareButton(page).click();
  await expect(page.getByRole('alert')).toHaveText(
    `Cannot compare ${OTHER_TOKENIZER}: ${OTHER_TOKENIZER} cannot run beside hf:${ROPE}: side by side needs the same vocabulary and tokenizer, ` +
      `but the token "a" is id 98 in ${OTHER_TOKENIZER}, 97 in hf:${ROPE}`,
    { timeout: 30_000 },
  );

  await page.getByLabel('Hugging Face model').fill(OTHER_VOCAB);
  await compareButton(page).click();
  await expect(page.getByRole('alert')).toHaveText(
    `Cannot compare ${OTHER_VOCAB}: ${OTHER_VOCAB} cannot run beside hf:${ROPE}: side by side needs the same vocabulary and tokenizer, ` +
      `but vocab_size is 300 in ${OTHER_VOCAB}, 256 in hf:${ROPE}`,
    { timeout: 30_000 },
  );
  // Refused before the weights: none fetched, and the slots offer no Hub model.
  expect(hub.requests.filter((r) => r.endsWith('/model.safetensors') && r.startsWith('GET'))).toEqual([]);
  await expect(weights(page, 'B').locator('optgroup[label="From the Hub"]')).toHaveCount(0);
});
