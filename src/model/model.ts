// A Llama-architecture causal LM on our WGSL kernels: the forward pass, one op per line in the
// order of the math (Hugging Face LlamaForCausalLM, modeling_llama.py), so a reader can follow
// one token from the embedding to its next-token loss, and the backward pass beside it, walking
// the same lines in reverse.
//
// Glossary: B batch, T sequence length, R = B*T rows, C hidden size, H query heads,
// KVH key/value heads, D head dim, I MLP width, V vocabulary, L layers.

import type { Engine } from '../engine/engine.ts';
import {
  attentionBackward,
  attentionDecode,
  attentionForward,
  attentionNaive,
  attentionProbabilities,
  type AttentionOptions,
} from '../engine/ops/attention.ts';
import { IGNORE_TARGET, nllBackward, nllForward } from '../engine/ops/cross_entropy.ts';
import { embeddingBackward, embeddingForward } from '../engine/ops/embedding.ts';
import { linear, matmul, matmulNaive } from '../engine/ops/matmul.ts';
import { addInPlace } from '../engine/ops/residual.ts';
import { rmsnormBackward, rmsnormForward } from '../engine/ops/rmsnorm.ts';
import { ropeBackward, ropeForward } from '../engine/ops/rope.ts';
import { swigluBackward, swigluForward } from '../engine/ops/swiglu.ts';
import type { Tensor } from '../engine/tensor.ts';
import { expectedTensorShapes, type Checkpoint } from './checkpoint.ts';
import type { ModelConfig } from './config.ts';
import { KvCache } from './kv-cache.ts';
import {
  layerBufferSizes,
  logitChunkSizes,
  modelBufferSizes,
  rotaryTableSize,
  type BufferSize,
  type LayerBufferSizes,
  type ModelBufferSizes,
  weightDtype,
} from './buffer-sizes.ts';
import { formatPositionMode, positionModeFromConfig, rotaryTables, tablesDependOnLength, type PositionMode } from './positions.ts';

export interface ModelOptions {
  /**
   * Run matmul and attention on the straightforward baseline kernels instead of the tiled ones:
   * the benchmark's reference point, never used for results.
   */
  baselineKernels?: boolean;
  /**
   * 'f16': every 2-D weight (projections, embedding table, lm_head) is stored as binary16 pairs,
   * half the memory, unpacked to f32 in the kernels; norm gains stay f32. Inference only.
   */
  weights?: 'f32' | 'f16';
  /**
   * 'f16': the activations (residual stream, projections, attention inputs and output, MLP,
   * logits) are stored as binary16 and computed in f32 inside each kernel, as transformers runs a
   * model loaded in float16 (its softmax and loss upcast to float32; ours: norm statistics,
   * attention's log-sum-exp and the NLL stay f32). Half the activation memory; needs the adapter's
   * `shader-f16`. Inference only.
   */
  activations?: 'f32' | 'f16';
}

export interface ForwardOptions {
  /** How positions enter attention; defaults to what config.json says. */
  positions?: PositionMode;
  /** DroPE's attention logit scale (logits × beta); 1 leaves attention as trained. */
  beta?: number;
  /**
   * Keys each query attends to, its own included (an attention window): "RoPE cropped to the last
   * C_train tokens" is RoPE with window C_train. Absent: every earlier key.
   */
  window?: number;
}

/**
 * One layer's activations, as src/model/buffer-sizes.ts lists them. Inference shares one set across
 * layers; training keeps one per layer.
 */
type LayerActivations = { [K in keyof LayerBufferSizes]: null extends LayerBufferSizes[K] ? Tensor | null : Tensor };

/** A forward pass's buffers: the model rows (ids, residual, projected, finalNormed, finalRstd) and each layer's. */
type Activations = { [K in keyof ModelBufferSizes]: Tensor } & {
  B: number;
  T: number;
  training: boolean;
  layers: LayerActivations[];
};

/** Buffers of the backward pass, per (B, T). */
interface BackwardScratch {
  targets: Tensor; //    [R] u32
  logits: Tensor; //     [R, V]
  nll: Tensor; //        [R]
  dLogits: Tensor; //    [R, V]
  dResidual: Tensor; //  [R, C]
  dNormed: Tensor; //    [R, C]
  dX: Tensor; //         [R, C]   a norm's input gradient before it joins dResidual
  dAttention: Tensor; // [R, H*D]
  dq: Tensor; //         [R, H*D]
  dk: Tensor; //         [R, KVH*D]
  dv: Tensor; //         [R, KVH*D]
  dqRaw: Tensor | null; // [R, H*D]   gradient of q_proj's output through QK-norm
  dkRaw: Tensor | null; // [R, KVH*D]
  dGate: Tensor; //      [R, I]
  dUp: Tensor; //        [R, I]
  dHidden: Tensor; //    [R, I]
}

export class LlamaModel {
  readonly engine: Engine;
  readonly config: ModelConfig;
  readonly defaultPositions: PositionMode;
  private readonly baselineKernels: boolean;
  /** How the weights are stored on the GPU (ModelOptions.weights). */
  readonly weightFormat: 'f32' | 'f16';
  /** How activations are stored (ModelOptions.activations). */
  readonly activationFormat: 'f32' | 'f16';
  /** Parameters under their Hugging Face names. */
  readonly weights: Map<string, Tensor>;
  /** Gradients under the same names, allocated by the first backward pass. */
  readonly grads = new Map<string, Tensor>();
  private acts: Activations | null = null;
  /** The activations of KV-cached decoding, for the few rows of one step. */
  private decodeActs: Activations | null = null;
  private scratch: BackwardScratch | null = null;
  private rotary: { key: string; cos: Tensor; sin: Tensor } | null = null;

  private constructor(engine: Engine, config: ModelConfig, weights: Map<string, Tensor>, options: ModelOptions) {
    this.engine = engine;
    this.config = config;
    this.weights = weights;
    this.defaultPositions = positionModeFromConfig(config.raw);
    this.baselineKernels = options.baselineKernels ?? false;
    this.weightFormat = options.weights ?? 'f32';
    this.activationFormat = options.activations ?? 'f32';
  }

  /** Uploads a checked checkpoint's tensors to the GPU under their Hugging Face names. */
  static fromCheckpoint(engine: Engine, checkpoint: Checkpoint, options: ModelOptions = {}): LlamaModel {
    if (options.activations === 'f16') {
      if (!engine.supportsF16) {
        throw new Error(
          `f16 activations need the adapter feature shader-f16, which ${engine.adapterName} does not have; use f32 activations`,
        );
      }
      if (options.baselineKernels) throw new Error('the baseline kernels run in f32 only; f16 activations use the tiled kernels');
    }
    const weights = new Map<string, Tensor>();
    try {
      for (const [name, shape] of expectedTensorShapes(checkpoint.config)) {
        const data = checkpoint.tensors.get(name);
        if (!data) throw new Error(`the checkpoint has no tensor ${name}`);
        const half = weightDtype(shape, options.weights ?? 'f32') === 'f16';
        weights.set(name, half ? engine.upload(data, shape, name, 'f16') : engine.upload(data, shape, name));
      }
    } catch (e) {
      engine.release(...weights.values());
      throw e;
    }
    return new LlamaModel(engine, checkpoint.config, weights, options);
  }

  weight(name: string): Tensor {
    const w = this.weights.get(name);
    if (!w) throw new Error(`the checkpoint has no tensor ${name}`);
    return w;
  }

  /** Throws unless the model can train: f32 weights and activations (f16 is for inference). */
  assertTrainable(): void {
    if (this.weightFormat !== 'f32' || this.activationFormat !== 'f32') {
      throw new Error(
        `training needs f32 weights and activations; this model was loaded with ${this.weightFormat} weights and ${this.activationFormat} activations (inference only)`,
      );
    }
  }

  private grad(name: string): Tensor {
    const g = this.grads.get(name);
    if (!g) throw new Error(`no gradient buffer for ${name}`);
    return g;
  }

  /** Reads every parameter back, for saving a checkpoint. */
  async readWeights(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [name, tensor] of this.weights) out.set(name, await this.engine.read(tensor));
    return out;
  }

  /** y[R, out] = x[R, in] · W[out, in]^T, on the tiled kernel or the baseline. */
  private linear(y: Tensor, x: Tensor, weight: Tensor): void {
    if (this.baselineKernels) matmulNaive(this.engine, y, x, weight, { transB: true });
    else linear(this.engine, y, x, weight);
  }

  private get lmHeadName(): string {
    return this.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  }

  /** Checks ids against the vocabulary before anything reaches the GPU. */
  private checkIds(ids: ArrayLike<number>, B: number, T: number): void {
    if (!(B >= 1 && T >= 1) || ids.length !== B * T) {
      throw new Error(`expected ${B}x${T} token ids, got ${ids.length}`);
    }
    const V = this.config.vocabSize;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= V) {
        throw new Error(`token id ${id} at [${Math.floor(i / T)}, ${i % T}] is outside the vocabulary (0..${V - 1})`);
      }
    }
  }

  /**
   * Allocates every buffer of a forward pass at (B, T). The size table is checked first, so a
   * length past the device's limits fails, naming the limit, before anything is allocated.
   */
  private activations(B: number, T: number, training: boolean): Activations {
    const cached = this.acts;
    if (cached && cached.B === B && cached.T === T && cached.training === training) return cached;
    this.releaseActivations();
    this.acts = this.allocateActivations(B, T, training);
    return this.acts;
  }

  /** The activations of a decoding step of N rows (kept apart, so decoding and full forwards alternate freely). */
  private decodeActivations(N: number): Activations {
    const cached = this.decodeActs;
    if (cached && cached.T === N) return cached;
    if (cached) this.releaseActivationSet(cached);
    this.decodeActs = null;
    this.decodeActs = this.allocateActivations(1, N, false);
    return this.decodeActs;
  }

  private allocateActivations(B: number, T: number, training: boolean): Activations {
    const layerSizes = layerBufferSizes(this.config, B, T, training, this.activationFormat);
    const modelSizes = modelBufferSizes(this.config, B, T, this.activationFormat);
    for (const [name, size] of Object.entries(layerSizes)) if (size) this.engine.assertFits(size.shape, `acts.${name}`, size.dtype);
    const allocate = (size: BufferSize, label: string) => this.engine.tensor(size.shape, label, size.dtype);
    const allocateLayer = (l: number): LayerActivations => {
      const entries = Object.entries(layerSizes).map(([name, size]) => [name, size ? allocate(size, `acts.${l}.${name}`) : null]);
      return Object.fromEntries(entries) as unknown as LayerActivations;
    };
    const shared = training ? null : allocateLayer(0);
    return {
      B,
      T,
      training,
      ids: allocate(modelSizes.ids, 'acts.ids'),
      residual: allocate(modelSizes.residual, 'acts.residual'),
      projected: allocate(modelSizes.projected, 'acts.projected'),
      finalNormed: allocate(modelSizes.finalNormed, 'acts.finalNormed'),
      finalRstd: allocate(modelSizes.finalRstd, 'acts.finalRstd'),
      layers: Array.from({ length: this.config.numLayers }, (_, l) => shared ?? allocateLayer(l)),
    };
  }

  private releaseActivations(): void {
    if (!this.acts) return;
    this.releaseActivationSet(this.acts);
    this.acts = null;
    this.releaseScratch();
  }

  private releaseActivationSet(a: Activations): void {
    const layerTensors = new Set(a.layers.flatMap((layer) => Object.values(layer).filter((t): t is Tensor => t !== null)));
    this.engine.release(a.ids, a.residual, a.projected, a.finalNormed, a.finalRstd, ...layerTensors);
  }

  private releaseScratch(): void {
    if (!this.scratch) return;
    this.engine.release(...Object.values(this.scratch).filter((t): t is Tensor => t !== null));
    this.scratch = null;
  }

  /**
   * cos/sin tables [>= T, D/2] for this mode at sequence length T, or null when RoPE is dropped.
   * One set is kept, and serves every length it covers: the tables of a mode do not depend on the
   * length (their first rows are the same), except dynamic NTK's past max_position_embeddings.
   * `room` asks for rows up to that position at once (a KV cache's capacity).
   */
  private rotaryTables(mode: PositionMode, T: number, room = T): { cos: Tensor; sin: Tensor } | null {
    const { headDim, ropeTheta, maxPositionEmbeddings } = this.config;
    const dependsOnLength = tablesDependOnLength(mode, maxPositionEmbeddings, T);
    const key = dependsOnLength ? `${formatPositionMode(mode)}@${T}` : formatPositionMode(mode);
    if (this.rotary?.key === key && this.rotary.cos.shape[0] >= T) return this.rotary;
    const rows = dependsOnLength ? T : Math.max(T, room);
    const tables = rotaryTables(mode, { headDim, ropeTheta, maxPositionEmbeddings }, T, rows);
    if (this.rotary) this.engine.release(this.rotary.cos, this.rotary.sin);
    this.rotary = null;
    if (!tables) return null;
    const { shape } = rotaryTableSize(this.config, rows);
    this.rotary = {
      key,
      cos: this.engine.upload(tables.cos, shape, 'rotary.cos'),
      sin: this.engine.upload(tables.sin, shape, 'rotary.sin'),
    };
    return this.rotary;
  }

  /**
   * Runs the transformer over ids [B, T] and leaves the final-norm output in `finalNormed` [R, C].
   * Recorded, not yet submitted: `logits`, `nll` and `lossAndGradients` submit it.
   */
  private forward(
    ids: ArrayLike<number>,
    B: number,
    T: number,
    options: ForwardOptions,
    training: boolean,
    /** Sees each layer's q and k exactly as they enter attention (recorded before attention runs). */
    onAttention?: (layer: number, q: Tensor, k: Tensor, options: AttentionOptions) => void,
    /** Receives each layer's keys (unrotated) and values, for KV-cached decoding (B = 1). */
    cache?: KvCache,
  ): Activations {
    this.checkIds(ids, B, T);
    const engine = this.engine;
    const { numHeads: H, numKvHeads: KVH, headDim: D } = this.config;
    const a = this.activations(B, T, training);
    const rotary = this.rotaryTables(options.positions ?? this.defaultPositions, T);
    const rotaryShape = (heads: number) => ({ rows: B * T, T, heads, headDim: D });
    const attention = { beta: options.beta ?? 1, window: options.window };
    this.transformer(a, ids, (l, s, q, k) => {
      if (cache) this.appendToCache(cache, l, k, s.v, 0, T);
      if (rotary) {
        ropeForward(engine, q, rotary.cos, rotary.sin, rotaryShape(H));
        ropeForward(engine, k, rotary.cos, rotary.sin, rotaryShape(KVH));
      }
      onAttention?.(l, q, k, attention);
      if (this.baselineKernels) attentionNaive(engine, s.attention, q, k, s.v, { B, T, H, KVH, D }, attention);
      else attentionForward(engine, s.attention, s.lse, q, k, s.v, { B, T, H, KVH, D }, attention);
    });
    return a;
  }

  /**
   * The transformer over the rows of `a` for `ids`: the embedding, each layer, the final norm into
   * `a.finalNormed`. `attend` is the attention step of layer l: from q and k as they leave the
   * projections (and QK-norm), before positions, it fills s.attention. Recorded, not submitted.
   */
  private transformer(
    a: Activations,
    ids: ArrayLike<number>,
    attend: (layer: number, s: LayerActivations, q: Tensor, k: Tensor) => void,
  ): void {
    const engine = this.engine;
    const { numLayers, rmsNormEps: eps } = this.config;
    engine.write(a.ids, Uint32Array.from(ids));

    embeddingForward(engine, a.residual, a.ids, this.weight('model.embed_tokens.weight'));
    for (let l = 0; l < numLayers; l++) {
      const s = a.layers[l];
      const w = (name: string) => this.weight(`model.layers.${l}.${name}.weight`);
      // Attention block.
      if (s.input) engine.copy(s.input, a.residual);
      rmsnormForward(engine, s.normed1, s.rstd1, a.residual, w('input_layernorm'), eps);
      this.linear(s.q, s.normed1, w('self_attn.q_proj'));
      this.linear(s.k, s.normed1, w('self_attn.k_proj'));
      this.linear(s.v, s.normed1, w('self_attn.v_proj'));
      const q = s.qNormed ?? s.q;
      const k = s.kNormed ?? s.k;
      if (s.qNormed && s.kNormed && s.qRstd && s.kRstd) {
        // DroPE's qk_norm_nope: RMSNorm over the whole projection, before the head split.
        rmsnormForward(engine, s.qNormed, s.qRstd, s.q, w('self_attn.q_norm'), eps);
        rmsnormForward(engine, s.kNormed, s.kRstd, s.k, w('self_attn.k_norm'), eps);
      }
      attend(l, s, q, k);
      this.linear(a.projected, s.attention, w('self_attn.o_proj'));
      addInPlace(engine, a.residual, a.projected);
      // MLP block.
      if (s.mid) engine.copy(s.mid, a.residual);
      rmsnormForward(engine, s.normed2, s.rstd2, a.residual, w('post_attention_layernorm'), eps);
      this.linear(s.gate, s.normed2, w('mlp.gate_proj'));
      this.linear(s.up, s.normed2, w('mlp.up_proj'));
      swigluForward(engine, s.hidden, s.gate, s.up);
      this.linear(a.projected, s.hidden, w('mlp.down_proj'));
      addInPlace(engine, a.residual, a.projected);
    }
    rmsnormForward(engine, a.finalNormed, a.finalRstd, a.residual, this.weight('model.norm.weight'), eps);
  }

  /** Copies rows [rows, KVH*D] of k (unrotated) and v into the cache of layer l from row `offset`. */
  private appendToCache(cache: KvCache, l: number, k: Tensor, v: Tensor, offset: number, rows: number): void {
    const width = this.config.numKvHeads * this.config.headDim;
    const range = { dstStart: offset * width, count: rows * width };
    this.engine.copy(cache.layer(l).k, k, range);
    this.engine.copy(cache.layer(l).v, v, range);
  }

  // ------------------------------------------------------------------------- KV-cached decoding

  /** An empty KV cache for one sequence of this model, with room for `capacity` tokens (it grows past them). */
  createKvCache(capacity: number): KvCache {
    const { numLayers, numKvHeads, headDim } = this.config;
    return new KvCache(this.engine, { numLayers, numKvHeads, headDim }, capacity, this.activationFormat);
  }

  private checkCache(cache: KvCache): void {
    const { numLayers, numKvHeads, headDim } = this.config;
    const { shape } = cache;
    if (cache.engine !== this.engine || shape.numLayers !== numLayers || shape.numKvHeads !== numKvHeads || shape.headDim !== headDim) {
      throw new Error('this KV cache belongs to another model: make one with model.createKvCache');
    }
    if (cache.dtype !== this.activationFormat) {
      throw new Error(`the KV cache holds ${cache.dtype} rows, the model's activations are ${this.activationFormat}`);
    }
  }

  /**
   * Starts a sequence: runs the forward over ids [T] (one sequence) as `lastLogits` does, keeping
   * every layer's keys (unrotated) and values in `cache` (cleared first), and returns the logits
   * of the last position [V].
   */
  async prefill(cache: KvCache, ids: ArrayLike<number>, options: ForwardOptions = {}): Promise<Float32Array> {
    this.checkCache(cache);
    cache.clear();
    await cache.reserve(ids.length);
    const a = this.forward(ids, 1, ids.length, options, false, undefined, cache);
    const logits = await this.lastRowLogits(a);
    cache.length = ids.length;
    return logits;
  }

  /**
   * Appends ids [N] (usually one token) to the sequence in `cache` and returns their logits [N, V]:
   * the rows a full forward over the whole sequence with these options gives them, without
   * recomputing the earlier tokens. Keys are rotated as attention reads them, so the position mode,
   * beta and window may change from one call to the next (the cache holds no rotation).
   */
  async decode(cache: KvCache, ids: ArrayLike<number>, options: ForwardOptions = {}): Promise<Float32Array> {
    const N = ids.length;
    this.checkIds(ids, 1, N);
    this.checkCache(cache);
    if (cache.length === 0) throw new Error('decode: the KV cache is empty; start the sequence with prefill');
    await cache.reserve(N);
    const { numHeads: H, numKvHeads: KVH, headDim: D, vocabSize: V } = this.config;
    const offset = cache.length;
    const a = this.decodeActivations(N);
    const rotary = this.rotaryTables(options.positions ?? this.defaultPositions, offset + N, cache.capacity);
    const attention = { beta: options.beta ?? 1, window: options.window };
    this.transformer(a, ids, (l, s, q, k) => {
      this.appendToCache(cache, l, k, s.v, offset, N);
      const { k: kCache, v: vCache } = cache.layer(l);
      attentionDecode(this.engine, s.attention, q, kCache, vCache, rotary, { N, offset, H, KVH, D }, attention);
    });
    const logits = this.engine.tensor([N, V], 'logits.decode', this.activationFormat);
    try {
      this.linear(logits, a.finalNormed, this.weight(this.lmHeadName));
      const values = this.finite(await this.engine.read(logits), 'the decoded logits');
      cache.length = offset + N;
      return values;
    } finally {
      this.engine.release(logits);
    }
  }

  /**
   * The attention pattern of query head `head` in layer `layer` for one sequence ids [T]: [T, T],
   * row t the softmax weights query t gives keys 0..t (0 past the diagonal). q and k are taken
   * from the forward pass itself, as they enter attention (after QK-norm and the positions of
   * `options`), with the forward's beta; the layers after `layer` run too, unused.
   */
  async attentionMap(ids: ArrayLike<number>, T: number, layer: number, head: number, options: ForwardOptions = {}): Promise<Float32Array> {
    const { numLayers, numHeads: H, numKvHeads: KVH, headDim: D } = this.config;
    if (!(Number.isInteger(layer) && layer >= 0 && layer < numLayers)) throw new Error(`layer ${layer} is not one of 0..${numLayers - 1}`);
    if (!(Number.isInteger(head) && head >= 0 && head < H)) throw new Error(`head ${head} is not one of 0..${H - 1}`);
    this.engine.assertFits([H, T, T], 'attention map');
    const probs = this.engine.tensor([1, H, T, T], 'attentionMap.probs'); // [B=1, H, T, T]
    try {
      this.forward(ids, 1, T, options, false, (l, q, k, attention) => {
        if (l === layer) attentionProbabilities(this.engine, probs, q, k, { B: 1, T, H, KVH, D }, attention);
      });
      return (await this.engine.read(probs)).slice(head * T * T, (head + 1) * T * T);
    } finally {
      this.engine.release(probs);
    }
  }

  /**
   * Returns `values` read back from the GPU, or throws when one is NaN or ±Inf: never a silently
   * wrong number. With f16 activations the likely cause is overflow (binary16 stops at 65504).
   */
  private finite(values: Float32Array, what: string): Float32Array {
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad < 0) return values;
    const hint =
      this.activationFormat === 'f16'
        ? '; an f16 activation overflowed (binary16 holds at most 65504): load the model with f32 precision'
        : '';
    throw new Error(`${what} holds a non-finite value (${values[bad]} at index ${bad})${hint}`);
  }

  /** Logits [B, T, V] for ids [B, T]. */
  async logits(ids: ArrayLike<number>, B: number, T: number, options: ForwardOptions = {}): Promise<Float32Array> {
    const a = this.forward(ids, B, T, options, false);
    this.engine.assertFits([B * T, this.config.vocabSize], 'logits', this.activationFormat);
    const logits = this.engine.tensor([B * T, this.config.vocabSize], 'logits', this.activationFormat);
    try {
      this.linear(logits, a.finalNormed, this.weight(this.lmHeadName));
      return this.finite(await this.engine.read(logits), 'the logits');
    } finally {
      this.engine.release(logits);
    }
  }

  /**
   * The logits of each sequence's last position, [B, V]: what generation needs, without the
   * [B*T, V] buffer that `logits` fills (1.6 GB at T = 8192 for a 49k vocabulary).
   */
  async lastLogits(ids: ArrayLike<number>, B: number, T: number, options: ForwardOptions = {}): Promise<Float32Array> {
    return this.lastRowLogits(this.forward(ids, B, T, options, false));
  }

  /** The logits [B, V] of the last row of each sequence in `a` (recorded by a forward). */
  private async lastRowLogits(a: Activations): Promise<Float32Array> {
    const { B, T } = a;
    const { hiddenSize: C, vocabSize: V } = this.config;
    const last = this.engine.tensor([B, C], 'finalNormed.last', this.activationFormat);
    const logits = this.engine.tensor([B, V], 'logits.last', this.activationFormat);
    try {
      for (let b = 0; b < B; b++) this.engine.copy(last, a.finalNormed, { srcStart: (b * T + T - 1) * C, dstStart: b * C, count: C });
      this.linear(logits, last, this.weight(this.lmHeadName));
      return this.finite(await this.engine.read(logits), 'the last logits');
    } finally {
      this.engine.release(last, logits);
    }
  }

  /**
   * Next-token NLL [B, T-1] for ids [B, T]: position t predicts ids[t + 1].
   * The LM head runs over row chunks, so a large vocabulary never needs a [B*T, V] buffer.
   */
  async nll(ids: ArrayLike<number>, B: number, T: number, options: ForwardOptions = {}): Promise<Float32Array> {
    const a = this.forward(ids, B, T, options, false);
    const engine = this.engine;
    const { hiddenSize: C, vocabSize: V } = this.config;
    const R = B * T;
    const targets = nextTokenTargets(ids, B, T);
    const chunk = logitChunkSizes(this.config, R, this.activationFormat);
    const chunkRows = chunk.logits.shape[0];
    const perRow = new Float32Array(R);
    const logits = engine.tensor(chunk.logits.shape, 'logits.chunk', chunk.logits.dtype);
    const hidden = engine.tensor(chunk.hidden.shape, 'finalNormed.chunk', chunk.hidden.dtype);
    const chunkTargets = engine.tensor(chunk.targets.shape, 'targets.chunk', chunk.targets.dtype);
    const chunkNll = engine.tensor(chunk.nll.shape, 'nll.chunk', chunk.nll.dtype);
    try {
      for (let start = 0; start < R; start += chunkRows) {
        const rows = Math.min(chunkRows, R - start);
        const view = (t: Tensor, width: number): Tensor => ({ ...t, shape: width ? [rows, width] : [rows] });
        engine.copy(hidden, a.finalNormed, { srcStart: start * C, count: rows * C });
        engine.write(chunkTargets, targets.subarray(start, start + rows));
        this.linear(view(logits, V), view(hidden, C), this.weight(this.lmHeadName));
        nllForward(engine, view(chunkNll, 0), view(logits, V), view(chunkTargets, 0));
        perRow.set((await engine.read(chunkNll)).subarray(0, rows), start);
      }
    } finally {
      engine.release(logits, hidden, chunkTargets, chunkNll);
    }
    return dropLastPosition(this.finite(perRow, 'the next-token NLL'), B, T);
  }

  private backwardScratch(B: number, T: number): BackwardScratch {
    if (this.scratch) return this.scratch;
    const { hiddenSize: C, numHeads: H, numKvHeads: KVH, headDim: D, intermediateSize: I, vocabSize: V, qkNorm } = this.config;
    const R = B * T;
    const t = (shape: number[], label: string) => this.engine.tensor(shape, `grad.${label}`);
    this.engine.assertFits([R, V], 'logits');
    this.scratch = {
      targets: this.engine.tensor([R], 'grad.targets', 'u32'),
      logits: t([R, V], 'logits'),
      nll: t([R], 'nll'),
      dLogits: t([R, V], 'dLogits'),
      dResidual: t([R, C], 'dResidual'),
      dNormed: t([R, C], 'dNormed'),
      dX: t([R, C], 'dX'),
      dAttention: t([R, H * D], 'dAttention'),
      dq: t([R, H * D], 'dq'),
      dk: t([R, KVH * D], 'dk'),
      dv: t([R, KVH * D], 'dv'),
      dqRaw: qkNorm ? t([R, H * D], 'dqRaw') : null,
      dkRaw: qkNorm ? t([R, KVH * D], 'dkRaw') : null,
      dGate: t([R, I], 'dGate'),
      dUp: t([R, I], 'dUp'),
      dHidden: t([R, I], 'dHidden'),
    };
    return this.scratch;
  }

  /**
   * One training pass: the mean next-token NLL over all B×(T-1) targets, and its gradient with
   * respect to every parameter in `grads` (zeroed first, then accumulated).
   */
  async lossAndGradients(ids: ArrayLike<number>, B: number, T: number, options: ForwardOptions = {}): Promise<number> {
    if (T < 2) throw new Error('training needs sequences of at least 2 tokens');
    this.assertTrainable();
    const engine = this.engine;
    const a = this.forward(ids, B, T, options, true);
    const g = this.backwardScratch(B, T);
    const { numLayers, numHeads: H, numKvHeads: KVH, headDim: D } = this.config;
    const R = B * T;
    const rotary = this.rotaryTables(options.positions ?? this.defaultPositions, T);
    const rotaryShape = (heads: number) => ({ rows: R, T, heads, headDim: D });
    const attention = { beta: options.beta ?? 1, window: options.window };
    const accumulate = { accumulate: true };
    const dWeightOf = (dY: Tensor, x: Tensor, name: string) => matmul(engine, this.grad(name), dY, x, { transA: true, accumulate: true });

    for (const [name, w] of this.weights) if (!this.grads.has(name)) this.grads.set(name, engine.tensor(w.shape, `grad.${name}`));
    for (const grad of this.grads.values()) engine.zero(grad);

    // Loss: logits, per-row NLL, and dLogits = (softmax - onehot) / N.
    engine.write(g.targets, nextTokenTargets(ids, B, T));
    const lmHead = this.weight(this.lmHeadName);
    this.linear(g.logits, a.finalNormed, lmHead);
    nllForward(engine, g.nll, g.logits, g.targets);
    nllBackward(engine, g.dLogits, g.logits, g.targets, 1 / (B * (T - 1)));
    // LM head: dW = dLogits^T · finalNormed; dFinalNormed = dLogits · W.
    dWeightOf(g.dLogits, a.finalNormed, this.lmHeadName);
    matmul(engine, g.dNormed, g.dLogits, lmHead);
    rmsnormBackward(
      engine,
      g.dResidual,
      this.grad('model.norm.weight'),
      g.dNormed,
      a.residual,
      this.weight('model.norm.weight'),
      a.finalRstd,
      accumulate,
    );

    for (let l = numLayers - 1; l >= 0; l--) {
      const s = a.layers[l];
      const name = (n: string) => `model.layers.${l}.${n}.weight`;
      const w = (n: string) => this.weight(name(n));
      // MLP block, reversed: residual += down_proj(silu(gate_proj(x)) * up_proj(x)), x = norm2(mid).
      dWeightOf(g.dResidual, s.hidden, name('mlp.down_proj'));
      matmul(engine, g.dHidden, g.dResidual, w('mlp.down_proj'));
      swigluBackward(engine, g.dGate, g.dUp, g.dHidden, s.gate, s.up);
      dWeightOf(g.dGate, s.normed2, name('mlp.gate_proj'));
      dWeightOf(g.dUp, s.normed2, name('mlp.up_proj'));
      matmul(engine, g.dNormed, g.dGate, w('mlp.gate_proj'));
      matmul(engine, g.dNormed, g.dUp, w('mlp.up_proj'), accumulate);
      rmsnormBackward(
        engine,
        g.dX,
        this.grad(name('post_attention_layernorm')),
        g.dNormed,
        s.mid!,
        w('post_attention_layernorm'),
        s.rstd2,
        accumulate,
      );
      addInPlace(engine, g.dResidual, g.dX);
      // Attention block, reversed: residual += o_proj(attention(q, k, v)), q/k/v from norm1(input).
      dWeightOf(g.dResidual, s.attention, name('self_attn.o_proj'));
      matmul(engine, g.dAttention, g.dResidual, w('self_attn.o_proj'));
      const q = s.qNormed ?? s.q;
      const k = s.kNormed ?? s.k;
      attentionBackward(engine, g.dq, g.dk, g.dv, g.dAttention, q, k, s.v, s.attention, s.lse, { B, T, H, KVH, D }, attention);
      if (rotary) {
        ropeBackward(engine, g.dq, rotary.cos, rotary.sin, rotaryShape(H));
        ropeBackward(engine, g.dk, rotary.cos, rotary.sin, rotaryShape(KVH));
      }
      let dq = g.dq;
      let dk = g.dk;
      if (g.dqRaw && g.dkRaw && s.qRstd && s.kRstd) {
        rmsnormBackward(engine, g.dqRaw, this.grad(name('self_attn.q_norm')), g.dq, s.q, w('self_attn.q_norm'), s.qRstd, accumulate);
        rmsnormBackward(engine, g.dkRaw, this.grad(name('self_attn.k_norm')), g.dk, s.k, w('self_attn.k_norm'), s.kRstd, accumulate);
        dq = g.dqRaw;
        dk = g.dkRaw;
      }
      dWeightOf(dq, s.normed1, name('self_attn.q_proj'));
      dWeightOf(dk, s.normed1, name('self_attn.k_proj'));
      dWeightOf(g.dv, s.normed1, name('self_attn.v_proj'));
      matmul(engine, g.dNormed, dq, w('self_attn.q_proj'));
      matmul(engine, g.dNormed, dk, w('self_attn.k_proj'), accumulate);
      matmul(engine, g.dNormed, g.dv, w('self_attn.v_proj'), accumulate);
      rmsnormBackward(engine, g.dX, this.grad(name('input_layernorm')), g.dNormed, s.input!, w('input_layernorm'), s.rstd1, accumulate);
      addInPlace(engine, g.dResidual, g.dX);
    }
    embeddingBackward(engine, this.grad('model.embed_tokens.weight'), g.dResidual, a.ids, accumulate);

    const nll = await engine.read(g.nll);
    let sum = 0;
    for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) sum += nll[b * T + t];
    return sum / (B * (T - 1));
  }

  /** Frees every GPU buffer of this model. */
  destroy(): void {
    this.releaseActivations();
    if (this.decodeActs) this.releaseActivationSet(this.decodeActs);
    this.decodeActs = null;
    if (this.rotary) this.engine.release(this.rotary.cos, this.rotary.sin);
    this.rotary = null;
    this.engine.release(...this.weights.values(), ...this.grads.values());
    this.weights.clear();
    this.grads.clear();
  }
}

/** targets[b, t] = ids[b, t + 1]; the last position of each sequence predicts nothing. */
function nextTokenTargets(ids: ArrayLike<number>, B: number, T: number): Uint32Array {
  const targets = new Uint32Array(B * T).fill(IGNORE_TARGET);
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) targets[b * T + t] = ids[b * T + t + 1];
  return targets;
}

/** [B, T] per-position values to [B, T-1], dropping each sequence's last position. */
function dropLastPosition(perRow: Float32Array, B: number, T: number): Float32Array {
  const out = new Float32Array(B * (T - 1));
  for (let b = 0; b < B; b++) out.set(perRow.subarray(b * T, b * T + T - 1), b * (T - 1));
  return out;
}
