// The shipped models' recorded curves, read at start from every model index.json lists: story
// names in the legend, models that do not read skipped with one problem line each, and the store
// keeping the other models' curves beside the loaded one's through a model switch.

import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  nopeKind,
  readShippedModel,
  readShippedModels,
  STORY_LABELS,
  type ShippedModel,
} from '../../src/ui/features/model/recorded-curves.ts';
import { seriesStyle } from '../../src/ui/components/chart-style.ts';
import { BASE_VARIANT, type VariantInfo } from '../../src/ui/settings.ts';
import { shippedSeries, SHIPPED_PREFIX } from '../../src/ui/store/run-slice.ts';
import { createAppStore, memoryStorage, type AppStore } from '../../src/ui/store/store.ts';
import { shippedConfig } from '../helpers/tiny-config.ts';

const LENGTHS = [32, 64, 128];

/** One eval.json series as the eval CLI writes it; `mode(L)` the exact mode at each length. */
function series(id: string, label: string, positions: string, mode: (L: number) => string, ppl: (L: number) => number, betaC = 0) {
  return {
    id,
    label,
    positions,
    beta_c: betaC,
    modes: Object.fromEntries(LENGTHS.map((L) => [String(L), mode(L)])),
    ppl: Object.fromEntries(LENGTHS.map((L) => [String(L), ppl(L)])),
  };
}

function evalFile(model: string, entries: ReturnType<typeof series>[], ctx = 64): string {
  return JSON.stringify({
    format: 'drope-playground/eval',
    version: 1,
    model,
    text: 'persuasion.txt',
    tokens: 4096,
    train_ctx: ctx,
    lengths: LENGTHS,
    series: entries,
  });
}

const scaled = (kind: string) => (L: number) => (L <= 64 ? 'rope' : `${kind}:${L / 64}`);

const ROPE_EVAL = evalFile('austen-rope', [
  series(
    'rope',
    'RoPE',
    'rope',
    () => 'rope',
    (L) => L / 10,
  ),
  series('pi', 'PI', 'pi:L/C', scaled('pi'), (L) => L / 9),
  series('ntk', 'NTK', 'ntk:L/C', scaled('ntk'), (L) => L / 8),
  series('yarn', 'YaRN', 'yarn:L/C', scaled('yarn'), (L) => L / 7),
  series('dynamic', 'Dynamic NTK', 'dynamic:L/C', scaled('dynamic'), (L) => L / 6),
  series(
    'none',
    'NoPE',
    'none',
    () => 'none',
    (L) => L,
  ),
]);
const DROPE_EVAL = evalFile('austen-drope', [
  series(
    'none',
    'DroPE',
    'none',
    () => 'none',
    () => 6.5,
  ),
]);
const NOPE_EVAL = evalFile('austen-nope', [
  series(
    'none',
    'NoPE',
    'none',
    () => 'none',
    () => 7.5,
  ),
]);

const FILES: Record<string, string> = {
  'austen-rope/config.json': shippedConfig('rope'),
  'austen-rope/eval.json': ROPE_EVAL,
  'austen-drope/config.json': shippedConfig('nope'),
  'austen-drope/eval.json': DROPE_EVAL,
  'austen-nope/config.json': shippedConfig('nope', 128),
  'austen-nope/eval.json': NOPE_EVAL,
};

const ENTRIES = [
  { name: 'austen-rope', label: 'austen-rope (RoPE)' },
  { name: 'austen-drope', label: 'austen-drope (DroPE)' },
  { name: 'austen-nope', label: 'austen-nope (NoPE)' },
];

/** A fetcher over `files`: undefined for a missing file, as the page's fetchText answers a 404. */
const fetcher = (files: Record<string, string>) => async (path: string) => files[path];

describe('readShippedModel', () => {
  it('names a RoPE model’s curves after their positions, RoPE off as "RoPE dropped (no recalibration)", each with the model', () => {
    const read = readShippedModel(ENTRIES[0], shippedConfig('rope'), ROPE_EVAL);
    expect(read.problem).toBeNull();
    expect(read.model?.kind).toBe('rope');
    expect(read.model?.trainContext).toBe(64);
    expect(read.model?.curves.map((c) => c.label)).toEqual([
      'RoPE · austen-rope',
      'RoPE + PI · austen-rope',
      'RoPE + NTK · austen-rope',
      'RoPE + YaRN · austen-rope',
      'Dynamic NTK · austen-rope',
      'RoPE dropped (no recalibration) · austen-rope',
    ]);
    expect(read.model?.curves[5].points).toEqual(LENGTHS.map((L) => ({ length: L, ppl: L })));
  });

  it('tells DroPE from NoPE from scratch, and keeps a logit-scale c in the name', () => {
    const drope = readShippedModel(ENTRIES[1], shippedConfig('nope'), DROPE_EVAL);
    expect(drope.model?.kind).toBe('drope');
    expect(drope.model?.curves.map((c) => c.label)).toEqual([`${STORY_LABELS.drope} · austen-drope`]);
    const scaledNope = evalFile(
      'austen-nope',
      [
        series(
          'none',
          'NoPE, β c=0.2',
          'none',
          () => 'none',
          () => 7,
          0.2,
        ),
      ],
      128,
    );
    const nope = readShippedModel(ENTRIES[2], shippedConfig('nope', 128), scaledNope);
    expect(nope.model?.kind).toBe('nope');
    expect(nope.model?.trainContext).toBe(128);
    expect(nope.model?.curves.map((c) => c.label)).toEqual([`${STORY_LABELS.nope} · c = 0.20 · austen-nope`]);
  });

  it('nopeKind: folder name first, then the index label, then the eval series label', () => {
    expect(nopeKind('austen-drope', 'whatever (NoPE)', ['NoPE'])).toBe('drope');
    expect(nopeKind('austen-nope', 'x', ['DroPE'])).toBe('nope');
    expect(nopeKind('model-b', 'Model B (NoPE from scratch)', ['DroPE'])).toBe('nope');
    expect(nopeKind('model-b', 'Model B', ['NoPE'])).toBe('nope');
    expect(nopeKind('model-b', 'Model B', ['DroPE'])).toBe('drope');
    expect(nopeKind('model-b', 'Model B', ['Nopelike'])).toBe('drope');
  });

  it('a missing or malformed file gives no model and one line naming the file', () => {
    expect(readShippedModel(ENTRIES[1], shippedConfig('nope'), undefined)).toEqual({
      model: null,
      problem: 'austen-drope/eval.json is missing',
    });
    expect(readShippedModel(ENTRIES[1], undefined, DROPE_EVAL)).toEqual({ model: null, problem: 'austen-drope/config.json is missing' });
    const badJson = readShippedModel(ENTRIES[1], shippedConfig('nope'), '{"format": ');
    expect(badJson.model).toBeNull();
    expect(badJson.problem).toMatch(/^austen-drope\/eval\.json: not valid JSON/);
    const badFormat = readShippedModel(ENTRIES[1], shippedConfig('nope'), JSON.stringify({ format: 'something else' }));
    expect(badFormat.problem).toMatch(/^austen-drope\/eval\.json: /);
    const badConfig = readShippedModel(ENTRIES[1], '{"model_type": "gpt2"}', DROPE_EVAL);
    expect(badConfig.problem).toMatch(/^austen-drope\/config\.json: .*unsupported/);
    expect(readShippedModel(ENTRIES[1], shippedConfig('nope'), evalFile('austen-drope', [])).problem).toMatch(/austen-drope\/eval\.json/);
  });
});

describe('readShippedModels', () => {
  it('reads every listed model, in index order', async () => {
    const { models, problems } = await readShippedModels(ENTRIES, fetcher(FILES));
    expect(problems).toEqual([]);
    expect(models.map((m) => [m.name, m.kind, m.curves.length])).toEqual([
      ['austen-rope', 'rope', 6],
      ['austen-drope', 'drope', 1],
      ['austen-nope', 'nope', 1],
    ]);
  });

  it('skips a model whose eval.json is missing or malformed, or whose fetch fails, keeping the others', async () => {
    const files: Record<string, string> = { ...FILES, 'austen-drope/eval.json': '{ not json' };
    delete files['austen-nope/eval.json'];
    const entries = [...ENTRIES, { name: 'offline', label: 'offline' }];
    const fetchText = async (path: string) => {
      if (path.startsWith('offline/')) throw new TypeError('Failed to fetch');
      return files[path];
    };
    const { models, problems } = await readShippedModels(entries, fetchText);
    expect(models.map((m) => m.name)).toEqual(['austen-rope']);
    expect(problems.map((p) => p.name)).toEqual(['austen-drope', 'austen-nope', 'offline']);
    expect(problems[0].message).toMatch(/^austen-drope\/eval\.json: not valid JSON/);
    expect(problems[1].message).toBe('austen-nope/eval.json is missing');
    expect(problems[2].message).toBe('offline/config.json is missing');
    for (const p of problems) expect(p.message).not.toContain('\n');
  });

  it('the models public/models/index.json lists all read', async () => {
    const root = new URL('../../public/models/', import.meta.url);
    const index = JSON.parse(readFileSync(new URL('index.json', root), 'utf8')) as { name: string; label: string }[];
    const { models, problems } = await readShippedModels(index, async (path) => {
      try {
        return readFileSync(new URL(path, root), 'utf8');
      } catch {
        return undefined;
      }
    });
    expect(problems).toEqual([]);
    expect(models.map((m) => m.name)).toEqual(index.map((m) => m.name));
    const drope = models.find((m) => m.name === 'austen-drope');
    // Recorded at its fitted c, which the name carries.
    expect(drope?.curves.map((c) => c.label)).toEqual([expect.stringMatching(/^DroPE \(recalibrated\) · c = 0\.05 · austen-drope$/)]);
    expect(STORY_LABELS.drope).toBe('DroPE (recalibrated)');
  });
});

describe('the store keeps the shipped curves beside the loaded model’s', () => {
  const base: VariantInfo = { id: BASE_VARIANT, label: 'RoPE', kind: 'base', hasRope: true, detail: 'As trained' };
  const metaOf = (name: string, hasRope = true) => ({
    name,
    trainContext: 64,
    hasRope,
    summary: '',
    vocabSize: 256,
    recordedProblem: null,
  });
  let store: AppStore;
  let shipped: ShippedModel[];

  beforeEach(async () => {
    store = createAppStore(memoryStorage());
    shipped = (await readShippedModels(ENTRIES, fetcher(FILES))).models;
  });

  const labels = () => store.getState().series.map((s) => s.label);

  it('shipped curves that arrive after the model: appended, the loaded model’s own left out', () => {
    const s = store.getState();
    s.startModel(
      metaOf('austen-rope'),
      [{ label: 'RoPE', series: 'rope', settings: { position: { kind: 'rope' }, c: 0 }, points: [{ length: 64, ppl: 4 }] }],
      base,
    );
    s.setShipped(shipped, []);
    expect(labels()).toEqual(['RoPE', `${STORY_LABELS.drope} · austen-drope`, `${STORY_LABELS.nope} · austen-nope`]);
    const [own, drope, nope] = store.getState().series;
    expect(own.id).toBe('base|rope|0.00');
    expect(drope.id.startsWith(SHIPPED_PREFIX)).toBe(true);
    expect(drope.points.every((p) => p.source === 'recorded')).toBe(true);
    expect(drope.trainContext).toBe(64);
    expect(nope.trainContext).toBe(128);
    expect(store.getState().series.map((x) => x.style)).toEqual([0, 1, 2]);
    expect(store.getState().nextStyle).toBe(3);
  });

  it('shipped curves that arrive first: all shown, then the loaded model’s replace its own', () => {
    const s = store.getState();
    s.setShipped(shipped, []);
    expect(store.getState().series).toHaveLength(8);
    s.startModel(metaOf('austen-rope'), [], base);
    expect(labels()).toEqual([`${STORY_LABELS.drope} · austen-drope`, `${STORY_LABELS.nope} · austen-nope`]);
  });

  it('switching models keeps the others’ curves; live points never land on them', () => {
    const s = store.getState();
    s.setShipped(shipped, []);
    s.startModel(metaOf('austen-rope'), [], base);
    s.addMeasuredPoint('base|none|0.00', 'RoPE switched off', 64, 80);
    expect(
      store
        .getState()
        .series.filter((x) => x.id.startsWith(SHIPPED_PREFIX))
        .every((x) => x.points.every((p) => p.source === 'recorded')),
    ).toBe(true);
    const nopeBase: VariantInfo = { ...base, label: 'austen-drope (DroPE)', hasRope: false };
    s.startModel(
      metaOf('austen-drope', false),
      [{ label: 'DroPE', series: 'none', settings: { position: { kind: 'none' }, c: 0 }, points: [{ length: 64, ppl: 6.5 }] }],
      nopeBase,
    );
    expect(labels()).toEqual([
      'austen-drope (DroPE)',
      'RoPE · austen-rope',
      'RoPE + PI · austen-rope',
      'RoPE + NTK · austen-rope',
      'RoPE + YaRN · austen-rope',
      'Dynamic NTK · austen-rope',
      'RoPE dropped (no recalibration) · austen-rope',
      `${STORY_LABELS.nope} · austen-nope`,
    ]);
    // Distinct looks: no two series share colour and dash.
    const looks = store.getState().series.map((x) => JSON.stringify(seriesStyle(x.style)));
    expect(new Set(looks).size).toBe(looks.length);
    // A Hub model (not listed) keeps every shipped model's curves.
    s.startModel({ ...metaOf('hf:org/model'), name: 'hf:org/model' }, [], base);
    expect(store.getState().series).toHaveLength(8);
  });

  it('shippedSeries: a fresh set replaces the previous one, keeping live series', () => {
    const s = store.getState();
    s.startModel(metaOf('austen-rope'), [], base);
    s.setShipped(shipped, []);
    s.addMeasuredPoint('base|rope|0.00', 'RoPE', 64, 4);
    s.setShipped(shipped.slice(0, 2), [{ name: 'austen-nope', message: 'austen-nope/eval.json is missing' }]);
    expect(labels()).toEqual(['RoPE', `${STORY_LABELS.drope} · austen-drope`]);
    expect(store.getState().shippedProblems).toEqual([{ name: 'austen-nope', message: 'austen-nope/eval.json is missing' }]);
    expect(shippedSeries(shipped, null, 10).map((x) => x.style)).toEqual([10, 11, 12, 13, 14, 15, 16, 17]);
  });
});
