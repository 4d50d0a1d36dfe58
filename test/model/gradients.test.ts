// The backward pass against Hugging Face transformers: the gradient of the mean next-token NLL
// with respect to every tensor of the fixture checkpoints, and the model's loss/gradient pair
// against finite differences of its own loss on a tiny random model with QK-norm and an untied head.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/random.ts';
import { loadCheckpoint } from '../../src/model/checkpoint.ts';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { LlamaModel } from '../../src/model/model.ts';
import { directorySource } from '../../src/model/source-node.ts';
import { maxAbs } from '../helpers/compare.ts';
import { FIXTURE_CASES, FIXTURES, warnIfNoFixtures, fixtureExpected } from '../helpers/fixtures.ts';
import { describeWithFixtures } from '../helpers/describe-fixtures.ts';
import { testEngine } from '../helpers/gpu.ts';

warnIfNoFixtures('the gradient comparison with Hugging Face transformers');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describeWithFixtures('model gradients vs transformers fixtures', () => {
  for (const name of FIXTURE_CASES) {
    it(`${name} T=48: loss and every parameter gradient`, async () => {
      const engine = await testEngine();
      const dir = join(FIXTURES, name);
      const model = LlamaModel.fromCheckpoint(engine, await loadCheckpoint(directorySource(dir)));
      const expected = fixtureExpected(dir);
      const T = 48;
      const ids = expected.getI32(`T${T}.input_ids`);
      const B = ids.length / T;
      const loss = await model.lossAndGradients(ids, B, T);
      const nll = expected.getF32(`T${T}.nll`);
      const wantLoss = nll.reduce((a, b) => a + b, 0) / nll.length;
      expect(Math.abs(loss - wantLoss), 'loss').toBeLessThan(1e-4);
      const gradNames = [...expected.tensors.keys()].filter((k) => k.startsWith(`T${T}.grad.`));
      expect(gradNames.length).toBe(model.weights.size);
      for (const key of gradNames) {
        const tensorName = key.slice(`T${T}.grad.`.length);
        const grad = model.grads.get(tensorName);
        expect(grad, tensorName).toBeDefined();
        const got = await engine.read(grad!);
        const want = expected.getF32(key);
        // The bound: within 1e-3 of each tensor's largest gradient (float32 against float64).
        const bound = 1e-3 * maxAbs(want);
        expect(maxAbsDiff(got, want), `${tensorName}: max abs diff vs ${bound}`).toBeLessThanOrEqual(bound);
      }
      model.destroy();
    });
  }
});

describe('model gradients vs finite differences', () => {
  // QK-norm, an untied head, 3 query heads over 1 kv head, head dim 16 and RoPE: the paths the
  // fixtures do not cover. Each tensor is checked through the directional derivative along a
  // random unit direction: one pair of float32 losses per tensor instead of one per element.
  const raw = {
    model_type: 'llama_drope',
    architectures: ['DroPELlamaForCausalLM'],
    attention_type: 'qk_norm_nope',
    vocab_size: 23,
    hidden_size: 48,
    intermediate_size: 40,
    num_hidden_layers: 2,
    num_attention_heads: 3,
    num_key_value_heads: 1,
    max_position_embeddings: 16,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
    hidden_act: 'silu',
    initializer_range: 0.2,
  };
  for (const pos of ['none', 'rope'] as const) {
    it(`qk_norm_nope, untied head, GQA 3:1, positions ${pos}`, async () => {
      const engine = await testEngine();
      const checkpoint = initializeCheckpoint(raw, 3);
      const rng = new Rng(11);
      // Norm gains away from 1 so their gradients are not special.
      for (const [name, data] of checkpoint.tensors)
        if (name.endsWith('norm.weight')) for (let i = 0; i < data.length; i++) data[i] = 1 + 0.3 * rng.normal();
      const model = LlamaModel.fromCheckpoint(engine, checkpoint);
      const [B, T] = [2, 7];
      const ids = Array.from({ length: B * T }, () => rng.int(0, raw.vocab_size - 1));
      const positions = pos === 'none' ? { kind: 'none' as const } : { kind: 'rope' as const };
      await model.lossAndGradients(ids, B, T, { positions, beta: 1.3 });
      const grads = new Map<string, Float32Array>();
      for (const [name, g] of model.grads) grads.set(name, await engine.read(g));
      const h = 1e-2;
      for (const [name, weight] of model.weights) {
        const original = checkpoint.tensors.get(name)!;
        const direction = rng.normals(original.length);
        const norm = Math.hypot(...direction);
        direction.forEach((d, i) => (direction[i] = d / norm));
        let analytic = 0;
        const g = grads.get(name)!;
        for (let i = 0; i < g.length; i++) analytic += g[i] * direction[i];
        const lossAt = async (sign: number) => {
          engine.write(
            weight,
            original.map((w, i) => w + sign * h * direction[i]),
          );
          const nll = await model.nll(ids, B, T, { positions, beta: 1.3 });
          return nll.reduce((a, b) => a + b, 0) / nll.length;
        };
        const numeric = ((await lossAt(1)) - (await lossAt(-1))) / (2 * h);
        engine.write(weight, original);
        // Float32 losses near 3 differ by ~1e-6 in rounding, / 2h = 5e-5; O(h²) curvature adds less.
        expect(Math.abs(numeric - analytic), `${name}: numeric ${numeric} vs analytic ${analytic}`).toBeLessThan(
          2e-4 + 2e-2 * Math.abs(analytic),
        );
      }
      model.destroy();
    });
  }
});
