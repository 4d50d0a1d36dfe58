// KV-cached decoding (LlamaModel.prefill / decode) against the full forward: decoding a sequence
// token by token gives, at every step, the logits the full forward over the whole sequence gives
// that position, on both fixtures (RoPE and NoPE), at T = 48 and 160, for every position mode, with
// an attention window, with QK-norm, and across a change of mode or beta mid-sequence.

import { expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { type Checkpoint } from '../../src/model/checkpoint.ts';
import { parseConfig } from '../../src/model/config.ts';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { LlamaModel, type ForwardOptions } from '../../src/model/model.ts';
import { parsePositionMode, tablesDependOnLength } from '../../src/model/positions.ts';
import { expectClose } from '../helpers/compare.ts';
import { FIXTURE_CASES, FIXTURE_LENGTHS, fixtureCase, warnIfNoFixtures } from '../helpers/fixtures.ts';
import { describeWithFixtures } from '../helpers/describe-fixtures.ts';
import { f16TestEngine, testEngine } from '../helpers/gpu.ts';
import { TINY_CONFIG } from '../helpers/tiny-config.ts';

warnIfNoFixtures('KV-cached decoding against the full forward');

const MODES = ['rope', 'none', 'pi:2', 'ntk:2', 'yarn:4', 'dynamic:2'];
/** Tokens the prefill takes before decoding one at a time. */
const PROMPT = 5;
// Decoding sums attention over chunks of 64 keys and merges them; the full forward sums in tiles in
// another order. f32 rounding then moves logits by ~1e-7 of their scale (observed 0.8e-7 to 2.6e-7);
// 2e-5 leaves a wide margin while a wrong position, rotation or mask moves them by 1e-3 and more.
const TOLERANCE = 2e-5;

/**
 * Decodes ids [T] from a prefill of PROMPT tokens, one token per step, with the options of each
 * step (`optionsAt(t)` for the token at position t), and returns every position's logits [T, V]
 * (rows before PROMPT - 1 are left 0: the prefill returns its last row only).
 */
async function decodeAll(model: LlamaModel, ids: ArrayLike<number>, optionsAt: (t: number) => ForwardOptions): Promise<Float32Array> {
  const V = model.config.vocabSize;
  const T = ids.length;
  const logits = new Float32Array(T * V);
  const cache = model.createKvCache(16); // grows on the way
  logits.set(await model.prefill(cache, Array.from(ids).slice(0, PROMPT), optionsAt(PROMPT - 1)), (PROMPT - 1) * V);
  for (let t = PROMPT; t < T; t++) logits.set(await model.decode(cache, [ids[t]], optionsAt(t)), t * V);
  expect(cache.length).toBe(T);
  cache.destroy();
  return logits;
}

/** Compares rows `rows` of two [T, V] logit arrays. */
function expectRows(actual: Float32Array, expected: Float32Array, V: number, rows: number[], what: string): void {
  for (const t of rows) {
    expectClose(actual.subarray(t * V, (t + 1) * V), expected.subarray(t * V, (t + 1) * V), {
      tolerance: TOLERANCE,
      what: `${what} position ${t}`,
    });
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function fixtureModel(engine: Engine, name: string, T: number, layers?: number) {
  const fixture = await fixtureCase(name, T);
  const checkpoint: Checkpoint = layers
    ? { config: parseConfig({ ...fixture.checkpoint.config.raw, num_hidden_layers: layers }), tensors: fixture.checkpoint.tensors }
    : fixture.checkpoint;
  return { model: LlamaModel.fromCheckpoint(engine, checkpoint), ids: Array.from(fixture.ids.subarray(0, T)) };
}

describeWithFixtures('KV-cached decoding equals the full forward', () => {
  for (const name of FIXTURE_CASES) {
    for (const T of FIXTURE_LENGTHS) {
      it(`${name} T=${T}, every position mode`, async () => {
        const engine = await testEngine();
        const { model, ids } = await fixtureModel(engine, name, T);
        const V = model.config.vocabSize;
        for (const text of MODES) {
          const options = { positions: parsePositionMode(text), beta: 1.2 };
          const got = await decodeAll(model, ids, () => options);
          // Dynamic NTK past max_position_embeddings M rebuilds its tables from the length: a step
          // at length L > M uses the tables of L, as the full forward over L tokens does, but the
          // deeper layers' cached keys were computed at the lengths before. Up to M the tables are
          // RoPE's; past M the one-layer test below checks each step.
          const M = model.config.maxPositionEmbeddings;
          const known = tablesDependOnLength(options.positions, M, T) ? M : T;
          const want = await model.logits(ids.slice(0, known), 1, known, options);
          expectRows(got, want, V, range(PROMPT - 1, known), `${name} T=${T} ${text}`);
        }
        model.destroy();
      });
    }
  }

  it('with an attention window, shorter than the prompt and than a chunk of keys', async () => {
    const engine = await testEngine();
    const T = 160;
    for (const name of FIXTURE_CASES) {
      const { model, ids } = await fixtureModel(engine, name, T);
      for (const window of [3, 70]) {
        const options = { window, beta: 0.9 };
        const want = await model.logits(ids, 1, T, options);
        expectRows(
          await decodeAll(model, ids, () => options),
          want,
          model.config.vocabSize,
          range(PROMPT - 1, T),
          `${name} window=${window}`,
        );
      }
      model.destroy();
    }
  });

  it('with QK-norm (qk_norm_nope), several tokens per step, and the cache grown on the way', async () => {
    const engine = await testEngine();
    const checkpoint = initializeCheckpoint({ ...TINY_CONFIG, attention_type: 'qk_norm_nope' }, 3);
    const model = LlamaModel.fromCheckpoint(engine, checkpoint);
    const V = model.config.vocabSize;
    const T = 48;
    const ids = Array.from({ length: T }, (_, i) => (i * 37 + 11) % V);
    const want = await model.logits(ids, 1, T);
    const cache = model.createKvCache(4);
    const got = new Float32Array(T * V);
    got.set(await model.prefill(cache, ids.slice(0, 7)), 6 * V);
    for (let t = 7; t < T; t += 5) got.set(await model.decode(cache, ids.slice(t, t + 5)), t * V);
    expect(cache.capacity).toBeGreaterThanOrEqual(T);
    expectRows(got, want, V, range(6, T), 'qk_norm_nope');
    cache.destroy();
    model.destroy();
  });

  // Across a change of mode (or beta) the cache's keys and values of the earlier tokens stay as they
  // were computed; only their rotation (and the logit scale) follows the new setting. In one layer the keys and values are
  // projections of the embeddings alone, so a decoding that switches mode at step k must give,
  // after k, exactly the full forward in the new mode: what a cache of rotated keys would not.
  // (With more layers the later layers' keys depend on the mode each token was decoded in, so no
  // single full forward is the reference there; the steps before the switch are checked above.)
  // Dynamic NTK past M changes its tables at every step, so each step equals the full forward over
  // its own length.
  for (const name of FIXTURE_CASES) {
    for (const T of FIXTURE_LENGTHS) {
      it(`${name} T=${T}, one layer: a change of mode or beta mid-sequence takes effect on the next token`, async () => {
        const engine = await testEngine();
        const { model, ids } = await fixtureModel(engine, name, T, 1);
        const V = model.config.vocabSize;
        const switchAt = Math.floor(T / 2);
        for (const [before, after] of [
          ['rope', 'none'],
          ['none', 'rope'],
          ['rope', 'yarn:4'],
          ['rope', 'rope beta=1.6'],
        ]) {
          const optionsOf = (text: string) => {
            const [mode, beta] = text.split(' beta=');
            return { positions: parsePositionMode(mode), beta: beta === undefined ? 1 : Number(beta) };
          };
          const optionsAt = (t: number) => optionsOf(t < switchAt ? before : after);
          const got = await decodeAll(model, ids, optionsAt);
          const wantBefore = await model.logits(ids, 1, T, optionsAt(0));
          const wantAfter = await model.logits(ids, 1, T, optionsAt(T));
          expectRows(got, wantBefore, V, range(PROMPT - 1, switchAt), `${name} ${before} before the switch`);
          expectRows(got, wantAfter, V, range(switchAt, T), `${name} ${after} after the switch`);
        }
        const dynamic = { positions: parsePositionMode('dynamic:2') };
        const got = await decodeAll(model, ids, () => dynamic);
        for (const L of [...new Set([48, 65, 100, T])].filter((L) => L <= T)) {
          const want = await model.lastLogits(ids.slice(0, L), 1, L, dynamic);
          expectClose(got.subarray((L - 1) * V, L * V), want, { tolerance: TOLERANCE, what: `${name} dynamic:2 at length ${L}` });
        }
        model.destroy();
      });
    }
  }

  it('with f16 activations (lavapipe): within f16 rounding of the f16 full forward', async () => {
    const engine = await f16TestEngine();
    const T = 48;
    const fixture = await fixtureCase('llama-rope', T);
    const model = LlamaModel.fromCheckpoint(engine, fixture.checkpoint, { weights: 'f16', activations: 'f16' });
    const ids = Array.from(fixture.ids.subarray(0, T));
    for (const text of ['rope', 'none']) {
      const options = { positions: parsePositionMode(text) };
      const want = await model.logits(ids, 1, T, options);
      // The cache holds f16 keys and values as the full forward's attention reads them, but the
      // full forward also rounds the rotated q and k to f16, which decoding keeps in f32: a
      // difference of f16 rounding (2^-11 relative) in the logits (observed ~1e-3 of their scale);
      // 1e-2 is the promise of f16 activations (test/model/f16-activations.test.ts).
      const got = await decodeAll(model, ids, () => options);
      for (const t of range(PROMPT - 1, T)) {
        expectClose(
          got.subarray(t * model.config.vocabSize, (t + 1) * model.config.vocabSize),
          want.subarray(t * model.config.vocabSize, (t + 1) * model.config.vocabSize),
          {
            tolerance: 1e-2,
            what: `f16 ${text} position ${t}`,
          },
        );
      }
    }
    model.destroy();
  });

  it('rejects a cache of another model, and decode before prefill', async () => {
    const engine = await testEngine();
    const { model } = await fixtureModel(engine, 'llama-rope', 48);
    const other = LlamaModel.fromCheckpoint(engine, initializeCheckpoint(TINY_CONFIG, 1));
    const cache = other.createKvCache(8);
    await expect(model.prefill(cache, [1, 2, 3])).rejects.toThrow(/belongs to another model/);
    const own = model.createKvCache(8);
    await expect(model.decode(own, [1])).rejects.toThrow(/cache is empty; start the sequence with prefill/);
    cache.destroy();
    own.destroy();
    other.destroy();
    model.destroy();
  });
});
