// The whole model against Hugging Face transformers: logits and per-token NLL of the fixture
// checkpoints (RoPE and DroPE-style NoPE), at T=48 and at T=160 (past max_position_embeddings).

import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/model/checkpoint.ts';
import { LlamaModel } from '../../src/model/model.ts';
import { directorySource } from '../../src/model/source-node.ts';
import { expectClose, maxAbs } from '../helpers/compare.ts';
import { FIXTURE_CASES, FIXTURE_LENGTHS, FIXTURES, warnIfNoFixtures, fixtureExpected } from '../helpers/fixtures.ts';
import { describeWithFixtures } from '../helpers/describe-fixtures.ts';
import { testEngine } from '../helpers/gpu.ts';

warnIfNoFixtures('the whole-model comparison with Hugging Face transformers');

/** Max |a - b|, the fixtures' bounds being absolute. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describeWithFixtures('model forward vs transformers fixtures', () => {
  for (const name of FIXTURE_CASES) {
    for (const T of FIXTURE_LENGTHS) {
      it(`${name} T=${T}`, async () => {
        const engine = await testEngine();
        const dir = join(FIXTURES, name);
        const model = LlamaModel.fromCheckpoint(engine, await loadCheckpoint(directorySource(dir)));
        const expected = fixtureExpected(dir);
        const ids = expected.getI32(`T${T}.input_ids`);
        const B = ids.length / T;
        const logits = await model.logits(ids, B, T);
        const nll = await model.nll(ids, B, T);
        const wantLogits = expected.getF32(`T${T}.logits`);
        const wantNll = expected.getF32(`T${T}.nll`);
        // The bounds are absolute: logits within 2e-3, NLL within 1e-3. A float32 engine
        // lands near 1e-5 (the fixture README); the relative check keeps failures readable.
        expect(maxAbsDiff(logits, wantLogits), `${name} T=${T} logits max abs diff (scale ${maxAbs(wantLogits)})`).toBeLessThan(2e-3);
        expect(maxAbsDiff(nll, wantNll), `${name} T=${T} nll max abs diff`).toBeLessThan(1e-3);
        expectClose(logits, wantLogits, { tolerance: 1e-4, what: `${name} T=${T} logits [${B}, ${T}, V]` });
        model.destroy();
      });
    }
  }
});

describeWithFixtures('lastLogits', () => {
  it('equals the last position of logits for every sequence', async () => {
    const engine = await testEngine();
    const dir = join(FIXTURES, 'llama-rope');
    const model = LlamaModel.fromCheckpoint(engine, await loadCheckpoint(directorySource(dir)));
    const [B, T, V] = [2, 37, model.config.vocabSize];
    const ids = Array.from({ length: B * T }, (_, i) => (i * 7) % V);
    const all = await model.logits(ids, B, T);
    const last = await model.lastLogits(ids, B, T);
    for (let b = 0; b < B; b++) {
      // The same rows through the same layers; only the LM head differs, B = 2 rows running on
      // matmul.matvec where the full logits use the tiled kernel: another order of the same f32 sums.
      expectClose(last.subarray(b * V, (b + 1) * V), all.subarray((b * T + T - 1) * V, (b * T + T) * V), {
        tolerance: 1e-6,
        what: `last logits of sequence ${b}`,
      });
    }
    model.destroy();
  });
});
