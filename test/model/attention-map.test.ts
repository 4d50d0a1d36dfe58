// LlamaModel.attentionMap against a float64 CPU forward of the fixture checkpoint: the CPU forward
// is first checked against Hugging Face's own logits (expected.safetensors), then its q and k at
// the chosen layer give the reference attention pattern. Covers RoPE, RoPE dropped, and beta.

import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../../src/model/checkpoint.ts';
import { LlamaModel } from '../../src/model/model.ts';
import { directorySource } from '../../src/model/source-node.ts';
import { expectClose } from '../helpers/compare.ts';
import { FIXTURES, warnIfNoFixtures, fixtureExpected } from '../helpers/fixtures.ts';
import { describeWithFixtures } from '../helpers/describe-fixtures.ts';
import { testEngine } from '../helpers/gpu.ts';

warnIfNoFixtures('the attention map against a CPU forward of the fixture model');

/** y[R, out] = x[R, in] · w[out, in]^T (HF nn.Linear without bias), in float64. */
function linear(x: Float64Array, w: Float32Array, R: number, inDim: number, outDim: number): Float64Array {
  const y = new Float64Array(R * outDim);
  for (let r = 0; r < R; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = 0;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * w[o * inDim + i];
      y[r * outDim + o] = s;
    }
  }
  return y;
}

function rmsnorm(x: Float64Array, w: Float32Array, R: number, C: number, eps: number): Float64Array {
  const y = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[r * C + c] ** 2;
    const rstd = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) y[r * C + c] = x[r * C + c] * rstd * w[c];
  }
  return y;
}

/** HF apply_rotary_pos_emb with rotate_half (dim i pairs with i + D/2), default RoPE, in place. */
function rope(x: Float64Array, T: number, heads: number, D: number, theta: number): void {
  const half = D / 2;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * D;
      for (let i = 0; i < half; i++) {
        const angle = t * theta ** (-(2 * i) / D);
        const [c, s] = [Math.cos(angle), Math.sin(angle)];
        const [x1, x2] = [x[base + i], x[base + i + half]];
        x[base + i] = x1 * c - x2 * s;
        x[base + i + half] = x2 * c + x1 * s;
      }
    }
  }
}

/** Causal softmax attention pattern of one query head: [T, T]. */
function pattern(q: Float64Array, k: Float64Array, T: number, H: number, KVH: number, D: number, h: number, qkScale: number): Float64Array {
  const kvh = Math.floor(h / (H / KVH));
  const p = new Float64Array(T * T);
  for (let t = 0; t < T; t++) {
    const logits: number[] = [];
    for (let j = 0; j <= t; j++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[t * H * D + h * D + d] * k[j * KVH * D + kvh * D + d];
      logits.push(qkScale * dot);
    }
    const max = Math.max(...logits);
    const sum = logits.reduce((a, l) => a + Math.exp(l - max), 0);
    for (let j = 0; j <= t; j++) p[t * T + j] = Math.exp(logits[j] - max) / sum;
  }
  return p;
}

/**
 * A float64 forward of one sequence; returns each layer's q and k as they enter attention, and the
 * logits [T, V]. Tied embeddings, no QK-norm (the fixture's architecture).
 */
function cpuForward(ck: Checkpoint, ids: number[], rotate: boolean, beta: number) {
  const {
    hiddenSize: C,
    numHeads: H,
    numKvHeads: KVH,
    headDim: D,
    intermediateSize: I,
    numLayers,
    rmsNormEps: eps,
    ropeTheta,
    vocabSize: V,
  } = ck.config;
  const T = ids.length;
  const w = (name: string) => ck.tensors.get(name)!;
  const embed = w('model.embed_tokens.weight');
  const x = new Float64Array(T * C);
  ids.forEach((id, t) => {
    for (let c = 0; c < C; c++) x[t * C + c] = embed[id * C + c];
  });
  const qk: { q: Float64Array; k: Float64Array }[] = [];
  const scale = beta / Math.sqrt(D);
  for (let l = 0; l < numLayers; l++) {
    const p = `model.layers.${l}.`;
    const n1 = rmsnorm(x, w(`${p}input_layernorm.weight`), T, C, eps);
    const q = linear(n1, w(`${p}self_attn.q_proj.weight`), T, C, H * D);
    const k = linear(n1, w(`${p}self_attn.k_proj.weight`), T, C, KVH * D);
    const v = linear(n1, w(`${p}self_attn.v_proj.weight`), T, C, KVH * D);
    if (rotate) {
      rope(q, T, H, D, ropeTheta);
      rope(k, T, KVH, D, ropeTheta);
    }
    qk.push({ q, k });
    const att = new Float64Array(T * H * D);
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / KVH));
      const pr = pattern(q, k, T, H, KVH, D, h, scale);
      for (let t = 0; t < T; t++) {
        for (let j = 0; j <= t; j++) for (let d = 0; d < D; d++) att[t * H * D + h * D + d] += pr[t * T + j] * v[j * KVH * D + kvh * D + d];
      }
    }
    const o = linear(att, w(`${p}self_attn.o_proj.weight`), T, H * D, C);
    for (let i = 0; i < x.length; i++) x[i] += o[i];
    const n2 = rmsnorm(x, w(`${p}post_attention_layernorm.weight`), T, C, eps);
    const gate = linear(n2, w(`${p}mlp.gate_proj.weight`), T, C, I);
    const up = linear(n2, w(`${p}mlp.up_proj.weight`), T, C, I);
    const hidden = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
    const down = linear(hidden, w(`${p}mlp.down_proj.weight`), T, I, C);
    for (let i = 0; i < x.length; i++) x[i] += down[i];
  }
  const logits = linear(rmsnorm(x, w('model.norm.weight'), T, C, eps), embed, T, C, V);
  return { qk, logits };
}

describeWithFixtures('LlamaModel.attentionMap', () => {
  const dir = join(FIXTURES, 'llama-rope');
  const T = 19; // not a multiple of any workgroup or tile
  const load = async () => {
    const checkpoint = await loadCheckpoint(directorySource(dir));
    const expected = fixtureExpected(dir);
    const ids = Array.from(expected.getI32('T48.input_ids').subarray(0, T));
    return { checkpoint, expected, ids };
  };

  it('the CPU reference forward reproduces transformers’ logits (so its q and k are the real ones)', async () => {
    const { checkpoint, expected, ids } = await load();
    const V = checkpoint.config.vocabSize;
    // Causal: the first T positions of the T=48 run are the logits of this T-token prefix.
    const want = expected.getF32('T48.logits').subarray(0, T * V);
    const { logits } = cpuForward(checkpoint, ids, true, 1);
    // float64 vs transformers' float64 (stored as f32): the fixture README's 3e-6.
    expectClose(logits, want, { tolerance: 1e-5, what: `CPU forward logits [${T}, ${V}]` });
  });

  const cases = [
    { name: 'RoPE', positions: undefined, rotate: true, beta: 1, layer: 1, head: 3 },
    { name: 'RoPE, layer 0 head 0', positions: undefined, rotate: true, beta: 1, layer: 0, head: 0 },
    { name: 'RoPE dropped, beta 1.6', positions: { kind: 'none' } as const, rotate: false, beta: 1.6, layer: 1, head: 2 },
  ];
  for (const c of cases) {
    it(`matches the CPU pattern: ${c.name}`, async () => {
      const engine = await testEngine();
      const { checkpoint, ids } = await load();
      const { numHeads: H, numKvHeads: KVH, headDim: D } = checkpoint.config;
      const model = LlamaModel.fromCheckpoint(engine, checkpoint);
      try {
        const got = await model.attentionMap(ids, T, c.layer, c.head, { positions: c.positions, beta: c.beta });
        expect(got.length).toBe(T * T);
        const { q, k } = cpuForward(checkpoint, ids, c.rotate, c.beta).qk[c.layer];
        const want = pattern(q, k, T, H, KVH, D, c.head, c.beta / Math.sqrt(D));
        // 1e-4 absolute on probabilities (at most 1): the f32 forward lands ~1e-5 from float64 in
        // the logits (README), and the q·k of this fixture are O(10); a wrong layer, head, kv head,
        // rotation or beta moves whole rows by O(0.1).
        expectClose(got, want, { tolerance: 1e-4, minScale: 1, what: `${c.name} layer ${c.layer} head ${c.head}` });
        for (let t = 0; t < T; t++) {
          let sum = 0;
          for (let j = 0; j < T; j++) {
            if (j > t) expect(got[t * T + j], `row ${t} key ${j} is past the diagonal`).toBe(0);
            sum += got[t * T + j];
          }
          expect(Math.abs(sum - 1), `row ${t} sums to ${sum}`).toBeLessThan(1e-5);
        }
      } finally {
        model.destroy();
      }
    });
  }

  it('changes visibly when RoPE is dropped, and rejects a layer or head out of range', async () => {
    const engine = await testEngine();
    const { checkpoint, ids } = await load();
    const model = LlamaModel.fromCheckpoint(engine, checkpoint);
    try {
      const withRope = await model.attentionMap(ids, T, 1, 1);
      const without = await model.attentionMap(ids, T, 1, 1, { positions: { kind: 'none' } });
      let diff = 0;
      for (let i = 0; i < withRope.length; i++) diff = Math.max(diff, Math.abs(withRope[i] - without[i]));
      expect(diff).toBeGreaterThan(0.05);
      await expect(model.attentionMap(ids, T, 2, 0)).rejects.toThrow(/layer 2 is not one of 0..1/);
      await expect(model.attentionMap(ids, T, 0, 4)).rejects.toThrow(/head 4 is not one of 0..3/);
    } finally {
      model.destroy();
    }
  });
});
