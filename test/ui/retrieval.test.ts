// The retrieval chart's data: eval.json's `retrieval` entries read per series (crop among them),
// into the store's series beside their perplexity, measured points added, chart rows, the data
// table's cells, and the explanations computed from the recorded numbers.

import { beforeEach, describe, expect, it } from 'vitest';
import type { RetrievalPoint } from '../../src/eval/records.ts';
import { readRecordedEval, readShippedModel, type ShippedModel } from '../../src/ui/features/model/recorded-curves.ts';
import { plannedLengths } from '../../src/ui/features/retrieval/actions.ts';
import {
  retrievalCell,
  retrievalChartLengths,
  retrievalFindings,
  retrievalLengths,
  retrievalRows,
  seriesWithRetrieval,
  type RetrievalSeriesPoint,
} from '../../src/ui/features/retrieval/logic.ts';
import { BASE_VARIANT, type VariantInfo } from '../../src/ui/settings.ts';
import { createAppStore, memoryStorage, type AppStore } from '../../src/ui/store/store.ts';
import { shippedConfig } from '../helpers/tiny-config.ts';

const C = 64;
const LENGTHS = [32, 64, 128, 256, 512];
const RETRIEVAL_LENGTHS = [64, 128, 256, 512];

/** A records-test result: `inside` of 50 inside trials, `outside` of 150 (none at L ≤ C). */
function point(L: number, inside: number, outside: number): RetrievalPoint {
  if (L <= C) return { all: inside, inside, outside: null, trials: 200, inside_trials: 200, outside_trials: 0 };
  return { all: (inside * 50 + outside * 150) / 200, inside, outside, trials: 200, inside_trials: 50, outside_trials: 150 };
}

interface SeriesSpec {
  id: string;
  label: string;
  positions: string;
  mode: (L: number) => string;
  ppl: (L: number) => number;
  /** Outside success at each retrieval length past C (inside is 1 throughout). */
  outside?: (L: number) => number;
  window?: number;
}

function evalFile(model: string, specs: SeriesSpec[], withRetrieval = true, inside = 1): string {
  return JSON.stringify({
    format: 'drope-playground/eval',
    version: 2,
    model,
    text: 'persuasion.txt',
    tokens: 4096,
    train_ctx: C,
    lengths: LENGTHS,
    series: specs.map((s) => ({
      id: s.id,
      label: s.label,
      positions: s.positions,
      beta_c: 0,
      modes: Object.fromEntries(LENGTHS.map((L) => [String(L), s.mode(L)])),
      ppl: Object.fromEntries(LENGTHS.map((L) => [String(L), s.ppl(L)])),
      ...(s.window === undefined ? {} : { window: s.window }),
      ...(withRetrieval
        ? { retrieval: Object.fromEntries(RETRIEVAL_LENGTHS.map((L) => [String(L), point(L, inside, s.outside?.(L) ?? 0)])) }
        : {}),
    })),
    ...(withRetrieval
      ? {
          retrieval: {
            task: 'records',
            format: 'lookup',
            records: 4,
            text: 'persuasion.txt',
            trials: 200,
            seed: 0,
            lengths: RETRIEVAL_LENGTHS,
          },
        }
      : {}),
  });
}

const scaled = (kind: string) => (L: number) => (L <= C ? 'rope' : `${kind}:${L / C}`);
const rope = () => 'rope';
const none = () => 'none';

/** austen-rope: outside success at 2x / 4x / 8x C per setting; crop has the lowest perplexity past C. */
const ROPE_SPECS: SeriesSpec[] = [
  { id: 'rope', label: 'RoPE', positions: 'rope', mode: rope, ppl: (L) => (L <= C ? 4 : L / 10), outside: () => 0.05 },
  {
    id: 'ntk',
    label: 'NTK',
    positions: 'ntk:L/C',
    mode: scaled('ntk'),
    ppl: (L) => (L <= C ? 4 : 6),
    outside: (L) => (L === 256 ? 0.44 : 0.5),
  },
  {
    id: 'yarn',
    label: 'YaRN',
    positions: 'yarn:L/C',
    mode: scaled('yarn'),
    ppl: (L) => (L <= C ? 4 : 5),
    outside: (L) => (L === 256 ? 0.73 : 0.6),
  },
  {
    id: 'dynamic',
    label: 'Dynamic NTK',
    positions: 'dynamic:L/C',
    mode: scaled('dynamic'),
    ppl: (L) => (L <= C ? 4 : 7),
    outside: () => 0.3,
  },
  {
    id: 'crop',
    label: 'RoPE, cropped to the last 64 tokens',
    positions: 'rope',
    mode: rope,
    ppl: () => 4,
    outside: (L) => (L === 256 ? 0.13 : 0.1),
    window: C,
  },
];
const ROPE_EVAL = evalFile('austen-rope', ROPE_SPECS);
const DROPE_SPECS: SeriesSpec[] = [{ id: 'none', label: 'DroPE', positions: 'none', mode: none, ppl: () => 4.4, outside: () => 1 }];
const DROPE_EVAL = evalFile('austen-drope', DROPE_SPECS);
const LONG_EVAL = evalFile('austen-drope-long', [
  { id: 'none', label: 'DroPE', positions: 'none', mode: none, ppl: () => 4.2, outside: () => 0.8 },
]);

function shipped(...models: [string, 'rope' | 'nope', string][]): ShippedModel[] {
  return models.map(([name, attention, text]) => {
    const read = readShippedModel({ name, label: name }, shippedConfig(attention, C), text);
    if (read.problem !== null) throw new Error(read.problem);
    return read.model;
  });
}

const context = { trainContext: C, maxPositionEmbeddings: C };

describe('reading retrieval from eval.json', () => {
  it('gives each curve its series id and retrieval points, the crop series tied to the crop setting', () => {
    const read = readRecordedEval(ROPE_EVAL, context);
    expect(read.problem).toBeNull();
    expect(read.retrieval?.trials).toBe(200);
    expect(read.retrieval?.lengths).toEqual(RETRIEVAL_LENGTHS);
    const crop = read.curves.find((c) => c.series === 'crop')!;
    expect(crop.settings).toEqual({ position: { kind: 'crop' }, c: 0 });
    expect(crop.retrieval?.map((p) => p.length)).toEqual(RETRIEVAL_LENGTHS);
    expect(crop.retrieval?.[2]).toEqual({ length: 256, ...point(256, 1, 0.13) });
  });

  it('a file without retrieval: curves without retrieval, and no protocol', () => {
    const read = readRecordedEval(evalFile('austen-rope', ROPE_SPECS, false), context);
    expect(read.retrieval).toBeNull();
    expect(read.curves.every((c) => c.retrieval === undefined)).toBe(true);
  });
});

describe('the store: retrieval beside perplexity, same series', () => {
  const base: VariantInfo = { id: BASE_VARIANT, label: 'RoPE', kind: 'base', hasRope: true, detail: '' };
  const meta = { name: 'austen-rope', trainContext: C, hasRope: true, summary: '', vocabSize: 256, recordedProblem: null };
  let store: AppStore;

  beforeEach(() => {
    store = createAppStore(memoryStorage());
    const s = store.getState();
    s.setShipped(shipped(['austen-rope', 'rope', ROPE_EVAL], ['austen-drope', 'nope', DROPE_EVAL]), []);
    s.startModel(meta, readRecordedEval(ROPE_EVAL, context).curves, base);
  });

  it('recorded retrieval rides on the loaded and the shipped series, under their ids and styles', () => {
    const series = store.getState().series;
    const crop = series.find((s) => s.id === 'base|crop|0.00')!;
    expect(crop.label).toBe('RoPE, cropped to the last 64 tokens');
    expect(crop.retrieval?.every((p) => p.source === 'recorded')).toBe(true);
    const drope = series.find((s) => s.label.endsWith('· austen-drope'))!;
    expect(drope.retrieval?.[3].outside).toBe(1);
    expect(seriesWithRetrieval(series)).toHaveLength(series.length);
  });

  it('a measured point replaces the recorded one at its length; a new series gets the next style', () => {
    const s = store.getState();
    const measured: RetrievalSeriesPoint = {
      length: 128,
      ...point(128, 1, 0.5),
      trials: 24,
      inside_trials: 6,
      outside_trials: 18,
      source: 'measured',
    };
    s.addRetrievalPoint('base|crop|0.00', 'RoPE, cropped to the last 64 tokens', measured);
    const crop = store.getState().series.find((x) => x.id === 'base|crop|0.00')!;
    expect(crop.retrieval?.map((p) => [p.length, p.source])).toEqual([
      [64, 'recorded'],
      [128, 'measured'],
      [256, 'recorded'],
      [512, 'recorded'],
    ]);
    const before = store.getState().nextStyle;
    s.addRetrievalPoint('base|pi|0.00', 'RoPE + PI', { ...measured, length: 64 });
    const pi = store.getState().series.find((x) => x.id === 'base|pi|0.00')!;
    expect(pi).toMatchObject({ label: 'RoPE + PI', style: before, points: [] });
    expect(store.getState().nextStyle).toBe(before + 1);
  });

  it('plans the recorded lengths up to the chosen longest; 1x to 8x C without a record', () => {
    expect(plannedLengths(store.getState())).toEqual(RETRIEVAL_LENGTHS);
    store.getState().setRetrievalChoices({ retrievalUpTo: 128 });
    expect(plannedLengths(store.getState())).toEqual([64, 128]);
    expect(retrievalLengths(32, null)).toEqual([32, 64, 128, 256]);
    // The chart adds the lengths a series has results at.
    expect(retrievalChartLengths(seriesWithRetrieval(store.getState().series), [32, 1024])).toEqual([32, ...RETRIEVAL_LENGTHS, 1024]);
  });

  it('chart rows: percent per series, nothing where the measured part has no trial, the source kept', () => {
    const series = seriesWithRetrieval(store.getState().series);
    const cropIndex = series.findIndex((s) => s.id === 'base|crop|0.00');
    const all = retrievalRows(series, 'all', RETRIEVAL_LENGTHS);
    expect(all.map((r) => r.length)).toEqual(RETRIEVAL_LENGTHS);
    expect(all[0][`s${cropIndex}`]).toBe(100);
    expect(all[0][`s${cropIndex}_source`]).toBe('recorded');
    expect(all.every((row) => row.chance === 10)).toBe(true);
    const outside = retrievalRows(series, 'outside', RETRIEVAL_LENGTHS);
    // At L = C every record is inside the window: no outside value to plot.
    expect(outside[0][`s${cropIndex}`]).toBeUndefined();
    expect(outside[2][`s${cropIndex}`]).toBeCloseTo(13);
  });
});

describe('the data table’s data" cell', () => {
  it('lists all, inside and outside with their trial counts, – where none fell, * when recorded', () => {
    expect(retrievalCell({ length: 64, ...point(64, 0.955, 0), source: 'recorded' })).toBe('96% of 200 · 96% of 200 · –*');
    expect(
      retrievalCell({
        length: 256,
        all: 0.5,
        inside: 1,
        outside: 1 / 3,
        trials: 24,
        inside_trials: 6,
        outside_trials: 18,
        source: 'measured',
      }),
    ).toBe('50% of 24 · 100% of 6 · 33% of 18');
  });
});

describe('the explanations, computed from the recorded numbers', () => {
  it('crop: lowest perplexity, worst retrieval; YaRN, NTK and DroPE outside the window; DroPE’s cost at 1x', () => {
    const findings = retrievalFindings(
      shipped(['austen-rope', 'rope', ROPE_EVAL], ['austen-drope', 'nope', DROPE_EVAL], ['austen-drope-long', 'nope', LONG_EVAL]),
    );
    expect(findings).toHaveLength(4);
    expect(findings[0]).toBe(
      'At 8× C_train (512 tokens), RoPE, cropped to the last 64 tokens has the lowest perplexity 4.00 (YaRN 5.00, NTK 6.00, ' +
        'Dynamic NTK 7.00, DroPE (austen-drope) 4.40 and DroPE (austen-drope-long) 4.20), yet finds 10% of the records placed ' +
        'outside its window (chance is 10%). The lowest perplexity comes with the worst retrieval: perplexity alone cannot judge a method.',
    );
    expect(findings[1]).toContain(
      'at 4× C_train, YaRN 73%, NTK 44%, Dynamic NTK 30%, DroPE (austen-drope) 100%, DroPE (austen-drope-long) 80%, crop 13%',
    );
    expect(findings[2]).toBe('At 8×, DroPE (austen-drope) retrieves 40 points more than the best RoPE scaling, YaRN (100% against 60%).');
    expect(findings[3]).toBe(
      'The price: within the training context (1×, 64 tokens) perplexity is 4.00 for RoPE, 4.40 for DroPE (austen-drope) (1.10×) ' +
        'and 4.20 for DroPE (austen-drope-long) (1.05×).',
    );
  });

  it('says only what holds: no "lowest" when crop is not lowest; one DroPE model is just "DroPE"', () => {
    const worseCrop = ROPE_SPECS.map((s) => (s.id === 'crop' ? { ...s, ppl: () => 9 } : s));
    const findings = retrievalFindings(
      shipped(['austen-rope', 'rope', evalFile('austen-rope', worseCrop)], ['austen-drope', 'nope', DROPE_EVAL]),
    );
    expect(findings[0]).toMatch(/has perplexity 9\.00 \(YaRN 5\.00, NTK 6\.00, Dynamic NTK 7\.00 and DroPE 4\.40\), yet finds 10%/);
    expect(findings[0]).not.toContain('cannot judge');
  });

  it('models that never learned the task: says so instead of comparing noise, and keeps the price', () => {
    const noneOutside = (specs: SeriesSpec[]) => specs.map((x) => ({ ...x, outside: () => 0 }));
    const findings = retrievalFindings(
      shipped(
        ['austen-rope', 'rope', evalFile('austen-rope', noneOutside(ROPE_SPECS), true, 0)],
        ['austen-drope', 'nope', evalFile('austen-drope', noneOutside(DROPE_SPECS), true, 0.05)],
      ),
    );
    expect(findings).toHaveLength(2);
    expect(findings[0]).toBe(
      'Within the training context (64 tokens) RoPE finds 0% and DroPE finds 5% of the records, no better than guessing (10%): ' +
        'these models did not learn the records task, so this chart cannot tell the methods apart. The perplexity chart still ' +
        'shows the crop baseline lowest past the training length.',
    );
    expect(findings[1]).toMatch(/^The price: /);
  });

  it('nothing to say without retrieval results', () => {
    expect(retrievalFindings(shipped(['austen-rope', 'rope', evalFile('austen-rope', ROPE_SPECS, false)]))).toEqual([]);
  });
});
