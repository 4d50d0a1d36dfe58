import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  formatPositionMode,
  inverseFrequencies,
  parsePositionMode,
  positionModeFromConfig,
  rotaryTables,
  type PositionMode,
  type RotaryParams,
} from '../../src/model/positions.ts';
import { describeWithFixtures } from '../helpers/describe-fixtures.ts';
import { FIXTURES } from '../helpers/fixtures.ts';

// ------------------------------------------------------------------------------------------------
// An independent float64 re-derivation of Hugging Face's formulas (transformers v5
// modeling_rope_utils.py), written from the formulas, not from positions.ts: no float32 anywhere.

interface Reference {
  inv: number[];
  scale: number;
}

function referenceFrequencies(mode: PositionMode, D: number, theta: number, M: number, L: number): Reference {
  const ks = Array.from({ length: D / 2 }, (_, k) => k);
  const rope = (base: number) => ks.map((k) => base ** (-(2 * k) / D));
  switch (mode.kind) {
    case 'rope':
      return { inv: rope(theta), scale: 1 };
    case 'pi':
      return { inv: rope(theta).map((w) => w / mode.factor), scale: 1 };
    case 'ntk':
      return { inv: rope(theta * mode.factor ** (D / (D - 2))), scale: 1 };
    case 'dynamic': {
      // seq_len = max(L, M): at or below M the base is θ itself.
      const F = mode.factor;
      const S = Math.max(L, M);
      return { inv: rope(theta * (F * (S / M) - F + 1) ** (D / (D - 2))), scale: 1 };
    }
    case 'yarn': {
      const F = mode.factor;
      const M0 = mode.originalMaxPositionEmbeddings ?? M;
      // The dimension at which a frequency completes `r` rotations over M0 positions.
      const dimFor = (r: number) => (D * Math.log(M0 / (2 * Math.PI * r))) / (2 * Math.log(theta));
      const truncate = mode.truncate ?? true;
      const betaFast = mode.betaFast ? mode.betaFast : 32;
      const betaSlow = mode.betaSlow ? mode.betaSlow : 1;
      const low = Math.max(truncate ? Math.floor(dimFor(betaFast)) : dimFor(betaFast), 0);
      let high = Math.min(truncate ? Math.ceil(dimFor(betaSlow)) : dimFor(betaSlow), D - 1);
      if (high === low) high += 0.001;
      const inv = rope(theta).map((w, k) => {
        const interpolated = Math.min(1, Math.max(0, (k - low) / (high - low))); // share of w / F
        return (w / F) * interpolated + w * (1 - interpolated);
      });
      const g = (m: number) => (F <= 1 ? 1 : 0.1 * m * Math.log(F) + 1);
      const scale = mode.attentionFactor ?? (mode.mscale && mode.mscaleAllDim ? g(mode.mscale) / g(mode.mscaleAllDim) : g(1));
      return { inv, scale };
    }
    case 'none':
      throw new Error('none has no frequencies');
  }
}

// Tolerances. torch rounds to float32 the exponent 2k/d (inexact when d is not a power of two: up to
// ln θ · 2^-25 relative, 4e-7 at θ = 5e5), the power, the reciprocal and, for dynamic NTK beyond M,
// the base itself; positions.ts mirrors that, so its inv_freq sits up to ~8 float32 ulps (5e-7)
// from the float64 formula. 1e-6 relative leaves a 2x margin; a formula mistake (a wrong exponent,
// base, factor or ramp) is off by 1e-3 or more.
const INV_FREQ_RTOL = 1e-6;
// cos/sin: 1e-6 on the values, plus that same relative error carried by the angle p·inv_freq
// (torch also rounds the angle itself to float32, 2^-24 relative), so 1e-6 · angle on top.
const TABLE_ATOL = 1e-6;
const ANGLE_RTOL = 1e-6;

function checkMode(mode: PositionMode, params: RotaryParams, L: number): void {
  const { headDim: D, ropeTheta: theta, maxPositionEmbeddings: M } = params;
  const what = `${formatPositionMode(mode)} D=${D} θ=${theta} M=${M} L=${L}`;
  const want = referenceFrequencies(mode, D, theta, M, L);
  const got = inverseFrequencies(mode, params, L)!;
  expect(got.invFreq.length, what).toBe(D / 2);
  expect(got.attentionScaling, `${what}: attention scaling`).toBeCloseTo(want.scale, 12);
  for (let k = 0; k < D / 2; k++) {
    const rel = Math.abs(got.invFreq[k] - want.inv[k]) / want.inv[k];
    if (!(rel <= INV_FREQ_RTOL)) throw new Error(`${what}: inv_freq[${k}] = ${got.invFreq[k]}, want ${want.inv[k]} (rel ${rel})`);
  }
  const tables = rotaryTables(mode, params, L)!;
  expect(tables.cos.length, what).toBe(L * (D / 2));
  expect(tables.sin.length, what).toBe(L * (D / 2));
  let worst = 0;
  for (let p = 0; p < L; p++) {
    for (let k = 0; k < D / 2; k++) {
      const angle = p * want.inv[k];
      const limit = TABLE_ATOL + ANGLE_RTOL * angle;
      const i = p * (D / 2) + k;
      for (const [name, value, expected] of [
        ['cos', tables.cos[i], Math.cos(angle) * want.scale],
        ['sin', tables.sin[i], Math.sin(angle) * want.scale],
      ] as const) {
        const diff = Math.abs(value - expected);
        worst = Math.max(worst, diff);
        if (!(diff <= limit)) throw new Error(`${what}: ${name}[p=${p}, k=${k}] = ${value}, want ${expected} (diff ${diff} > ${limit})`);
      }
    }
  }
  console.log(`${what}: max table diff ${worst.toExponential(2)}`);
}

describe('rotary tables match the float64 re-derivation of HF formulas', () => {
  const modes: PositionMode[] = [
    { kind: 'rope' },
    { kind: 'pi', factor: 4 },
    { kind: 'pi', factor: 2.5 },
    { kind: 'ntk', factor: 4 },
    { kind: 'ntk', factor: 1.7 },
    { kind: 'dynamic', factor: 2 },
    { kind: 'dynamic', factor: 8 },
    { kind: 'yarn', factor: 4 },
    { kind: 'yarn', factor: 16 },
    { kind: 'yarn', factor: 1 }, // g(1) = 1: no attention scaling, interpolation = extrapolation
    { kind: 'yarn', factor: 8, originalMaxPositionEmbeddings: 16 },
    { kind: 'yarn', factor: 3.3, truncate: false },
    { kind: 'yarn', factor: 4, betaFast: 8, betaSlow: 2 },
    { kind: 'yarn', factor: 4, betaFast: 0, betaSlow: 0 }, // 0 means "use the default" (Python `or`)
    { kind: 'yarn', factor: 40, mscale: 1, mscaleAllDim: 0.707 },
    { kind: 'yarn', factor: 40, mscale: 1, mscaleAllDim: 0 }, // both needed: falls back to g(1)
    { kind: 'yarn', factor: 4, attentionFactor: 1.25 },
  ];
  // Head dims 16..128, powers of two and not; θ of Llama 2 and Llama 3; M small so that L runs
  // beyond it (dynamic rescales there); L = 1 too.
  const shapes = [
    { headDim: 16, ropeTheta: 10000, maxPositionEmbeddings: 64, L: [1, 48, 160] },
    { headDim: 24, ropeTheta: 500000, maxPositionEmbeddings: 32, L: [32, 77] },
    { headDim: 64, ropeTheta: 10000, maxPositionEmbeddings: 128, L: [100, 300] },
    { headDim: 128, ropeTheta: 500000, maxPositionEmbeddings: 64, L: [65] },
  ];
  for (const mode of modes) {
    it(formatPositionMode(mode), () => {
      for (const { L, ...params } of shapes) for (const length of L) checkMode(mode, params, length);
    });
  }

  it('default RoPE by hand: D = 4, θ = 100 gives inv_freq [1, 0.1]', () => {
    const { cos, sin } = rotaryTables({ kind: 'rope' }, { headDim: 4, ropeTheta: 100, maxPositionEmbeddings: 8 }, 3)!;
    const want = [0, 0, 1, 0.1, 2, 0.2];
    expect([...cos]).toEqual(want.map((a) => Math.fround(Math.cos(Math.fround(a)))));
    expect([...sin]).toEqual(want.map((a) => Math.fround(Math.sin(Math.fround(a)))));
  });

  it('none has no tables', () => {
    expect(rotaryTables({ kind: 'none' }, { headDim: 16, ropeTheta: 1e4, maxPositionEmbeddings: 8 }, 4)).toBeNull();
    expect(inverseFrequencies({ kind: 'none' }, { headDim: 16, ropeTheta: 1e4, maxPositionEmbeddings: 8 }, 4)).toBeNull();
  });

  it('dynamic NTK is exactly default RoPE up to max_position_embeddings, and rescales beyond it', () => {
    const params = { headDim: 32, ropeTheta: 10000, maxPositionEmbeddings: 64 };
    const rope = rotaryTables({ kind: 'rope' }, params, 64)!;
    const dynamic = rotaryTables({ kind: 'dynamic', factor: 4 }, params, 64)!;
    expect(dynamic.cos).toEqual(rope.cos);
    expect(dynamic.sin).toEqual(rope.sin);
    // Beyond M every table row changes (base rescaled from L), including rows below M.
    const longer = rotaryTables({ kind: 'dynamic', factor: 4 }, params, 65)!;
    expect(longer.cos.subarray(16 * 10, 16 * 11)).not.toEqual(rope.cos.subarray(16 * 10, 16 * 11));
  });

  it('YaRN multiplies cos and sin by the attention factor: cos² + sin² = s²', () => {
    const s = 0.1 * Math.log(8) + 1;
    const { cos, sin } = rotaryTables({ kind: 'yarn', factor: 8 }, { headDim: 16, ropeTheta: 1e4, maxPositionEmbeddings: 32 }, 40)!;
    for (let i = 0; i < cos.length; i++) expect(cos[i] ** 2 + sin[i] ** 2).toBeCloseTo(s * s, 5);
  });

  it('a run-time yarn:F uses the config max_position_embeddings as original_max_position_embeddings', () => {
    const params = { headDim: 32, ropeTheta: 10000, maxPositionEmbeddings: 64 };
    const fromConfig = positionModeFromConfig({
      max_position_embeddings: 64,
      rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 64 },
    });
    expect(rotaryTables(parsePositionMode('yarn:4'), params, 100)).toEqual(rotaryTables(fromConfig, params, 100));
    const shorter = { ...fromConfig, originalMaxPositionEmbeddings: 16 } as PositionMode;
    expect(rotaryTables(shorter, params, 100)).not.toEqual(rotaryTables(fromConfig, params, 100));
  });

  it('rejects bad parameters', () => {
    const ok = { headDim: 16, ropeTheta: 1e4, maxPositionEmbeddings: 8 };
    expect(() => rotaryTables({ kind: 'rope' }, { ...ok, headDim: 15 }, 4)).toThrow(/headDim/);
    expect(() => rotaryTables({ kind: 'rope' }, ok, 0)).toThrow(/seqLen/);
    expect(() => rotaryTables({ kind: 'rope' }, ok, 2.5)).toThrow(/seqLen/);
    expect(() => rotaryTables({ kind: 'rope' }, { ...ok, ropeTheta: 0 }, 4)).toThrow(/ropeTheta/);
    expect(() => rotaryTables({ kind: 'rope' }, { ...ok, maxPositionEmbeddings: 0 }, 4)).toThrow(/maxPositionEmbeddings/);
    expect(() => rotaryTables({ kind: 'pi', factor: 0 }, ok, 4)).toThrow(/factor/);
    expect(() => rotaryTables({ kind: 'yarn', factor: NaN }, ok, 4)).toThrow(/factor/);
  });
});

describe('text form', () => {
  it('parses every mode and formats it back', () => {
    const cases: [string, PositionMode, string][] = [
      ['rope', { kind: 'rope' }, 'rope'],
      ['none', { kind: 'none' }, 'none'],
      ['pi:4', { kind: 'pi', factor: 4 }, 'pi:4'],
      ['ntk:2.5', { kind: 'ntk', factor: 2.5 }, 'ntk:2.5'],
      ['dynamic:8', { kind: 'dynamic', factor: 8 }, 'dynamic:8'],
      ['yarn:16', { kind: 'yarn', factor: 16 }, 'yarn:16'],
      // HF's names and loose spelling.
      ['default', { kind: 'rope' }, 'rope'],
      ['nope', { kind: 'none' }, 'none'],
      ['linear:2', { kind: 'pi', factor: 2 }, 'pi:2'],
      ['  YaRN:4.0 ', { kind: 'yarn', factor: 4 }, 'yarn:4'],
      ['pi:1e1', { kind: 'pi', factor: 10 }, 'pi:10'],
      [
        'yarn:4, truncate=false, original_max_position_embeddings=32,beta_fast=16,mscale_all_dim=0.5,mscale=1,attention_factor=1.2,beta_slow=2',
        {
          kind: 'yarn',
          factor: 4,
          truncate: false,
          originalMaxPositionEmbeddings: 32,
          betaFast: 16,
          betaSlow: 2,
          mscale: 1,
          mscaleAllDim: 0.5,
          attentionFactor: 1.2,
        },
        'yarn:4,original_max_position_embeddings=32,attention_factor=1.2,beta_fast=16,beta_slow=2,mscale=1,mscale_all_dim=0.5,truncate=false',
      ],
    ];
    for (const [text, mode, canonical] of cases) {
      expect(parsePositionMode(text), text).toEqual(mode);
      expect(formatPositionMode(mode), text).toBe(canonical);
      expect(parsePositionMode(canonical), canonical).toEqual(mode);
    }
  });

  it('round-trips factors exactly', () => {
    for (const factor of [1, 1.5, 1 / 3, 0.1, 123456.789, 1e-7, 2 ** 24]) {
      for (const kind of ['pi', 'ntk', 'dynamic', 'yarn'] as const) {
        const mode = { kind, factor } as PositionMode;
        expect(parsePositionMode(formatPositionMode(mode))).toEqual(mode);
      }
    }
  });

  it('gives distinct modes distinct strings (the model caches tables under them)', () => {
    const modes: PositionMode[] = [
      { kind: 'yarn', factor: 4 },
      { kind: 'yarn', factor: 4, originalMaxPositionEmbeddings: 32 },
      { kind: 'yarn', factor: 4, truncate: false },
      { kind: 'pi', factor: 4 },
      { kind: 'ntk', factor: 4 },
      { kind: 'dynamic', factor: 4 },
    ];
    expect(new Set(modes.map(formatPositionMode)).size).toBe(modes.length);
  });

  it('rejects malformed text with a message that lists the modes', () => {
    const bad: [string, RegExp][] = [
      ['', /unknown position mode/],
      ['alibi', /expected rope \| none \| pi:F/],
      ['pi', /needs a factor/],
      ['yarn:', /needs a factor/],
      ['pi:0', /> 0/],
      ['pi:-2', /> 0/],
      ['ntk:abc', /not a number/],
      ['ntk:0x10', /not a number/],
      ['dynamic:Infinity', /not a number/],
      ['rope:2', /takes no factor/],
      ['none:1', /takes no factor/],
      ['ntk:2,beta_fast=3', /only yarn takes options/],
      ['yarn:2,alpha=1', /not one of/],
      ['yarn:2,beta_fast', /not one of/],
      ['yarn:2,truncate=maybe', /truncate must be true or false/],
      ['yarn:2,beta_fast=1,beta_fast=2', /given twice/],
      ['yarn:2,original_max_position_embeddings=1.5', /positive integer/],
      ['yarn:2,attention_factor=0', /attention_factor must be > 0/],
      ['yarn:2,beta_fast=-1', /beta_fast must be > 0/],
      ['yarn:2,beta_fast=2,beta_slow=4', /beta_fast \(2\) must not be below beta_slow \(4\)/],
      ['pi:1e300', /outside/],
    ];
    for (const [text, message] of bad) expect(() => parsePositionMode(text), text).toThrow(message);
  });
});

describe('positionModeFromConfig', () => {
  const base = { model_type: 'llama', max_position_embeddings: 64, rope_theta: 10000 };

  it('reads transformers v4 configs (rope_theta + rope_scaling with type or rope_type)', () => {
    expect(positionModeFromConfig({ ...base })).toEqual({ kind: 'rope' });
    expect(positionModeFromConfig({ ...base, rope_scaling: null })).toEqual({ kind: 'rope' });
    expect(positionModeFromConfig({ ...base, rope_scaling: { type: 'linear', factor: 2 } })).toEqual({ kind: 'pi', factor: 2 });
    expect(positionModeFromConfig({ ...base, rope_scaling: { rope_type: 'dynamic', factor: 3 } })).toEqual({ kind: 'dynamic', factor: 3 });
    // rope_type wins over the older `type`, as in HF's standardize_rope_params.
    expect(positionModeFromConfig({ ...base, rope_scaling: { type: 'linear', rope_type: 'dynamic', factor: 3 } })).toEqual({
      kind: 'dynamic',
      factor: 3,
    });
    expect(
      positionModeFromConfig({
        ...base,
        rope_scaling: {
          type: 'yarn',
          factor: 40,
          original_max_position_embeddings: 16,
          beta_fast: 32,
          beta_slow: 1,
          mscale: 1.0,
          mscale_all_dim: 0.707,
          attention_factor: null,
        },
      }),
    ).toEqual({ kind: 'yarn', factor: 40, originalMaxPositionEmbeddings: 16, betaFast: 32, betaSlow: 1, mscale: 1, mscaleAllDim: 0.707 });
  });

  it('reads transformers v5 configs (rope_parameters with rope_type and rope_theta)', () => {
    const v5 = { model_type: 'llama', max_position_embeddings: 64 };
    expect(positionModeFromConfig({ ...v5, rope_parameters: { rope_type: 'default', rope_theta: 500000 } })).toEqual({ kind: 'rope' });
    expect(positionModeFromConfig({ ...v5, rope_parameters: { rope_type: 'linear', rope_theta: 1e4, factor: 8 } })).toEqual({
      kind: 'pi',
      factor: 8,
    });
    expect(positionModeFromConfig({ ...v5, rope_parameters: { rope_type: 'yarn', rope_theta: 1e4, factor: 4, truncate: false } })).toEqual({
      kind: 'yarn',
      factor: 4,
      truncate: false,
    });
    // An explicit factor is used as given even when it disagrees with M / M0 (v5; v4.5x overrode it).
    expect(
      positionModeFromConfig({ ...v5, rope_parameters: { rope_type: 'yarn', factor: 2, original_max_position_embeddings: 16 } }),
    ).toEqual({ kind: 'yarn', factor: 2, originalMaxPositionEmbeddings: 16 });
    // factor: null → max_position_embeddings / original_max_position_embeddings.
    expect(
      positionModeFromConfig({ ...v5, rope_parameters: { rope_type: 'yarn', factor: null, original_max_position_embeddings: 16 } }),
    ).toEqual({ kind: 'yarn', factor: 4, originalMaxPositionEmbeddings: 16 });
    // A top-level original_max_position_embeddings (Phi-3 style) wins over the rope dict's.
    expect(
      positionModeFromConfig({
        ...v5,
        original_max_position_embeddings: 8,
        rope_parameters: { rope_type: 'yarn', factor: 8, original_max_position_embeddings: 16 },
      }),
    ).toEqual({ kind: 'yarn', factor: 8, originalMaxPositionEmbeddings: 8 });
    // `rope_scaling or rope_parameters`: an empty rope_scaling counts as absent; a non-empty one wins.
    expect(positionModeFromConfig({ ...v5, rope_scaling: {}, rope_parameters: { rope_type: 'dynamic', factor: 2 } })).toEqual({
      kind: 'dynamic',
      factor: 2,
    });
    expect(
      positionModeFromConfig({ ...v5, rope_scaling: { type: 'linear', factor: 3 }, rope_parameters: { rope_type: 'dynamic', factor: 2 } }),
    ).toEqual({ kind: 'pi', factor: 3 });
  });

  it("reads DroPE's attention_type: nope and qk_norm_nope drop RoPE", () => {
    for (const attention_type of ['nope', 'qk_norm_nope']) {
      const raw = { ...base, model_type: 'llama_drope', attention_type, rope_scaling: { type: 'yarn', factor: 4 } };
      expect(positionModeFromConfig(raw)).toEqual({ kind: 'none' });
    }
    expect(positionModeFromConfig({ ...base, model_type: 'llama_drope', attention_type: 'rope' })).toEqual({ kind: 'rope' });
  });

  it('rejects rope types and values it cannot run, saying so', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 } }, /unsupported.*"llama3"/],
      [{ rope_parameters: { rope_type: 'longrope', short_factor: [1], long_factor: [2] } }, /unsupported.*"longrope"/],
      [{ rope_scaling: { type: 'su', factor: 2 } }, /unsupported.*"su"/],
      [{ attention_type: 'alibi' }, /unsupported attention_type "alibi"/],
      [{ rope_scaling: { type: 'linear' } }, /needs a "factor"/],
      [{ rope_scaling: { type: 'yarn' } }, /needs a "factor"/],
      [{ rope_scaling: { type: 'dynamic', factor: 0 } }, /factor must be a finite number > 0/],
      [{ rope_scaling: { type: 'linear', factor: '2' } }, /factor must be a finite number > 0/],
      [{ rope_scaling: { type: 'yarn', factor: 2, beta_fast: 'fast' } }, /beta_fast must be a finite number/],
      // Values that would zero every rotation, take the logarithm of a negative number or overflow float32.
      [{ rope_scaling: { type: 'yarn', factor: 2, attention_factor: 0 } }, /attention_factor must be > 0 and <= 16777216, got 0/],
      [{ rope_scaling: { type: 'yarn', factor: 2, attention_factor: -1 } }, /attention_factor must be > 0/],
      [{ rope_scaling: { type: 'yarn', factor: 2, beta_fast: -32 } }, /beta_fast must be > 0 and <= 16777216, got -32/],
      [{ rope_scaling: { type: 'yarn', factor: 2, beta_slow: 64 } }, /beta_fast \(32\) must not be below beta_slow \(64\)/],
      [{ rope_scaling: { type: 'yarn', factor: 2, mscale: -1 } }, /mscale must be >= 0/],
      [{ rope_scaling: { type: 'linear', factor: 1e30 } }, /the factor 1e\+30 is outside/],
      [{ rope_scaling: { type: 'dynamic', factor: 1e-30 } }, /the factor 1e-30 is outside/],
      [{ rope_scaling: { type: 'yarn', factor: 2, truncate: 1 } }, /truncate must be true or false/],
      [{ rope_scaling: 'yarn' }, /rope_scaling must be an object/],
      [{ rope_parameters: { full_attention: { rope_type: 'default' }, sliding_attention: { rope_type: 'default' } } }, /per-layer/],
    ];
    for (const [extra, message] of bad) {
      expect(() => positionModeFromConfig({ ...base, ...extra }), JSON.stringify(extra)).toThrow(message);
    }
  });

  describeWithFixtures('the fixture checkpoints', () => {
    it('reads the fixture checkpoints: llama-rope is default RoPE, llama-nope drops it', () => {
      const read = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name, 'config.json'), 'utf8'));
      expect(positionModeFromConfig(read('llama-rope'))).toEqual({ kind: 'rope' });
      expect(positionModeFromConfig(read('llama-nope'))).toEqual({ kind: 'none' });
    });
  });
});
