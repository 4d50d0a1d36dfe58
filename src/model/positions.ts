// Position modes: how token positions enter attention. Every table is computed the way Hugging Face
// `transformers` v5 computes it (src/transformers/modeling_rope_utils.py for the inverse
// frequencies, LlamaRotaryEmbedding.forward in models/llama/modeling_llama.py for cos/sin), float32
// rounding included, so our tables agree with torch's to a float32 ulp or two.
//
// Glossary: D head dim, d = D (the rotary dim: partial_rotary_factor is 1, see config.ts),
// k = 0 .. D/2-1 the frequency index, p a position, L the sequence length the tables are built for,
// M max_position_embeddings, M0 original_max_position_embeddings, θ rope_theta, F the factor.
//
// Modes (text form: what `--pos` takes and formatPositionMode writes; HF name in brackets):
//   rope        [default]  inv_freq[k] = 1 / θ^(2k/d)
//   pi:F        [linear]   inv_freq[k] = (1 / θ^(2k/d)) / F: position interpolation, positions / F
//   ntk:F       (ours)     θ' = θ · F^(d/(d-2)), then as rope with θ'. Static NTK-aware scaling; not an
//                          HF rope_type. Attention scaling 1.
//   dynamic:F   [dynamic]  L <= M: exactly rope. L > M: θ' = θ · (F·L/M - (F-1))^(d/(d-2)) (HF's
//                          _compute_dynamic_ntk_parameters with seq_len = L = max position id + 1).
//   yarn:F      [yarn]     NTK-by-parts + attention factor (HF's _compute_yarn_parameters), below.
//   none        RoPE dropped (DroPE, NoPE): the identity; rotaryTables returns null.
// Every mode then builds, for p = 0 .. L-1 (HF's forward with position_ids = arange(L)):
//   angle[p][k] = f32(p · inv_freq[k]);  cos[p][k] = f32(cos(angle)) · s;  sin likewise,
// where s is HF's `attention_scaling` (1 except YaRN). The kernel uses cos/sin[p][k] for dims k and
// k + D/2 (rotate_half layout; see shaders/rope.wgsl).
//
// YaRN, with beta_fast βf (default 32), beta_slow βs (default 1), truncate (default true):
//   corr(β) = d · ln(M0 / (2π β)) / (2 ln θ);  lo = corr(βf), hi = corr(βs), floor/ceil'd if truncate,
//   then lo = max(lo, 0), hi = min(hi, d-1); hi += 0.001 if lo == hi;
//   ramp[k] = clamp((k - lo) / (hi - lo), 0, 1);  e[k] = 1 - ramp[k]  (the extrapolated share)
//   inv_freq[k] = (1/(F·θ^(2k/d))) · (1 - e[k]) + (1/θ^(2k/d)) · e[k]
//   s = attention_factor if given; else, if mscale and mscale_all_dim are both non-zero,
//   g(F, mscale) / g(F, mscale_all_dim); else g(F, 1); with g(F, m) = 1 if F <= 1 else 0.1·m·ln F + 1.
//   M0: the config's rope original_max_position_embeddings (a top-level original_max_position_embeddings
//   key wins, as in HF's standardize_rope_params), else M. F: the config's factor; where the config
//   says `"factor": null`, F = M / M0. Note that transformers v5 uses an explicit factor as given
//   (PR #40320, issue #38224); v4.4x-v4.5x replaced it by M / M0 whenever M0 was present.
//
// Where the factor comes from: a mode read from config.json carries the config's factor and YaRN
// keys. A mode given at run time (`--pos yarn:4`) carries F alone; its M0 is the config's M.
//
// Float32, as torch does it (each step rounded with Math.fround where torch rounds):
//   exponent = f32(2k / d);  θ^exponent in f32 (torch's powf; we round the float64 power, which can
//   differ from torch's vectorized Sleef powf by one ulp);  inv_freq = f32(1 / that);  pi: f32(inv / f32(F)).
//   θ, θ' enter torch as Python floats and are rounded to float32 when the power is taken.
//   dynamic with L > M: HF's seq_len is a 0-d int64 tensor there (torch.max(position_ids) + 1), so
//   θ' is computed in float32, step by step: a = f32(f32(F)·L), b = f32(a / M), c = f32(b - f32(F-1)),
//   c' = f32(c^(d/(d-2))) (std::pow in double), θ' = f32(f32(θ)·c'). For L <= M the init-time θ' is
//   computed in Python floats (float64) and equals θ up to float64 rounding.
//   YaRN: pos = θ^exponent (f32); extrapolation = f32(1/pos); interpolation = f32(1 / f32(f32(F)·pos));
//   ramp = f32(f32(k - f32(lo)) / f32(hi - lo)); e = f32(1 - ramp); inv = f32(f32(interp·f32(1-e)) + f32(extrap·e)).
//   cos·s: f32(cos · f32(s)).
//
// Dynamic NTK and state: HF's module keeps the largest θ' it has seen (max_seq_len_cached) until a
// sequence shorter than M resets it, so its tables for a length L in (M, L_max) depend on what ran
// before. We compute each length fresh, which equals HF for a model that ran lengths in increasing
// order, or one length per model instance (how the fixtures and the perplexity sweep run).

import { LLAMA_DEFAULTS } from './config.ts';

/** YaRN's optional keys, as HF's rope_parameters name them (snake_case in config.json and text). */
export interface YarnOptions {
  /** M0, the pretraining context for the correction range; absent: the config's max_position_embeddings. */
  readonly originalMaxPositionEmbeddings?: number;
  /** s itself; absent: derived from the factor (and mscale / mscale_all_dim). */
  readonly attentionFactor?: number;
  readonly betaFast?: number;
  readonly betaSlow?: number;
  readonly mscale?: number;
  readonly mscaleAllDim?: number;
  readonly truncate?: boolean;
}

export type PositionMode =
  | { readonly kind: 'rope' }
  | { readonly kind: 'none' }
  | { readonly kind: 'pi'; readonly factor: number }
  | { readonly kind: 'ntk'; readonly factor: number }
  | { readonly kind: 'dynamic'; readonly factor: number }
  | ({ readonly kind: 'yarn'; readonly factor: number } & YarnOptions);

export interface RotaryParams {
  headDim: number;
  ropeTheta: number;
  maxPositionEmbeddings: number;
}

export class PositionModeError extends Error {}

const MODES_HELP = 'rope | none | pi:F | ntk:F | dynamic:F | yarn:F (F > 0)';

/** YaRN's optional keys: text/config name ↔ field. The order is the text form's order. */
const YARN_KEYS = [
  ['original_max_position_embeddings', 'originalMaxPositionEmbeddings'],
  ['attention_factor', 'attentionFactor'],
  ['beta_fast', 'betaFast'],
  ['beta_slow', 'betaSlow'],
  ['mscale', 'mscale'],
  ['mscale_all_dim', 'mscaleAllDim'],
  ['truncate', 'truncate'],
] as const;

type YarnKey = (typeof YARN_KEYS)[number];

// ------------------------------------------------------------------------------------ text form

/** A strict decimal number: no hex, no "Infinity", no empty string (all of which Number() accepts). */
function parseNumber(text: string, what: string): number {
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(text)) throw new PositionModeError(`${what}: "${text}" is not a number`);
  return Number(text);
}

// A factor scales positions (or θ) by up to the largest length ratio a float32 position allows;
// beyond these the tables overflow or underflow float32.
const MIN_FACTOR = 2 ** -24;
const MAX_FACTOR = 2 ** 24;

function checkFactor(factor: unknown, what: string): number {
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 0) {
    throw new PositionModeError(`${what}: the factor must be a finite number > 0, got ${JSON.stringify(factor)}`);
  }
  if (factor < MIN_FACTOR || factor > MAX_FACTOR) {
    throw new PositionModeError(`${what}: the factor ${factor} is outside ${MIN_FACTOR}..${MAX_FACTOR} (2^-24..2^24)`);
  }
  return factor;
}

/**
 * Validates one YaRN option's value (from text or from config.json), as HF's
 * _validate_yarn_parameters does and a little more: attention_factor and the betas scale or take
 * logarithms, so they must be > 0 (0 would zero every rotation, a negative beta gives NaN); mscale
 * and mscale_all_dim enter 0.1·m·ln F + 1, which a negative m can make 0 or negative.
 */
function yarnValue([key, field]: YarnKey, value: unknown, what: string): number | boolean {
  if (field === 'truncate') {
    if (typeof value !== 'boolean') throw new PositionModeError(`${what}: truncate must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new PositionModeError(`${what}: ${key} must be a finite number, got ${JSON.stringify(value)}`);
  }
  if (field === 'originalMaxPositionEmbeddings' && !(Number.isSafeInteger(value) && value > 0 && value <= MAX_FACTOR)) {
    throw new PositionModeError(`${what}: ${key} must be a positive integer up to ${MAX_FACTOR}, got ${value}`);
  }
  if ((field === 'attentionFactor' || field === 'betaFast' || field === 'betaSlow') && !(value > 0 && value <= MAX_FACTOR)) {
    throw new PositionModeError(`${what}: ${key} must be > 0 and <= ${MAX_FACTOR}, got ${value}`);
  }
  if ((field === 'mscale' || field === 'mscaleAllDim') && !(value >= 0 && value <= MAX_FACTOR)) {
    throw new PositionModeError(`${what}: ${key} must be >= 0 and <= ${MAX_FACTOR}, got ${value}`);
  }
  return value;
}

/** YaRN's ramp runs from beta_fast rotations down to beta_slow (defaults 32 and 1): fast must not be below slow. */
function checkYarnBetas(mode: Record<string, unknown>, what: string): void {
  const fast = (mode.betaFast as number | undefined) ?? 32;
  const slow = (mode.betaSlow as number | undefined) ?? 1;
  if (fast < slow) throw new PositionModeError(`${what}: beta_fast (${fast}) must not be below beta_slow (${slow})`);
}

/**
 * Parses `rope`, `none`, `pi:F`, `ntk:F`, `dynamic:F`, `yarn:F` (HF's names `default`, `linear:F` and
 * `nope` are accepted too). YaRN takes its optional keys after the factor, comma-separated, as
 * formatPositionMode writes them: `yarn:4,original_max_position_embeddings=32,truncate=false`.
 */
export function parsePositionMode(text: string): PositionMode {
  const trimmed = text.trim();
  const what = `position mode "${text}"`;
  const colon = trimmed.indexOf(':');
  const name = (colon < 0 ? trimmed : trimmed.slice(0, colon)).toLowerCase();
  const rest = colon < 0 ? null : trimmed.slice(colon + 1);
  if (name === 'rope' || name === 'default' || name === 'none' || name === 'nope') {
    if (rest !== null) throw new PositionModeError(`${what}: ${name} takes no factor (expected ${MODES_HELP})`);
    return name === 'rope' || name === 'default' ? { kind: 'rope' } : { kind: 'none' };
  }
  const kind = name === 'linear' ? 'pi' : name;
  if (kind !== 'pi' && kind !== 'ntk' && kind !== 'dynamic' && kind !== 'yarn') {
    throw new PositionModeError(`unknown ${what}: expected ${MODES_HELP}`);
  }
  if (rest === null || rest.trim() === '') throw new PositionModeError(`${what}: ${name} needs a factor, as in ${name}:2`);
  const [factorText, ...options] = rest.split(',').map((s) => s.trim());
  const factor = checkFactor(parseNumber(factorText, what), what);
  if (kind !== 'yarn') {
    if (options.length > 0) throw new PositionModeError(`${what}: only yarn takes options after the factor`);
    return { kind, factor };
  }
  const mode: Record<string, unknown> = { kind, factor };
  for (const option of options) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const entry = YARN_KEYS.find(([k]) => k === key);
    if (!entry || eq < 0) {
      throw new PositionModeError(`${what}: "${option}" is not one of ${YARN_KEYS.map(([k]) => `${k}=…`).join(', ')}`);
    }
    const field = entry[1];
    if (field in mode) throw new PositionModeError(`${what}: ${key} is given twice`);
    const valueText = option.slice(eq + 1);
    const value =
      field === 'truncate' ? (valueText === 'true' ? true : valueText === 'false' ? false : valueText) : parseNumber(valueText, what);
    mode[field] = yarnValue(entry, value, what);
  }
  checkYarnBetas(mode, what);
  return mode as PositionMode;
}

/**
 * The canonical text form; parsePositionMode reads it back to an equal mode. Distinct modes give
 * distinct strings (the model caches its tables under this key).
 */
export function formatPositionMode(mode: PositionMode): string {
  switch (mode.kind) {
    case 'rope':
    case 'none':
      return mode.kind;
    case 'pi':
    case 'ntk':
    case 'dynamic':
      return `${mode.kind}:${mode.factor}`;
    case 'yarn': {
      const parts = [`yarn:${mode.factor}`];
      for (const [key, field] of YARN_KEYS) {
        if (mode[field] !== undefined) parts.push(`${key}=${mode[field]}`);
      }
      return parts.join(',');
    }
  }
}

// ---------------------------------------------------------------------------------- config.json

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The mode a checkpoint's config.json asks for, read as transformers v5 reads it: DroPE's
 * `attention_type` "nope" / "qk_norm_nope" means none; otherwise the rope dict is `rope_scaling`
 * (v4) when non-empty, else `rope_parameters` (v5); its `rope_type` (or v4's `type`, or "default")
 * picks the mode. HF's default/linear/dynamic/yarn are supported; any other rope type is an error.
 */
export function positionModeFromConfig(raw: Record<string, unknown>): PositionMode {
  const attentionType = raw.attention_type ?? 'rope';
  if (attentionType === 'nope' || attentionType === 'qk_norm_nope') return { kind: 'none' };
  if (attentionType !== 'rope') {
    throw new PositionModeError(`unsupported attention_type ${JSON.stringify(attentionType)} (expected rope, nope or qk_norm_nope)`);
  }

  // HF's convert_rope_params_to_dict: `rope_scaling or rope_parameters` (an empty dict counts as absent).
  let source = 'rope_scaling';
  let rope: unknown = raw.rope_scaling;
  if (!(isRecord(rope) && Object.keys(rope).length > 0)) {
    if (rope !== undefined && rope !== null && !isRecord(rope)) {
      throw new PositionModeError(`rope_scaling must be an object or null, got ${JSON.stringify(rope)}`);
    }
    source = 'rope_parameters';
    rope = raw.rope_parameters ?? {};
    if (!isRecord(rope)) throw new PositionModeError(`rope_parameters must be an object, got ${JSON.stringify(rope)}`);
  }
  const params = rope as Record<string, unknown>;
  const nestedKeys = Object.keys(params).filter((k) => isRecord(params[k]));
  if (nestedKeys.length > 0) {
    throw new PositionModeError(
      `unsupported ${source}: per-layer-type rope parameters (${nestedKeys.join(', ')}); one rope for every layer only`,
    );
  }

  const ropeType = params.rope_type ?? params.type ?? 'default';
  const what = `${source} (rope_type ${JSON.stringify(ropeType)})`;
  const factorOf = () => {
    if (!('factor' in params)) throw new PositionModeError(`${what} needs a "factor"`);
    return checkFactor(params.factor, what);
  };
  switch (ropeType) {
    case 'default':
      return { kind: 'rope' };
    case 'linear':
      return { kind: 'pi', factor: factorOf() };
    case 'dynamic':
      return { kind: 'dynamic', factor: factorOf() };
    case 'yarn':
      return yarnFromConfig(raw, params, what);
    default:
      throw new PositionModeError(`unsupported ${what}: this engine runs the rope types default, linear, dynamic and yarn`);
  }
}

function yarnFromConfig(raw: Record<string, unknown>, params: Record<string, unknown>, what: string): PositionMode {
  const mode: Record<string, unknown> = { kind: 'yarn' };
  for (const entry of YARN_KEYS) {
    const [key, field] = entry;
    // HF reads these with .get(): a JSON null is the same as absent.
    if (params[key] !== undefined && params[key] !== null) mode[field] = yarnValue(entry, params[key], what);
  }
  // standardize_rope_params: a top-level original_max_position_embeddings (Phi-3 style) wins.
  if (raw.original_max_position_embeddings !== undefined && raw.original_max_position_embeddings !== null) {
    mode.originalMaxPositionEmbeddings = yarnValue(YARN_KEYS[0], raw.original_max_position_embeddings, 'config.json');
  }
  // HF requires the factor key (validation raises KeyError without it) but lets it be null, and
  // then takes the ratio max_position_embeddings / original_max_position_embeddings.
  if (!('factor' in params)) throw new PositionModeError(`${what} needs a "factor"`);
  if (params.factor === null) {
    const M = raw.max_position_embeddings ?? LLAMA_DEFAULTS.max_position_embeddings;
    if (typeof M !== 'number' || !(M > 0))
      throw new PositionModeError(`max_position_embeddings must be a positive number, got ${JSON.stringify(M)}`);
    const M0 = (mode.originalMaxPositionEmbeddings as number | undefined) ?? M;
    mode.factor = checkFactor(M / M0, what);
  } else {
    mode.factor = checkFactor(params.factor, what);
  }
  checkYarnBetas(mode, what);
  return mode as PositionMode;
}

// ----------------------------------------------------------------------------------- the tables

const f32 = Math.fround;

function checkParams(params: RotaryParams, seqLen: number): void {
  const { headDim, ropeTheta, maxPositionEmbeddings } = params;
  if (!Number.isSafeInteger(headDim) || headDim < 2 || headDim % 2 !== 0) {
    throw new PositionModeError(`rotary tables: headDim must be an even integer >= 2, got ${headDim}`);
  }
  if (!Number.isFinite(ropeTheta) || ropeTheta <= 1) throw new PositionModeError(`rotary tables: ropeTheta must be > 1, got ${ropeTheta}`);
  if (!Number.isSafeInteger(maxPositionEmbeddings) || maxPositionEmbeddings <= 0) {
    throw new PositionModeError(`rotary tables: maxPositionEmbeddings must be a positive integer, got ${maxPositionEmbeddings}`);
  }
  // Positions and L must be exact in float32, as they are for torch.
  if (!Number.isSafeInteger(seqLen) || seqLen < 1 || seqLen > 2 ** 24) {
    throw new PositionModeError(`rotary tables: seqLen must be an integer in 1..2^24, got ${seqLen}`);
  }
}

/** θ^(2k/d) for k < d/2, each rounded as torch's float32 `base ** (arange(0, d, 2).float() / d)`. */
function basePowers(base: number, dim: number): Float32Array {
  const b = f32(base);
  const out = new Float32Array(dim / 2);
  for (let k = 0; k < dim / 2; k++) out[k] = f32(Math.pow(b, f32((2 * k) / dim)));
  return out;
}

/** inv_freq = 1 / θ^(2k/d) (HF's compute_default_rope_parameters). */
function defaultInvFreq(base: number, dim: number): Float32Array {
  return basePowers(base, dim).map((x) => f32(1 / x));
}

/** θ' of dynamic NTK for sequence length L (see the header for the float32 path when L > M). */
function dynamicBase(theta: number, factor: number, dim: number, M: number, L: number): number {
  const exponent = dim / (dim - 2);
  if (L <= M) return theta * ((factor * M) / M - (factor - 1)) ** exponent; // Python floats, seq_len = M
  const a = f32(f32(factor) * L);
  const b = f32(a / f32(M));
  const c = f32(b - f32(factor - 1));
  return f32(f32(theta) * f32(Math.pow(c, exponent)));
}

function yarnInvFreq(mode: Extract<PositionMode, { kind: 'yarn' }>, theta: number, dim: number, M: number) {
  const F = mode.factor;
  const M0 = mode.originalMaxPositionEmbeddings ?? M;
  const mscaleOf = (scale: number, m = 1) => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
  let attentionScaling = mode.attentionFactor;
  if (attentionScaling === undefined) {
    // Python truthiness: 0 counts as absent.
    attentionScaling = mode.mscale && mode.mscaleAllDim ? mscaleOf(F, mode.mscale) / mscaleOf(F, mode.mscaleAllDim) : mscaleOf(F);
  }
  const betaFast = mode.betaFast || 32;
  const betaSlow = mode.betaSlow || 1;
  const truncate = mode.truncate ?? true;
  const correctionDim = (rotations: number) => (dim * Math.log(M0 / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
  let lo = correctionDim(betaFast);
  let hi = correctionDim(betaSlow);
  if (truncate) {
    lo = Math.floor(lo);
    hi = Math.ceil(hi);
  }
  lo = Math.max(lo, 0);
  hi = Math.min(hi, dim - 1);
  if (lo === hi) hi += 0.001; // HF: "Prevent singularity"

  const pos = basePowers(theta, dim);
  const inv = new Float32Array(dim / 2);
  const fLo = f32(lo);
  const span = f32(hi - lo);
  const fF = f32(F);
  for (let k = 0; k < dim / 2; k++) {
    const extrapolation = f32(1 / pos[k]);
    const interpolation = f32(1 / f32(fF * pos[k]));
    const ramp = Math.min(1, Math.max(0, f32(f32(k - fLo) / span)));
    const e = f32(1 - ramp);
    inv[k] = f32(f32(interpolation * f32(1 - e)) + f32(extrapolation * e));
  }
  return { invFreq: inv, attentionScaling };
}

/**
 * HF's (inv_freq, attention_scaling) for this mode at sequence length `seqLen` (only dynamic uses
 * it), or null for none. inv_freq has D/2 float32 entries.
 */
export function inverseFrequencies(
  mode: PositionMode,
  params: RotaryParams,
  seqLen: number,
): { invFreq: Float32Array; attentionScaling: number } | null {
  checkParams(params, seqLen);
  const { headDim: dim, ropeTheta: theta, maxPositionEmbeddings: M } = params;
  switch (mode.kind) {
    case 'none':
      return null;
    case 'rope':
      return { invFreq: defaultInvFreq(theta, dim), attentionScaling: 1 };
    case 'pi': {
      const F = f32(checkFactor(mode.factor, 'pi'));
      return { invFreq: defaultInvFreq(theta, dim).map((x) => f32(x / F)), attentionScaling: 1 };
    }
    case 'ntk': {
      const F = checkFactor(mode.factor, 'ntk');
      return { invFreq: defaultInvFreq(theta * F ** (dim / (dim - 2)), dim), attentionScaling: 1 };
    }
    case 'dynamic': {
      const F = checkFactor(mode.factor, 'dynamic');
      return { invFreq: defaultInvFreq(dynamicBase(theta, F, dim, M, seqLen), dim), attentionScaling: 1 };
    }
    case 'yarn':
      checkFactor(mode.factor, 'yarn');
      return yarnInvFreq(mode, theta, dim, M);
  }
}

/**
 * Whether the tables of this mode at sequence length L differ from those at shorter lengths:
 * only dynamic NTK past max_position_embeddings, which recomputes θ' from L. For every other mode
 * (and dynamic up to M) the tables of a longer length hold those of a shorter one as their first rows.
 */
export function tablesDependOnLength(mode: PositionMode, maxPositionEmbeddings: number, L: number): boolean {
  return mode.kind === 'dynamic' && L > maxPositionEmbeddings;
}

/**
 * cos and sin [positions, headDim/2] for positions 0 .. positions-1 (default seqLen) at sequence
 * length seqLen, HF's attention scaling multiplied in (LlamaRotaryEmbedding.forward), or null for
 * none (RoPE dropped: the rotation is the identity). More positions than seqLen is a KV cache's
 * room for the tokens to come.
 */
export function rotaryTables(
  mode: PositionMode,
  params: RotaryParams,
  seqLen: number,
  positions = seqLen,
): { cos: Float32Array; sin: Float32Array } | null {
  const frequencies = inverseFrequencies(mode, params, seqLen);
  if (!frequencies) return null;
  if (!Number.isSafeInteger(positions) || positions < 1 || positions > 2 ** 24) {
    throw new PositionModeError(`rotary tables: positions must be an integer in 1..2^24, got ${positions}`);
  }
  const { invFreq, attentionScaling } = frequencies;
  const half = invFreq.length;
  const scale = f32(attentionScaling);
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let k = 0; k < half; k++) {
      const angle = f32(p * invFreq[k]);
      cos[p * half + k] = f32(f32(Math.cos(angle)) * scale);
      sin[p * half + k] = f32(f32(Math.sin(angle)) * scale);
    }
  }
  return { cos, sin };
}
