// Causal grouped-query attention (shaders/attention.wgsl, attention_naive.wgsl,
// attention_probabilities.wgsl, attention_decode.wgsl): HF LlamaAttention's softmax(q·k) v before
// o_proj, with DroPE's logit scale beta and an optional attention window.

import type { Engine } from '../engine.ts';
import { activationPrecision, ceilDiv, expectF32 } from '../kernel.ts';
import { numel, shapeString, type Tensor } from '../tensor.ts';
import { f32, u32, type Scalar, type Uniforms } from '../uniforms.ts';

/** B batch, T sequence length, H query heads, KVH key/value heads, D head dim. */
export interface AttentionShape {
  B: number;
  T: number;
  H: number;
  KVH: number;
  D: number;
}

export interface AttentionOptions {
  /** Multiplies q·k; defaults to 1/sqrt(D), HF LlamaAttention's `scaling`. */
  scale?: number;
  /** DroPE's logit scale, multiplied into scale; defaults to 1. */
  beta?: number;
  /**
   * Keys each query sees, its own included: query t attends to keys t - window + 1 .. t (an
   * attention window; "RoPE cropped to the last C_train tokens" is RoPE with window C_train).
   * Absent: plain causal attention over all earlier keys.
   */
  window?: number;
}

export interface AttentionForwardOptions extends AttentionOptions {
  /** Tiles of `attention.forward`; defaults to `forwardTiles(D, adapter is software)`. For tests and benchmarks. */
  tiles?: ForwardTiles;
}

export const MIN_HEAD_DIM = 16;
export const MAX_HEAD_DIM = 128;

/** WebGPU's guaranteed workgroup limits, which SwiftShader also has. */
const MAX_WORKGROUP_BYTES = 32 * 1024;
const MAX_INVOCATIONS = 256;

/** Override constants of `attention.forward` (see the comments there). */
export interface ForwardTiles {
  /** vec4s of the head dim per invocation (divides D/4, at most 8). */
  CH: number;
  /** Invocations per head-dim slice. */
  NQ: number;
  /** Queries per invocation. */
  QB: number;
  /** Keys per K/V tile. */
  BK: number;
}

/**
 * Tiles for head dim D. On a software adapter (SwiftShader, tuned with src/cli/bench/attention.ts):
 * four queries per invocation let one key load serve four queries (QB = 1, 2, 4 ran 0.87, 0.54,
 * 0.37 CPU-seconds at T = 1024, D = 32), and 64 queries per workgroup leave enough workgroups for
 * two cores at T = 128; other NQ and BK measured the same within noise. On a GPU (not tuned here)
 * one query per invocation and more invocations per workgroup suit its thousands of threads and
 * per-thread register budget better.
 */
export function forwardTiles(D: number, software = true): ForwardTiles {
  if (D % 4 !== 0) throw new Error(`attention: head dim D=${D} must be a multiple of 4`);
  const D4 = D / 4;
  let CH = Math.min(8, D4);
  while (D4 % CH !== 0) CH--;
  const G = D4 / CH;
  const QB = software ? 4 : 1;
  // With slices, a multiple of 4 invocations per slice keeps each SIMD group of 4 lanes (see the
  // shader) on one slice, reading one key address; and at most 256 invocations in all.
  const NQ = Math.min((software ? 16 : 64) / (G === 1 ? 1 : G === 2 ? 2 : 4), 4 * Math.floor(64 / G));
  let BK = G === 1 ? 32 : 16;
  while (BK > 2 && workgroupBytes(D, { CH, NQ, QB, BK }) > MAX_WORKGROUP_BYTES) BK /= 2;
  return { CH, NQ, QB, BK };
}

/** Workgroup memory of `attention.forward`: the K and V tiles, and the partial dot products when G > 1. */
function workgroupBytes(D: number, { CH, NQ, QB, BK }: ForwardTiles): number {
  const G = D / 4 / CH;
  return 4 * (2 * BK * D + (G > 1 ? G * BK * NQ * QB : 1));
}

const NAIVE_WG = 64;

function check(what: string, role: string, t: Tensor, elements: number, want: string): void {
  const name = role === t.label ? role : `${role} (${t.label})`;
  if (numel(t.shape) !== elements) {
    throw new Error(`${what}: ${name} ${shapeString(t.shape)} should be ${want} (${elements} values)`);
  }
}

/** Checks shapes and options; returns the uniforms every entry point shares. */
function validate(what: string, shape: AttentionShape, out: Tensor, q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Uniforms {
  const uniforms = validateQK(what, shape, q, k, options);
  const { B, T, H, KVH, D } = shape;
  check(what, 'v', v, B * T * KVH * D, `[B*T, KVH*D] = [${B * T}, ${KVH * D}]`);
  check(what, 'out', out, B * T * H * D, `[B*T, H*D] = [${B * T}, ${H * D}]`);
  return uniforms;
}

/** The checks of the shape, q, k, scale and beta (what the logits need); returns the uniforms. */
function validateQK(what: string, shape: AttentionShape, q: Tensor, k: Tensor, options: AttentionOptions): Uniforms {
  const { B, T, H, KVH, D } = shape;
  const { qkScale, window } = validateSizes(what, shape, options);
  check(what, 'q', q, B * T * H * D, `[B*T, H*D] = [${B * T}, ${H * D}]`);
  check(what, 'k', k, B * T * KVH * D, `[B*T, KVH*D] = [${B * T}, ${KVH * D}]`);
  return { B: u32(B), T: u32(T), H: u32(H), KVH: u32(KVH), qk_scale: qkScale, window: u32(Math.min(window, T)) };
}

/**
 * The WINDOWED override of the online-softmax entry points (attention_params.wgsl): 1 when the
 * window leaves some earlier key out, 0 for plain causal attention, whose pipelines then skip the
 * window's tests.
 */
function windowed({ T }: AttentionShape, { window = T }: AttentionOptions): number {
  return window < T ? 1 : 0;
}

/** The checks of the sizes, scale, beta and window; returns the base-2 logit scale and the window (T when absent). */
function validateSizes(what: string, sizes: AttentionShape, options: AttentionOptions): { qkScale: Scalar; window: number } {
  const { B, T, H, KVH, D } = sizes;
  for (const [name, value] of Object.entries({ B, T, H, KVH, D })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${what}: ${name} must be a positive integer, got ${value}`);
  }
  if (H % KVH !== 0) throw new Error(`${what}: KVH=${KVH} key/value heads must divide H=${H} query heads`);
  if (D < MIN_HEAD_DIM || D > MAX_HEAD_DIM || D % 4 !== 0) {
    throw new Error(`${what}: head dim D=${D} must be a multiple of 4 in ${MIN_HEAD_DIM}..${MAX_HEAD_DIM}`);
  }
  const scale = options.scale ?? 1 / Math.sqrt(D);
  const beta = options.beta ?? 1;
  // The kernels work in base 2: exp(x) = exp2(x * log2(e)).
  const qkScale = beta * scale * Math.LOG2E;
  if (!Number.isFinite(qkScale)) throw new Error(`${what}: scale ${scale} and beta ${beta} must be finite`);
  const { window = T } = options;
  if (!Number.isInteger(window) || window < 1) throw new Error(`${what}: window must be a positive integer, got ${window}`);
  return { qkScale: f32(qkScale), window };
}

/**
 * out[B*T, H*D] = causal softmax(beta * scale * q k^T) v per head, with query head h reading kv head
 * floor(h / (H/KVH)); lse[B, H, T] = log-sum-exp of each query's logits, for the backward pass.
 * q [B*T, H*D], k and v [B*T, KVH*D]. One pass over the keys (online softmax), memory linear in T.
 */
export function attentionForward(
  engine: Engine,
  out: Tensor,
  lse: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  shape: AttentionShape,
  options: AttentionForwardOptions = {},
): void {
  const uniforms = validate('attention.forward', shape, out, q, k, v, options);
  const { B, T, H, D } = shape;
  check('attention.forward', 'lse', lse, B * H * T, `[B, H, T] = [${B}, ${H}, ${T}]`);
  expectF32('attention.forward', [lse]);
  const precision = activationPrecision('attention.forward', [out, q, k, v]);
  const tiles = options.tiles ?? forwardTiles(D, engine.adapter.software);
  const { CH, NQ, QB, BK } = tiles;
  const G = D / 4 / CH;
  const fits = Number.isInteger(G) && CH <= 8 && QB >= 1 && QB <= 4 && BK >= 1;
  if (!fits || NQ * G > MAX_INVOCATIONS || workgroupBytes(D, tiles) > MAX_WORKGROUP_BYTES) {
    throw new Error(`attention.forward: tiles ${JSON.stringify(tiles)} do not fit head dim D=${D} and the workgroup limits`);
  }
  engine.run({
    shader: 'attention',
    entryPoint: 'forward',
    precision,
    constants: { HEAD_DIM: D, CH, NQ, QB, BK, WINDOWED: windowed(shape, options) },
    outputs: [out, lse],
    inputs: [q, k, v],
    uniforms,
    workgroups: [B * H * ceilDiv(T, tiles.NQ * tiles.QB)],
  });
}

/**
 * The straightforward baseline of `attentionForward`, same arguments without lse: one invocation
 * per query reading keys from global memory, two passes over the keys.
 */
export function attentionNaive(
  engine: Engine,
  out: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  shape: AttentionShape,
  options: AttentionOptions = {},
): void {
  const uniforms = validate('attention.naive', shape, out, q, k, v, options);
  expectF32('attention.naive', [out, q, k, v]);
  const { B, T, H, D } = shape;
  engine.run({
    shader: 'attention_naive',
    entryPoint: 'naive',
    constants: { HEAD_DIM: D, WG: NAIVE_WG },
    outputs: [out],
    inputs: [q, k, v],
    uniforms,
    workgroups: [ceilDiv(B * H * T, NAIVE_WG)],
  });
}

/**
 * The attention pattern: probs[B, H, T, T] = causal softmax(beta * scale * q k^T) per head, row t
 * the weights query t gives keys 0..t (each row sums to 1), 0 past the diagonal; query head h reads
 * kv head floor(h / (H/KVH)). q [B*T, H*D], k [B*T, KVH*D] as they enter `attentionForward` (after
 * RoPE / QK-norm), same scale and beta, so row t is exactly the mix forward takes of v. Memory is
 * quadratic in T: for inspecting short sequences (the playground's heatmap), not for the forward.
 */
export function attentionProbabilities(
  engine: Engine,
  probs: Tensor,
  q: Tensor,
  k: Tensor,
  shape: AttentionShape,
  options: AttentionOptions = {},
): void {
  const what = 'attention.probabilities';
  const uniforms = validateQK(what, shape, q, k, options);
  const { B, T, H, D } = shape;
  check(what, 'probs', probs, B * H * T * T, `[B, H, T, T] = [${B}, ${H}, ${T}, ${T}]`);
  expectF32(what, [probs]);
  engine.run({
    shader: 'attention_probabilities',
    entryPoint: 'probabilities',
    precision: activationPrecision(what, [q, k]),
    constants: { HEAD_DIM: D, WG: NAIVE_WG },
    outputs: [probs],
    inputs: [q, k],
    uniforms,
    workgroups: [ceilDiv(B * H * T, NAIVE_WG)],
  });
}

export interface AttentionBackwardOptions extends AttentionOptions {
  /** Tiles of `attention.backward_dq` and `backward_dkv`; defaults to `backwardTiles(D, adapter is software)`. For tests and benchmarks. */
  tiles?: ForwardTiles;
}

/**
 * Workgroup memory of the backward kernels, the larger of the two: backward_dkv's q and dO tiles
 * [BK, D] with their lse and delta [BK] (backward_dq stages k and v [BK, D] only), and in both
 * the (q·k, dO·v) partial pairs when G > 1.
 */
function backwardWorkgroupBytes(D: number, { CH, NQ, QB, BK }: ForwardTiles): number {
  const G = D / 4 / CH;
  return 4 * (2 * BK * D + 2 * BK + (G > 1 ? 2 * G * BK * NQ * QB : 2));
}

/**
 * Tiles of the backward kernels: forward's (`backward_dq` is forward's loop with a second dot
 * product; `backward_dkv` its transpose, NQ*QB keys per workgroup and tiles of BK queries), with
 * BK halved while the larger backward workgroup memory does not fit.
 */
export function backwardTiles(D: number, software = true): ForwardTiles {
  const tiles = forwardTiles(D, software);
  while (tiles.BK > 2 && backwardWorkgroupBytes(D, tiles) > MAX_WORKGROUP_BYTES) tiles.BK /= 2;
  return tiles;
}

/**
 * The gradients of `attentionForward` (FlashAttention-2's backward): dq [B*T, H*D], dk and dv
 * [B*T, KVH*D], all overwritten, from dout [B*T, H*D] (the gradient of out), q, k, v as they
 * entered the forward (after RoPE / QK-norm), and out and lse [B, H, T] saved by it; same shape,
 * scale and beta. dk and dv sum over the query heads of each kv head (GQA) in a fixed order: three
 * kernels (delta = dout·out per query; dq per query over its keys; dk, dv per key over the
 * group's heads and later queries) with one writer per value, so the result is deterministic
 * without atomics, and memory stays linear in T (the softmax is recomputed from lse).
 */
export function attentionBackward(
  engine: Engine,
  dq: Tensor,
  dk: Tensor,
  dv: Tensor,
  dout: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  out: Tensor,
  lse: Tensor,
  shape: AttentionShape,
  options: AttentionBackwardOptions = {},
): void {
  const what = 'attention.backward';
  const uniforms = validate(what, shape, out, q, k, v, options);
  const { B, T, H, KVH, D } = shape;
  check(what, 'dout', dout, B * T * H * D, `[B*T, H*D] = [${B * T}, ${H * D}]`);
  check(what, 'lse', lse, B * H * T, `[B, H, T] = [${B}, ${H}, ${T}]`);
  check(what, 'dq', dq, B * T * H * D, `[B*T, H*D] = [${B * T}, ${H * D}]`);
  check(what, 'dk', dk, B * T * KVH * D, `[B*T, KVH*D] = [${B * T}, ${KVH * D}]`);
  check(what, 'dv', dv, B * T * KVH * D, `[B*T, KVH*D] = [${B * T}, ${KVH * D}]`);
  expectF32(what, [dq, dk, dv, dout, q, k, v, out, lse]);
  // Three dispatches (delta, dq, dk and dv) share these tensors: checked across them, before any is recorded.
  const outputs = { dq, dk, dv };
  const inputs = { dout, q, k, v, out, lse };
  for (const [oName, o] of Object.entries(outputs)) {
    for (const [iName, t] of Object.entries({ ...outputs, ...inputs })) {
      if (iName !== oName && t.buffer === o.buffer) throw new Error(`${what}: ${oName} must not alias ${iName}`);
    }
  }
  const tiles = options.tiles ?? backwardTiles(D, engine.adapter.software);
  const { CH, NQ, QB, BK } = tiles;
  const G = D / 4 / CH;
  const fits = Number.isInteger(G) && CH <= 8 && QB >= 1 && QB <= 4 && BK >= 1;
  if (!fits || NQ * G > MAX_INVOCATIONS || backwardWorkgroupBytes(D, tiles) > MAX_WORKGROUP_BYTES) {
    throw new Error(`${what}: tiles ${JSON.stringify(tiles)} do not fit head dim D=${D} and the workgroup limits`);
  }
  const delta = engine.scratch('attention.delta', B * H * T);
  engine.run({
    shader: 'attention',
    entryPoint: 'backward_delta',
    constants: { HEAD_DIM: D, WG: NAIVE_WG },
    outputs: [delta],
    inputs: [dout, out],
    uniforms,
    workgroups: [ceilDiv(B * H * T, NAIVE_WG)],
  });
  const constants = { HEAD_DIM: D, CH, NQ, QB, BK, WINDOWED: windowed(shape, options) };
  const blocks = ceilDiv(T, NQ * QB);
  engine.run({
    shader: 'attention',
    entryPoint: 'backward_dq',
    constants,
    outputs: [dq],
    inputs: [dout, q, k, v, lse, delta],
    uniforms,
    workgroups: [B * H * blocks],
  });
  engine.run({
    shader: 'attention',
    entryPoint: 'backward_dkv',
    constants,
    outputs: [dk, dv],
    inputs: [q, k, v, dout, lse, delta],
    uniforms,
    workgroups: [B * KVH * blocks],
  });
}

/** N new query rows at positions offset .. offset+N-1 against a KV cache holding keys 0 .. offset+N-1. */
export interface DecodeShape {
  N: number;
  offset: number;
  H: number;
  KVH: number;
  D: number;
}

/** Keys per chunk of `attention_decode.decode_partial` (its workgroup size). */
const DECODE_KEYS_PER_CHUNK = 64;

/**
 * KV-cached attention (shaders/attention_decode.wgsl): out [N, H*D] for N new query rows q [N, H*D]
 * at positions offset .. offset+N-1, against the cache kCache and vCache [capacity, KVH*D], whose
 * rows 0 .. offset+N-1 hold the keys (unrotated) and values of positions 0 .. offset+N-1 (the new
 * rows' included). q and the keys are rotated as they are read, by cos/sin [>= offset+N, D/2]
 * (`rotary`), or not at all when rotary is null (RoPE dropped). Same logits, beta, scale and window
 * as `attentionForward` gives those rows over the whole sequence with q and k rotated beforehand.
 */
export function attentionDecode(
  engine: Engine,
  out: Tensor,
  q: Tensor,
  kCache: Tensor,
  vCache: Tensor,
  rotary: { cos: Tensor; sin: Tensor } | null,
  shape: DecodeShape,
  options: AttentionOptions = {},
): void {
  const what = 'attention.decode';
  const { N, offset, H, KVH, D } = shape;
  if (!Number.isInteger(N) || N < 1) throw new Error(`${what}: N must be a positive integer, got ${N}`);
  if (!Number.isInteger(offset) || offset < 0) throw new Error(`${what}: offset must be a non-negative integer, got ${offset}`);
  const L = offset + N;
  // The sizes of one sequence of L tokens; the window counts back from each row's position.
  const { qkScale, window } = validateSizes(what, { B: 1, T: L, H, KVH, D }, options);
  check(what, 'q', q, N * H * D, `[N, H*D] = [${N}, ${H * D}]`);
  check(what, 'out', out, N * H * D, `[N, H*D] = [${N}, ${H * D}]`);
  for (const [name, cache] of [
    ['kCache', kCache],
    ['vCache', vCache],
  ] as const) {
    const width = KVH * D;
    if (cache.shape.length !== 2 || cache.shape[1] !== width || cache.shape[0] < L) {
      throw new Error(`${what}: ${name} ${shapeString(cache.shape)} must be [>= ${L}, ${width}] (offset + N, KVH*D)`);
    }
  }
  if (rotary) {
    for (const [name, table] of [
      ['cos', rotary.cos],
      ['sin', rotary.sin],
    ] as const) {
      if (table.shape.length !== 2 || table.shape[1] !== D / 2 || table.shape[0] < L) {
        throw new Error(`${what}: ${name} ${shapeString(table.shape)} must be [>= ${L}, ${D / 2}] (offset + N, D/2)`);
      }
    }
    expectF32(what, [rotary.cos, rotary.sin]);
  }
  const precision = activationPrecision(what, [out, q, kCache, vCache]);
  const WG = DECODE_KEYS_PER_CHUNK;
  const keyStart = Math.max(0, offset - window + 1);
  const S = ceilDiv(L - keyStart, WG);
  const partialAcc = engine.scratch('attention.decode.partialAcc', N * H * S * D);
  const partialMl = engine.scratch('attention.decode.partialMl', N * H * S * 2);
  // Mode none binds a placeholder for the tables, which the kernel never reads (ROTATE = false).
  const tables = rotary ?? { cos: engine.scratch('attention.decode.noRotation', 1), sin: engine.scratch('attention.decode.noRotation', 1) };
  const uniforms = {
    N: u32(N),
    H: u32(H),
    KVH: u32(KVH),
    offset: u32(offset),
    qk_scale: qkScale,
    window: u32(Math.min(window, L)),
    key_start: u32(keyStart),
    S: u32(S),
  };
  engine.run({
    shader: 'attention_decode',
    entryPoint: 'decode_partial',
    precision,
    constants: { HEAD_DIM: D, WG, ROTATE: rotary ? 1 : 0 },
    outputs: [partialAcc, partialMl],
    inputs: [q, kCache, vCache, tables.cos, tables.sin],
    uniforms,
    workgroups: [N * H * S],
  });
  engine.run({
    shader: 'attention_decode',
    entryPoint: 'decode_merge',
    precision,
    constants: { HEAD_DIM: D, WG },
    outputs: [out],
    inputs: [partialAcc, partialMl],
    uniforms,
    workgroups: [ceilDiv(N * H * D, WG)],
  });
}
