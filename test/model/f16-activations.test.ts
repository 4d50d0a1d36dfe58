// f16 activations (LlamaModel option `activations: 'f16'`, with f16 weights: how a model runs on an
// adapter with shader-f16): the fixture checkpoints' logits and next-token NLL against Hugging Face
// transformers and our f32 engine, the attention map, the memory taken, and the refusals (training,
// an adapter without shader-f16).

import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/model/checkpoint.ts';
import { LlamaModel } from '../../src/model/model.ts';
import { directorySource } from '../../src/model/source-node.ts';
import { expectClose, maxAbs } from '../helpers/compare.ts';
import { FIXTURE_CASES, FIXTURE_LENGTHS, FIXTURES, warnIfNoFixtures, fixtureCase } from '../helpers/fixtures.ts';
import { describeWithFixtures } from '../helpers/describe-fixtures.ts';
import { f16TestEngine, testEngine } from '../helpers/gpu.ts';

warnIfNoFixtures('the f16-activations comparison with transformers');

const HALF = { weights: 'f16', activations: 'f16' } as const;

describeWithFixtures("LlamaModel with activations: 'f16'", () => {
  for (const name of FIXTURE_CASES) {
    for (const T of FIXTURE_LENGTHS) {
      it(`${name} T=${T}: logits and NLL near transformers' and the f32 engine's`, async () => {
        const engine = await f16TestEngine();
        const { checkpoint, ids, B, logits: wantLogits } = await fixtureCase(name, T);

        const f32 = LlamaModel.fromCheckpoint(engine, checkpoint);
        const f32Logits = await f32.logits(ids, B, T);
        const f32Nll = await f32.nll(ids, B, T);
        f32.destroy();
        const half = LlamaModel.fromCheckpoint(engine, checkpoint, HALF);
        expect(half.activationFormat).toBe('f16');
        const halfLogits = await half.logits(ids, B, T);
        const halfNll = await half.nll(ids, B, T);
        half.destroy();

        // Every stored activation keeps 11 significant bits (2^-12 relative rounding) on top of the
        // f16 weights' (f16-weights.test.ts: 1.7e-4 of the logit scale). Measured here: 3.8e-4 to
        // 5.3e-4 of the scale (lavapipe); 1e-2 is the promise, as for f16 weights. A wrong element
        // type, half or offset is O(1) of the scale.
        expectClose(halfLogits, wantLogits, { tolerance: 1e-2, what: `${name} T=${T} f16 vs transformers logits` });
        expectClose(halfLogits, f32Logits, { tolerance: 1e-2, what: `${name} T=${T} f16 vs f32 logits` });
        // The loss a perplexity curve is made of: the mean NLL within 1% (measured: under 0.01%).
        const mean = (x: Float32Array) => x.reduce((s, v) => s + v, 0) / x.length;
        expect(Math.abs(mean(halfNll) - mean(f32Nll)) / mean(f32Nll), `${name} T=${T} mean NLL`).toBeLessThan(1e-2);
        expectClose(halfNll, f32Nll, { tolerance: 2e-2, what: `${name} T=${T} f16 vs f32 per-token NLL` });
        let moved = 0;
        for (let i = 0; i < halfLogits.length; i++) moved = Math.max(moved, Math.abs(halfLogits[i] - f32Logits[i]));
        console.log(
          `${name} T=${T}: f16-activation logits vs f32 max abs diff ${moved.toExponential(2)} (scale ${maxAbs(f32Logits).toFixed(3)}); mean NLL ${mean(halfNll).toFixed(5)} vs ${mean(f32Nll).toFixed(5)}`,
        );
        expect(moved).toBeGreaterThan(0);
      });
    }
  }

  it('the attention map from f16 q and k matches the f32 one', async () => {
    const engine = await f16TestEngine();
    const checkpoint = await loadCheckpoint(directorySource(join(FIXTURES, 'llama-rope')));
    const ids = Array.from({ length: 40 }, (_, i) => (i * 7 + 3) % checkpoint.config.vocabSize);
    const f32 = LlamaModel.fromCheckpoint(engine, checkpoint);
    const want = await f32.attentionMap(ids, ids.length, 1, 2);
    f32.destroy();
    const half = LlamaModel.fromCheckpoint(engine, checkpoint, HALF);
    const got = await half.attentionMap(ids, ids.length, 1, 2);
    half.destroy();
    expectClose(got, want, { tolerance: 1e-2, what: 'attention map layer 1 head 2, f16 vs f32' });
  });

  it('halves the activation memory of a forward pass', async () => {
    const engine = await f16TestEngine();
    const checkpoint = await loadCheckpoint(directorySource(join(FIXTURES, 'llama-rope')));
    const T = 64;
    const ids = Array.from({ length: T }, (_, i) => i % checkpoint.config.vocabSize);
    const forwardBytes = async (model: LlamaModel) => {
      const before = engine.bytesAllocated;
      await model.nll(ids, 1, T); // allocates the activations, which the model keeps for the next call
      const bytes = engine.bytesAllocated - before;
      model.destroy();
      return bytes;
    };
    const f32Bytes = await forwardBytes(LlamaModel.fromCheckpoint(engine, checkpoint, { weights: 'f16' }));
    const halfBytes = await forwardBytes(LlamaModel.fromCheckpoint(engine, checkpoint, HALF));
    console.log(`fixture activations at T=${T}: f32 ${f32Bytes} bytes, f16 ${halfBytes} bytes`);
    // All but the per-row statistics (norm rstd, attention lse, 4 bytes each) halve.
    expect(halfBytes / f32Bytes).toBeGreaterThan(0.5);
    expect(halfBytes / f32Bytes).toBeLessThan(0.56);
  });

  it('an overflow in f16 is an error that says so, not a NaN perplexity', async () => {
    const engine = await f16TestEngine();
    const checkpoint = await loadCheckpoint(directorySource(join(FIXTURES, 'llama-rope')));
    // Embeddings of about 2e5, past binary16's 65504 but nothing to f32.
    const tensors = new Map(checkpoint.tensors);
    tensors.set(
      'model.embed_tokens.weight',
      checkpoint.tensors.get('model.embed_tokens.weight')!.map((v) => v * 1e7),
    );
    const loud = { config: checkpoint.config, tensors };
    const ids = Array.from({ length: 16 }, (_, i) => (i * 5 + 1) % checkpoint.config.vocabSize);
    const f32 = LlamaModel.fromCheckpoint(engine, loud);
    expect((await f32.nll(ids, 1, 16)).every(Number.isFinite)).toBe(true);
    f32.destroy();
    const half = LlamaModel.fromCheckpoint(engine, loud, { activations: 'f16' });
    await expect(half.nll(ids, 1, 16)).rejects.toThrow(
      /^the next-token NLL holds a non-finite value .*an f16 activation overflowed .*load the model with f32 precision$/,
    );
    await expect(half.logits(ids, 1, 16)).rejects.toThrow(/^the logits holds a non-finite value/);
    await expect(half.lastLogits(ids, 1, 16)).rejects.toThrow(/^the last logits holds a non-finite value/);
    half.destroy();
  });

  it('refuses to train, and refuses an adapter without shader-f16, saying why', async () => {
    const checkpoint = await loadCheckpoint(directorySource(join(FIXTURES, 'llama-rope')));
    const half = LlamaModel.fromCheckpoint(await f16TestEngine(), checkpoint, { activations: 'f16' });
    await expect(half.lossAndGradients([1, 2, 3, 4], 1, 4)).rejects.toThrow(
      /training needs f32 weights and activations; .*f16 activations/,
    );
    half.destroy();
    const swiftShader = await testEngine();
    expect(() => LlamaModel.fromCheckpoint(swiftShader, checkpoint, HALF)).toThrow(
      /f16 activations need the adapter feature shader-f16, which .*SwiftShader.* does not have/,
    );
  });
});
