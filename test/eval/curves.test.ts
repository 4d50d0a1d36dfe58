// The pure logic of perplexity curves (src/eval/curves.ts): which series run, the position mode
// of each at each length, and the eval-file reader the web app uses, including every way a file
// can be wrong.

import { describe, expect, it } from 'vitest';
import {
  defaultSeriesKinds,
  EVAL_FORMAT,
  EVAL_VERSION,
  EvalFormatError,
  parseEvalJson,
  parseSeriesKinds,
  planSeries,
  scalingFactor,
  seriesMode,
  seriesRecord,
  SERIES_KINDS,
  type EvalFile,
} from '../../src/eval/curves.ts';
import { formatPositionMode } from '../../src/model/positions.ts';

const C = 64;
const context = { trainContext: C, maxPositionEmbeddings: C };

describe('series modes per length', () => {
  it('s = max(1, L / C_train)', () => {
    expect(scalingFactor(32, C)).toBe(1);
    expect(scalingFactor(64, C)).toBe(1);
    expect(scalingFactor(96, C)).toBe(1.5);
    expect(scalingFactor(256, C)).toBe(4);
  });

  it('every scaled mode is plain RoPE at or below C_train and uses factor L / C_train above it', () => {
    const table: Record<string, string[]> = {};
    for (const kind of SERIES_KINDS) table[kind] = [16, 64, 65, 128, 1000].map((L) => formatPositionMode(seriesMode(kind, L, context)));
    expect(table).toEqual({
      rope: ['rope', 'rope', 'rope', 'rope', 'rope'],
      pi: ['rope', 'rope', `pi:${65 / 64}`, 'pi:2', 'pi:15.625'],
      ntk: ['rope', 'rope', `ntk:${65 / 64}`, 'ntk:2', 'ntk:15.625'],
      yarn: ['rope', 'rope', `yarn:${65 / 64}`, 'yarn:2', 'yarn:15.625'],
      dynamic: ['rope', 'rope', `dynamic:${65 / 64}`, 'dynamic:2', 'dynamic:15.625'],
      crop: ['rope', 'rope', 'rope', 'rope', 'rope'],
      none: ['none', 'none', 'none', 'none', 'none'],
    });
  });

  it('YaRN takes C_train as its original context when it differs from max_position_embeddings', () => {
    const other = { trainContext: 32, maxPositionEmbeddings: 128 };
    expect(formatPositionMode(seriesMode('yarn', 64, other))).toBe('yarn:2,original_max_position_embeddings=32');
    expect(formatPositionMode(seriesMode('pi', 64, other))).toBe('pi:2');
    expect(formatPositionMode(seriesMode('yarn', 32, other))).toBe('rope');
  });

  it('plans: ids, labels, symbolic positions, beta_c only on none, a mode for every length', () => {
    const lengths = [32, 64, 128];
    const plans = planSeries(SERIES_KINDS, lengths, { ...context, betaC: 0.25, attentionType: 'rope' });
    expect(plans.map((p) => [p.id, p.label, p.positions, p.beta_c])).toEqual([
      ['rope', 'RoPE', 'rope', 0],
      ['pi', 'PI', 'pi:L/C', 0],
      ['ntk', 'NTK', 'ntk:L/C', 0],
      ['yarn', 'YaRN', 'yarn:L/C', 0],
      ['dynamic', 'Dynamic NTK', 'dynamic:L/C', 0],
      ['crop', 'RoPE, cropped to the last 64 tokens', 'rope', 0],
      ['none', 'RoPE dropped, β c=0.25', 'none', 0.25],
    ]);
    for (const plan of plans) expect([...plan.modes.keys()]).toEqual(lengths);
    // Only the crop series has an attention window: C_train.
    expect(plans.map((p) => p.window)).toEqual([undefined, undefined, undefined, undefined, undefined, C, undefined]);
    expect(formatPositionMode(plans[3].modes.get(128)!)).toBe('yarn:2');
    // A model trained without positions: its none series is DroPE.
    const drope = planSeries(['none'], lengths, { ...context, betaC: 0, attentionType: 'qk_norm_nope' });
    expect(drope[0].label).toBe('DroPE');
    expect(drope[0].beta_c).toBe(0);
  });

  it('defaults: the RoPE family, plus none with --beta-c or for a model without positions', () => {
    const family = ['rope', 'pi', 'ntk', 'yarn', 'dynamic', 'crop'];
    expect(defaultSeriesKinds('rope', false)).toEqual(family);
    expect(defaultSeriesKinds('rope', true)).toEqual([...family, 'none']);
    expect(defaultSeriesKinds('nope', false)).toEqual([...family, 'none']);
    expect(defaultSeriesKinds('qk_norm_nope', false)).toEqual([...family, 'none']);
  });

  it('--modes: known kinds, each once, in the canonical order', () => {
    expect(parseSeriesKinds('none,rope, YaRN')).toEqual(['rope', 'yarn', 'none']);
    expect(() => parseSeriesKinds('rope,spiral')).toThrow(/unknown series "spiral".*rope, pi, ntk, yarn, dynamic, crop, none/);
    expect(() => parseSeriesKinds('rope,,pi')).toThrow(/unknown series ""/);
    expect(() => parseSeriesKinds('pi,pi')).toThrow(/"pi" is listed twice/);
  });
});

// ------------------------------------------------------------------------------------ the file

/** A retrieval point with `inside` of `insideTrials` trials and `outside` of the rest. */
function point(trials: number, insideTrials: number, inside: number, outside: number) {
  const outsideTrials = trials - insideTrials;
  return {
    all: (inside * insideTrials + outside * outsideTrials) / trials,
    inside: insideTrials ? inside : null,
    outside: outsideTrials ? outside : null,
    trials,
    inside_trials: insideTrials,
    outside_trials: outsideTrials,
  };
}

function validFile(): EvalFile {
  const lengths = [32, 64, 128];
  const plans = planSeries(['rope', 'yarn', 'crop', 'none'], lengths, { ...context, betaC: 0.5, attentionType: 'nope' });
  const retrieval = new Map([
    [64, point(10, 10, 0.9, 0)],
    [128, point(10, 6, 0.5, 0.25)],
  ]);
  return {
    format: EVAL_FORMAT,
    version: EVAL_VERSION,
    model: 'austen-drope',
    text: 'persuasion.txt',
    tokens: 4096,
    train_ctx: C,
    lengths,
    series: plans.map((plan, i) => seriesRecord(plan, new Map(lengths.map((L) => [L, 3 + i + L / 100])), retrieval)),
    retrieval: { task: 'records', format: 'lookup', records: 4, text: 'persuasion.txt', trials: 10, seed: 0, lengths: [64, 128] },
  };
}

describe('parseEvalJson', () => {
  it('reads a version 1 file (no windows, no retrieval) as version 2', () => {
    const file = validFile();
    const series = file.series.map((entry) => {
      const { window: _window, retrieval: _retrieval, ...rest } = entry;
      return rest;
    });
    const v1 = { ...file, version: 1, series, retrieval: undefined };
    expect(parseEvalJson(JSON.parse(JSON.stringify(v1)))).toEqual({ ...JSON.parse(JSON.stringify(v1)), version: EVAL_VERSION });
  });

  it('reads back what the writer makes, from text or a parsed value; ignores unknown keys', () => {
    const file = validFile();
    expect(parseEvalJson(JSON.stringify(file, null, 2))).toEqual(file);
    expect(parseEvalJson(JSON.parse(JSON.stringify(file)))).toEqual(file);
    expect(file.series[1].modes).toEqual({ '32': 'rope', '64': 'rope', '128': 'yarn:2' });
    expect(file.series[3]).toMatchObject({
      id: 'none',
      label: 'DroPE, β c=0.5',
      beta_c: 0.5,
      ppl: { '32': 6.32, '64': 6.64, '128': 7.28 },
    });
    expect(file.series[2]).toMatchObject({ id: 'crop', positions: 'rope', window: C });
    expect(file.series[2].retrieval?.['128']).toEqual({
      all: 0.4,
      inside: 0.5,
      outside: 0.25,
      trials: 10,
      inside_trials: 6,
      outside_trials: 4,
    });
    const extended = { ...file, created: '2025-01-01', series: file.series.map((s) => ({ ...s, color: 'red' })) };
    expect(parseEvalJson(extended)).toEqual(file);
  });

  // Each case: an edit of a valid file and the message it must give.
  // Edits reach into any field, valid or not.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the edits reach anywhere on purpose
  type Mutable = Record<string, any>;
  const cases: [string, (f: Mutable) => unknown, RegExp][] = [
    ['not JSON', () => '{"format": ', /not valid JSON/],
    ['an array', () => [], /expected a JSON object/],
    ['null', () => null, /expected a JSON object/],
    [
      'another format',
      (f) => ({ ...f, format: 'drope-playground/trainer-state' }),
      /not a perplexity-curve file: "format" is "drope-playground\/trainer-state"/,
    ],
    ['no format', (f) => ({ ...f, format: undefined }), /"format" is undefined/],
    ['a newer version', (f) => ({ ...f, version: 3 }), /version 3 was written by a newer version.*reads version 2/],
    ['a version string', (f) => ({ ...f, version: '1' }), /unsupported version "1"/],
    ['an empty model name', (f) => ({ ...f, model: '' }), /model must be a non-empty string/],
    ['a numeric text', (f) => ({ ...f, text: 7 }), /text must be a non-empty string, got 7/],
    ['fractional tokens', (f) => ({ ...f, tokens: 10.5 }), /tokens must be an integer ≥ 2/],
    ['a zero train_ctx', (f) => ({ ...f, train_ctx: 0 }), /train_ctx must be a finite number > 0/],
    ['no lengths', (f) => ({ ...f, lengths: [] }), /lengths must be a non-empty array/],
    ['a length of 1', (f) => ({ ...f, lengths: [1, 64, 128] }), /lengths\[0\] must be an integer ≥ 2, got 1/],
    ['a length as a string', (f) => ({ ...f, lengths: [32, '64', 128] }), /lengths\[1\] must be an integer ≥ 2, got "64"/],
    ['a length past the tokens', (f) => ({ ...f, tokens: 100 }), /lengths\[2\] = 128 is longer than the 100 tokens/],
    ['lengths out of order', (f) => ({ ...f, lengths: [64, 32, 128] }), /lengths must be strictly increasing, got 64 then 32/],
    ['a repeated length', (f) => ({ ...f, lengths: [32, 32, 128] }), /strictly increasing, got 32 then 32/],
    ['no series', (f) => ({ ...f, series: [] }), /series must be a non-empty array/],
    ['a series that is not an object', (f) => ({ ...f, series: [...f.series, 'rope'] }), /series\[4\] must be an object/],
    ['a repeated id', (f) => ({ ...f, series: [...f.series, f.series[0]] }), /series\[4\]\.id "rope" is used by an earlier series/],
    [
      'a series without label',
      (f) => ({ ...f, series: [{ ...f.series[0], label: undefined }] }),
      /series\[0\]\.label must be a non-empty string/,
    ],
    [
      'a non-numeric beta_c',
      (f) => ({ ...f, series: [{ ...f.series[0], beta_c: null }] }),
      /series\[0\]\.beta_c must be a finite number, got null/,
    ],
    [
      'a missing ppl point',
      (f) => ({ ...f, series: [{ ...f.series[0], ppl: { '32': 4, '64': 5 } }] }),
      /series\[0\]\.ppl\["128"\] is missing/,
    ],
    [
      'an extra ppl point',
      (f) => ({ ...f, series: [{ ...f.series[0], ppl: { ...f.series[0].ppl, '256': 9 } }] }),
      /series\[0\]\.ppl has "256", which is not one of the lengths/,
    ],
    [
      'a null ppl (NaN or Infinity in JSON)',
      (f) => ({ ...f, series: [{ ...f.series[0], ppl: { ...f.series[0].ppl, '64': null } }] }),
      /series\[0\]\.ppl\["64"\] must be a finite number > 0, got null/,
    ],
    [
      'a negative ppl',
      (f) => ({ ...f, series: [{ ...f.series[0], ppl: { ...f.series[0].ppl, '64': -3 } }] }),
      /series\[0\]\.ppl\["64"\] must be a finite number > 0/,
    ],
    [
      'ppl as an array',
      (f) => ({ ...f, series: [{ ...f.series[0], ppl: [4, 5, 6] }] }),
      /series\[0\]\.ppl must be an object with one entry per length/,
    ],
    ['no modes', (f) => ({ ...f, series: [{ ...f.series[0], modes: undefined }] }), /series\[0\]\.modes must be an object/],
    [
      'an unknown mode',
      (f) => ({ ...f, series: [{ ...f.series[0], modes: { ...f.series[0].modes, '128': 'spiral:2' } }] }),
      /series\[0\]\.modes\["128"\]: unknown position mode "spiral:2"/,
    ],
    [
      'a mode that is not a string',
      (f) => ({ ...f, series: [{ ...f.series[0], modes: { ...f.series[0].modes, '128': 2 } }] }),
      /series\[0\]\.modes\["128"\] must be a position mode string, got 2/,
    ],
    ['a zero window', (f) => ({ ...f, series: [{ ...f.series[2], window: 0 }] }), /series\[0\]\.window must be a positive integer, got 0/],
    ['an unknown retrieval task', (f) => ({ ...f, retrieval: { ...f.retrieval, task: 'needle' } }), /retrieval\.task must be "records"/],
    [
      'an unknown records format',
      (f) => ({ ...f, retrieval: { ...f.retrieval, format: 'xyz' } }),
      /retrieval\.format must be one of lookup, mqar/,
    ],
    [
      'a retrieval length that is not a length',
      (f) => ({ ...f, retrieval: { ...f.retrieval, lengths: [64, 256] } }),
      /retrieval\.lengths\[1\] = 256 is not one of the file's lengths/,
    ],
    [
      'a series without its retrieval point',
      (f) => ({ ...f, series: [{ ...f.series[0], retrieval: { '64': f.series[0].retrieval['64'] } }] }),
      /series\[0\]\.retrieval\["128"\] is missing/,
    ],
    [
      'a success rate above 1',
      (f) => ({
        ...f,
        series: [{ ...f.series[0], retrieval: { ...f.series[0].retrieval, '64': { ...f.series[0].retrieval['64'], all: 1.5 } } }],
      }),
      /series\[0\]\.retrieval\["64"\]\.all must be a success rate in 0\.\.1, got 1\.5/,
    ],
    [
      'trial counts that do not add up',
      (f) => ({
        ...f,
        series: [{ ...f.series[0], retrieval: { ...f.series[0].retrieval, '64': { ...f.series[0].retrieval['64'], trials: 11 } } }],
      }),
      /inside_trials \+ outside_trials must equal trials/,
    ],
    [
      'an outside rate where no trial was outside',
      (f) => ({
        ...f,
        series: [{ ...f.series[0], retrieval: { ...f.series[0].retrieval, '64': { ...f.series[0].retrieval['64'], outside: 0.5 } } }],
      }),
      /must be null exactly when no trial fell there/,
    ],
  ];

  for (const [what, edit, message] of cases) {
    it(`rejects ${what}`, () => {
      const input = edit(JSON.parse(JSON.stringify(validFile())));
      let error: unknown;
      try {
        parseEvalJson(input, 'curves.json');
      } catch (e) {
        error = e;
      }
      expect(error, `${what}: no error`).toBeInstanceOf(EvalFormatError);
      expect((error as Error).message).toMatch(/^curves\.json: /);
      expect((error as Error).message).toMatch(message);
    });
  }
});
