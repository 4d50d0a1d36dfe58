// Float64 CPU references of the attention forward kernels (src/engine/ops/attention.ts:
// attentionForward, attentionNaive, attentionProbabilities): Hugging Face's eager causal attention,
// LlamaAttention's eager_attention_forward before o_proj, with grouped-query heads (repeat_kv) and
// DroPE's logit scale beta folded into the softmax scale, and an optional attention window (query t
// sees keys t - window + 1 .. t). Written from the definition (logits, then
// softmax with the max subtracted, then the weighted sum of v), independent of the WGSL: no online
// softmax, no tiles, no exp2.
//
// Pure TypeScript (no vitest, node:*, or engine imports): e2e/kernels/table.ts loads this module in
// the browser as well as in Node.
//
// Dimensions: B sequences, T positions per sequence, H query heads, KVH key/value heads (H is a
// multiple of KVH; query head h reads kv head floor(h / (H / KVH)), HF's repeat_kv), D head dim.
// q [B*T, H*D], k and v [B*T, KVH*D], row-major.

import { ropeReference } from './rope.ts';

/** The sizes of one attention call (structurally the engine's AttentionShape), and its window. */
export interface AttentionReferenceShape {
  B: number;
  T: number;
  H: number;
  KVH: number;
  D: number;
  /** Keys each query sees, its own included; absent: all earlier keys. */
  window?: number;
}

/** The first key query t sees. */
export function firstVisibleKey(t: number, window: number | undefined): number {
  return window === undefined ? 0 : Math.max(0, t - window + 1);
}

/**
 * The scaled logits of query t of head h (sequence b) against the keys j it sees (first..t),
 * written to logits[first..t] in float64 (logits_j = qkScale * q[b, t, h]·k[b, j, kvh]); returns
 * their max.
 */
function causalLogits(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  shape: AttentionReferenceShape,
  qkScale: number,
  b: number,
  h: number,
  t: number,
  logits: Float64Array,
): number {
  const { T, H, KVH, D } = shape;
  const kvh = Math.floor(h / (H / KVH));
  const qBase = (b * T + t) * H * D + h * D;
  let max = -Infinity;
  for (let j = firstVisibleKey(t, shape.window); j <= t; j++) {
    const kBase = (b * T + j) * KVH * D + kvh * D;
    let dot = 0;
    for (let d = 0; d < D; d++) dot += q[qBase + d] * k[kBase + d];
    logits[j] = qkScale * dot;
    max = Math.max(max, logits[j]);
  }
  return max;
}

/**
 * Causal attention in float64. qkScale = beta * scale, scale being 1/sqrt(D) unless the caller
 * overrides it. Per query t of head h: P = softmax over the keys j it sees of qkScale * q·k_j (max
 * subtracted), out [B*T, H*D] = P·v, lse [B, H, T] = ln(sum_j exp(logit_j)) (the max added back).
 */
export function attentionReference(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  shape: AttentionReferenceShape,
  qkScale: number,
): { out: Float64Array; lse: Float64Array } {
  const { B, T, H, KVH, D } = shape;
  const out = new Float64Array(B * T * H * D);
  const lse = new Float64Array(B * H * T);
  const logits = new Float64Array(T);
  const acc = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / KVH));
      for (let t = 0; t < T; t++) {
        const qBase = (b * T + t) * H * D + h * D;
        const max = causalLogits(q, k, shape, qkScale, b, h, t, logits);
        let sum = 0;
        acc.fill(0);
        for (let j = firstVisibleKey(t, shape.window); j <= t; j++) {
          const w = Math.exp(logits[j] - max);
          sum += w;
          const vBase = (b * T + j) * KVH * D + kvh * D;
          for (let d = 0; d < D; d++) acc[d] += w * v[vBase + d];
        }
        for (let d = 0; d < D; d++) out[qBase + d] = acc[d] / sum;
        lse[(b * H + h) * T + t] = max + Math.log(sum);
      }
    }
  }
  return { out, lse };
}

/**
 * The attention pattern in float64 (HF's attn_weights after softmax, output_attentions=True):
 * probs [B, H, T, T], probs[b, h, t, j] = softmax over the keys t sees of qkScale * q[t]·k[j]
 * (max subtracted), exactly 0 for the others (the causal mask and the window).
 */
export function attentionProbabilitiesReference(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  shape: AttentionReferenceShape,
  qkScale: number,
): Float64Array {
  const { B, T, H } = shape;
  const probs = new Float64Array(B * H * T * T);
  const logits = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const max = causalLogits(q, k, shape, qkScale, b, h, t, logits);
        const first = firstVisibleKey(t, shape.window);
        let sum = 0;
        for (let j = first; j <= t; j++) sum += Math.exp(logits[j] - max);
        const row = ((b * H + h) * T + t) * T;
        for (let j = first; j <= t; j++) probs[row + j] = Math.exp(logits[j] - max) / sum;
      }
    }
  }
  return probs;
}

/** N new rows at positions offset .. offset+N-1 of one sequence (structurally the engine's DecodeShape), and the window. */
export interface AttentionDecodeReferenceShape {
  N: number;
  offset: number;
  H: number;
  KVH: number;
  D: number;
  window?: number;
}

/**
 * KV-cached attention (the engine's attentionDecode) from its definition: the last N rows of causal
 * attention over the whole sequence of L = offset + N tokens, with the queries (q [N, H*D], of
 * positions offset..L-1) and the cached keys (rows 0..L-1 of kCache [>= L, KVH*D], unrotated)
 * rotated first by HF's apply_rotary_pos_emb with cos/sin [>= L, D/2], or not at all (null:
 * RoPE dropped). Returns out [N, H*D] in float64.
 */
export function attentionDecodeReference(
  q: ArrayLike<number>,
  kCache: ArrayLike<number>,
  vCache: ArrayLike<number>,
  tables: { cos: ArrayLike<number>; sin: ArrayLike<number> } | null,
  shape: AttentionDecodeReferenceShape,
  qkScale: number,
): Float64Array {
  const { N, offset, H, KVH, D, window } = shape;
  const L = offset + N;
  let qAll: ArrayLike<number> = Float64Array.from({ length: L * H * D }, (_, i) => (i < offset * H * D ? 0 : q[i - offset * H * D]));
  let k: ArrayLike<number> = Array.prototype.slice.call(kCache, 0, L * KVH * D) as number[];
  if (tables) {
    const rotate = (x: ArrayLike<number>, heads: number) =>
      ropeReference(x, tables.cos, tables.sin, { rows: L, T: L, heads, headDim: D, positionOffset: 0 });
    qAll = rotate(qAll, H);
    k = rotate(k, KVH);
  }
  const v = Array.prototype.slice.call(vCache, 0, L * KVH * D) as number[];
  const { out } = attentionReference(qAll, k, v, { B: 1, T: L, H, KVH, D, window }, qkScale);
  return out.slice(offset * H * D);
}
