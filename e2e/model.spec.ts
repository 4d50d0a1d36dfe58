// The whole model in Chromium's WebGPU against Hugging Face transformers, as test/model/forward.test.ts
// checks it on Dawn in Node: the same fixtures (../shared/fixtures/hf-llama, see its README), the
// same loading code (urlSource + loadCheckpoint, the path the browser app takes), the same
// LlamaModel. The page fetches the checkpoint from a fake URL that page.route answers from the
// fixture files; logits and per-token NLL come back to Node and are compared with transformers'.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { parseSafetensors } from '../src/model/safetensors.ts';
import { assertFixtures, FIXTURES, skipWithoutFixtures, warnIfNoFixtures } from '../test/helpers/fixtures.ts';

type EngineModule = typeof import('../src/engine/engine.ts');
type CheckpointModule = typeof import('../src/model/checkpoint.ts');
type SourceUrlModule = typeof import('../src/model/source-url.ts');
type ModelModule = typeof import('../src/model/model.ts');

/**
 * Each fixture checkpoint and the lengths run on it: 48, and 160 (past max_position_embeddings = 64,
 * where RoPE's tables extend beyond training) for RoPE; NoPE has no position tables, so one length
 * is enough there.
 */
const CASES = [
  { name: 'llama-rope', lengths: [48, 160] },
  { name: 'llama-nope', lengths: [48] },
] as const;

/** The files the page may fetch; anything else (an index of shards, the expected outputs) is a 404. */
const SERVED: Record<string, string> = {
  'config.json': 'application/json',
  'model.safetensors': 'application/octet-stream',
};

/** The fixture's bounds are absolute (its README: a float32 engine lands near 1e-4 of the logits). */
const LOGITS_TOLERANCE = 2e-3;
const NLL_TOLERANCE = 1e-3;

warnIfNoFixtures('the in-browser whole-model comparison with Hugging Face transformers (e2e/model.spec.ts)');
test.skip(skipWithoutFixtures, `the Hugging Face fixtures are absent: ${FIXTURES} does not exist (../shared/fixtures)`);
// Under CI a missing oracle fails every test here instead.
test.beforeEach(assertFixtures);

/** Max |a - b| and where it is, or a description of a length mismatch. */
function maxAbsDiff(got: ArrayLike<number>, want: ArrayLike<number>): { diff: number; at: number } {
  if (got.length !== want.length) throw new Error(`${got.length} values, want ${want.length}`);
  let diff = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    // NaN compares false with everything: count it as the worst.
    if (!(d <= diff)) {
      diff = Number.isNaN(d) ? Infinity : d;
      at = i;
    }
  }
  return { diff, at };
}

/** Serves `dir`'s checkpoint files under `/hf-fixture/<name>/` on the page's origin. */
async function serveCheckpoint(page: Page, name: string, dir: string): Promise<string> {
  const base = `/hf-fixture/${name}/`;
  await page.route(`**${base}*`, async (route) => {
    const file = decodeURIComponent(new URL(route.request().url()).pathname.slice(base.length));
    const contentType = SERVED[file];
    if (!contentType) return route.fulfill({ status: 404, contentType: 'text/plain', body: `${file}: not served` });
    return route.fulfill({ status: 200, contentType, body: readFileSync(join(dir, file)) });
  });
  return base;
}

interface Run {
  T: number;
  B: number;
  ids: number[];
}

/** In the page: loads the checkpoint from `base`, runs logits and nll for each run, returns them. */
function runModel(page: Page, base: string, runs: Run[]) {
  return page.evaluate(
    async ({ base, runs }) => {
      // Paths on the Vite dev server, held in variables so TypeScript (Node side) leaves them alone.
      const paths = ['/src/engine/engine.ts', '/src/model/checkpoint.ts', '/src/model/source-url.ts', '/src/model/model.ts'];
      const [{ Engine }, { loadCheckpoint }, { urlSource }, { LlamaModel }] = (await Promise.all(paths.map((p) => import(p)))) as [
        EngineModule,
        CheckpointModule,
        SourceUrlModule,
        ModelModule,
      ];
      const engine = await Engine.create(navigator.gpu);
      const failures: string[] = [];
      engine.onFailure((message) => failures.push(message));
      const model = LlamaModel.fromCheckpoint(engine, await loadCheckpoint(urlSource(base)));
      const results = [];
      try {
        for (const { T, B, ids } of runs) {
          const started = performance.now();
          const logits = await model.logits(ids, B, T);
          const nll = await model.nll(ids, B, T);
          results.push({ T, logits: Array.from(logits), nll: Array.from(nll), ms: performance.now() - started });
        }
      } finally {
        model.destroy();
        engine.destroy();
      }
      if (failures.length > 0) throw new Error(`WebGPU failures: ${failures.join('; ')}`);
      return { adapter: engine.adapterName, results };
    },
    { base, runs },
  );
}

for (const { name, lengths } of CASES) {
  test(`${name}: logits and NLL match transformers at T=${lengths.join(', ')}`, async ({ page }) => {
    const dir = join(FIXTURES, name);
    const expected = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'expected.safetensors'))), `${name}/expected.safetensors`);
    const runs = lengths.map((T) => {
      const ids = Array.from(expected.getI32(`T${T}.input_ids`));
      return { T, B: ids.length / T, ids };
    });

    await page.goto('/e2e/harness.html');
    const base = await serveCheckpoint(page, name, dir);
    const { adapter, results } = await runModel(page, base, runs);
    expect(adapter).toMatch(/swiftshader/i);

    for (const { T, logits, nll, ms } of results) {
      const B = runs.find((r) => r.T === T)!.B;
      const logitDiff = maxAbsDiff(logits, expected.getF32(`T${T}.logits`));
      const nllDiff = maxAbsDiff(nll, expected.getF32(`T${T}.nll`));
      test.info().annotations.push({
        type: `T=${T}`,
        description: `B=${B}: logits max abs diff ${logitDiff.diff.toExponential(2)}, nll ${nllDiff.diff.toExponential(2)}; logits + nll in ${ms.toFixed(0)} ms`,
      });
      // logits are [B, T, V]; nll is [B, T-1] (position t predicts token t+1).
      expect(logitDiff.diff, `${name} T=${T}: logits [${B}, ${T}, V] max abs diff (at flat index ${logitDiff.at})`).toBeLessThan(
        LOGITS_TOLERANCE,
      );
      expect(nllDiff.diff, `${name} T=${T}: nll [${B}, ${T - 1}] max abs diff (at flat index ${nllDiff.at})`).toBeLessThan(NLL_TOLERANCE);
    }
  });
}
