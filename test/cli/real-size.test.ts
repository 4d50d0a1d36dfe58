// The real-size path without the Hub: `make-checkpoint --like SmolLM-135M` writes the published
// config with random BF16 weights in three shards; a local server laid out like the Hub
// (test/helpers/hub-server.ts) serves them. The model loads from there in this process, where the
// engine's allocated bytes are held against the page's memory estimate, and in the CLI, where
// `ppl` and `generate` (with Drop RoPE mid-generation) run on it. Sequences stay short: SwiftShader
// runs a 135M-parameter forward at a few tokens a second.

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/model/checkpoint.ts';
import { LlamaModel } from '../../src/model/model.ts';
import { PUBLISHED_CONFIGS } from '../../src/model/published-configs.ts';
import { hubSource } from '../../src/model/source-hub.ts';
import { estimateGpuMemory } from '../../src/ui/features/model/hub-memory.ts';
import { describeRun, expectSuccess, runCli } from '../helpers/cli.ts';
import { peakDuring, testEngine } from '../helpers/gpu.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';

const ID = 'test/SmolLM-135M-random';
/** A load of 0.27 GB and a forward of a 135M model on SwiftShader: minutes under a loaded CI machine, never a hang. */
const RUN_TIMEOUT_MS = 240_000;

const work = mkdtempSync(join(tmpdir(), 'real-size-'));
const modelDir = join(work, 'smollm-135m');
let server: HubServer;

beforeAll(async () => {
  const made = await runCli(
    ['make-checkpoint', '--like', 'SmolLM-135M', '--out', modelDir, '--shards', '3', '--seed', '7'],
    {},
    RUN_TIMEOUT_MS,
  );
  expectSuccess(made);
  const summary = JSON.parse(made.stdout) as { dtype: string; parameters: number; files: string[] };
  // SmolLM-135M's published parameter count: tied embeddings, 30 layers.
  expect(summary).toMatchObject({ dtype: 'BF16', parameters: 134_515_008 });
  server = await startHubServer();
  server.addRepo(ID, new Map(readdirSync(modelDir).map((file) => [file, new Uint8Array(readFileSync(join(modelDir, file)))])));
}, RUN_TIMEOUT_MS);

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('a SmolLM-135M-shaped checkpoint served by a local Hub', () => {
  it('has the published config, three BF16 shards and their index', () => {
    const files = readdirSync(modelDir).sort();
    expect(files).toEqual([
      'config.json',
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
      'model.safetensors.index.json',
      'tokenizer.json',
    ]);
    const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8'));
    expect(config).toEqual({ ...PUBLISHED_CONFIGS['SmolLM-135M'], torch_dtype: 'bfloat16' });
    // About a third of 0.27 GB each.
    const sizes = files.filter((f) => f.startsWith('model-')).map((f) => readFileSync(join(modelDir, f)).length);
    for (const size of sizes) expect(size / (2 * 134_515_008)).toBeCloseTo(1 / 3, 1);
  });

  it('make-checkpoint refuses an unknown shape and a folder that already holds files, changing nothing', async () => {
    const unknown = await runCli(['make-checkpoint', '--like', 'SmolLM-1.7B', '--out', join(work, 'other')]);
    expect(unknown.code, describeRun(unknown)).toBe(2);
    expect(unknown.stderr).toMatch(/^error: --like must be one of SmolLM-135M, SmolLM-360M, got "SmolLM-1.7B"/);
    // Each file's size and modification time: reading 0.27 GB twice to compare bytes would dwarf the test.
    const stamps = () =>
      readdirSync(modelDir).map((file) => [file, statSync(join(modelDir, file)).size, statSync(join(modelDir, file)).mtimeMs]);
    const before = stamps();
    const occupied = await runCli(['make-checkpoint', '--like', 'SmolLM-135M', '--out', modelDir]);
    expect(occupied.code, describeRun(occupied)).toBe(2);
    expect(occupied.stderr).toMatch(/^error: --out .* is not empty: choose a new folder/);
    expect(stamps()).toEqual(before);
  });

  it(
    'loads from the Hub and allocates within 10% of the memory estimate for perplexity and a generation at 32 tokens',
    async () => {
      const engine = await testEngine();
      const checkpoint = await loadCheckpoint(hubSource(ID, { endpoint: server.endpoint, retryDelayMs: 10 }));
      const length = 32;
      const estimate = estimateGpuMemory(checkpoint.config, length);
      let model: LlamaModel | undefined;
      const allocated = await peakDuring(engine, async () => {
        model = LlamaModel.fromCheckpoint(engine, checkpoint);
        const ids = Array.from({ length }, (_, i) => (i * 31) % 256);
        const nll = await model.nll(ids, 1, length);
        expect(nll.every(Number.isFinite)).toBe(true);
        // Random weights at the init scale predict about uniformly over 49,152 tokens.
        const mean = nll.reduce((a, b) => a + b, 0) / nll.length;
        expect(mean).toBeGreaterThan(Math.log(49152) - 1);
        expect(mean).toBeLessThan(Math.log(49152) + 1);
        const cache = model.createKvCache(length);
        await model.prefill(cache, ids.slice(0, length - 4));
        for (let i = 0; i < 4; i++) await model.decode(cache, [ids[length - 4 + i]]);
      }).finally(() => model?.destroy());
      expect(allocated).toBeLessThanOrEqual(estimate.totalBytes);
      expect(allocated, `allocated ${allocated} bytes, estimate ${estimate.totalBytes}`).toBeGreaterThan(0.9 * estimate.totalBytes);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'runs `ppl` and `generate` with Drop RoPE mid-generation in the CLI, from the Hub',
    async () => {
      const env = { HF_ENDPOINT: server.endpoint, DROPE_CACHE_DIR: join(work, 'cache') };
      const textPath = join(modelDir, 'config.json'); // any text: bytes are tokens
      const ppl = await runCli(
        ['ppl', '--model', `hf:${ID}`, '--text', textPath, '--lengths', '32', '--tokens', '64', '--json'],
        env,
        RUN_TIMEOUT_MS,
      );
      expectSuccess(ppl);
      const perplexity = (JSON.parse(ppl.stdout) as Record<string, number>)['32'];
      expect(Number.isFinite(perplexity), describeRun(ppl)).toBe(true);
      expect(Math.log(perplexity)).toBeCloseTo(Math.log(49152), 0);
      const generated = await runCli(
        ['generate', '--model', `hf:${ID}`, '--prompt', 'It is a truth', '--tokens', '4', '--drop-at', '2', '--json'],
        env,
        RUN_TIMEOUT_MS,
      );
      expectSuccess(generated);
      const result = JSON.parse(generated.stdout) as { generated_ids: number[] };
      expect(result.generated_ids).toHaveLength(4);
      for (const id of result.generated_ids) expect(id).toBeLessThan(49152);
    },
    2 * RUN_TIMEOUT_MS,
  );
});
