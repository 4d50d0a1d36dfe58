// Store logic without a DOM: a fresh store per test (zustand's testing guide), slices, selectors,
// how recorded curves become series that live measurements refine, and what persists.

import { beforeEach, describe, expect, it } from 'vitest';
import { Controller } from '../../src/ui/controller.ts';
import type { RecordedCurve } from '../../src/ui/features/model/recorded-curves.ts';
import { BASE_VARIANT, type VariantInfo } from '../../src/ui/settings.ts';
import {
  activeVariant,
  createAppStore,
  currentSeriesId,
  fitting,
  memoryStorage,
  migratePreferences,
  PERSIST_KEY,
  PERSIST_VERSION,
  recalibrating,
  type AppStore,
} from '../../src/ui/store/store.ts';
import { defaultConfig } from '../../src/ui/store/url-state.ts';
import { watchWeights } from '../../src/ui/store/weights-watch.ts';

const base: VariantInfo = { id: BASE_VARIANT, label: 'RoPE', kind: 'base', hasRope: true, detail: 'As trained' };
const dropped: VariantInfo = { id: 'dropped-1', label: 'RoPE dropped', kind: 'dropped', hasRope: false, parent: BASE_VARIANT, detail: '' };
const meta = { name: 'austen-rope', trainContext: 64, hasRope: true, summary: '', vocabSize: 256, recordedProblem: null };

const recorded: RecordedCurve[] = [
  {
    label: 'RoPE',
    series: 'rope',
    settings: { position: { kind: 'rope' }, c: 0 },
    points: [
      { length: 64, ppl: 4.2 },
      { length: 128, ppl: 5.5 },
    ],
  },
  { label: 'RoPE + YaRN', series: 'yarn', settings: { position: { kind: 'yarn' }, c: 0 }, points: [{ length: 128, ppl: 11.3 }] },
  { label: 'DroPE (recalibrated run)', series: 'none', points: [{ length: 64, ppl: 6.05 }] },
];

let store: AppStore;
let storage: ReturnType<typeof memoryStorage>;

beforeEach(() => {
  storage = memoryStorage();
  store = createAppStore(storage);
});

describe('config slice', () => {
  it('starts from the defaults and ignores values the URL table does not allow', () => {
    const s = store.getState();
    expect(s.config).toEqual(defaultConfig());
    s.setSetting('c', 0.25);
    s.setSetting('tokens', 1000);
    s.setSetting('scaling', 'bogus' as never);
    expect(store.getState().config).toEqual({ ...defaultConfig(), c: 0.25 });
  });

  it('keeps the same config object when a setting does not change', () => {
    const before = store.getState().config;
    store.getState().setSetting('rope', true);
    expect(store.getState().config).toBe(before);
  });
});

describe('run slice', () => {
  it('turns recorded curves into series: with settings under the live id and label, without them on their own', () => {
    store.getState().startModel(meta, recorded, base);
    const series = store.getState().series;
    expect(series.map((s) => [s.id, s.label, s.style])).toEqual([
      ['base|rope|0.00', 'RoPE', 0],
      ['base|yarn|0.00', 'RoPE + YaRN', 1],
      ['recorded|DroPE (recalibrated run)', 'DroPE (recalibrated run)', 2],
    ]);
    expect(series[0].points.every((p) => p.source === 'recorded')).toBe(true);
    expect(store.getState().nextStyle).toBe(3);
  });

  it('for a model without RoPE, maps only "none" curves onto live series', () => {
    const nope: VariantInfo = { ...base, label: 'Austen NoPE', hasRope: false };
    const curves: RecordedCurve[] = [
      { label: 'NoPE', series: 'none', settings: { position: { kind: 'none' }, c: 0.2 }, points: [{ length: 64, ppl: 6 }] },
      { label: 'with rope?', series: 'rope', settings: { position: { kind: 'rope' }, c: 0 }, points: [{ length: 64, ppl: 9 }] },
    ];
    store.getState().startModel({ ...meta, hasRope: false }, curves, nope);
    expect(store.getState().series.map((s) => [s.id, s.label])).toEqual([
      ['base|none|0.20', 'Austen NoPE · c = 0.20'],
      ['recorded|with rope?', 'with rope?'],
    ]);
  });

  it('a measured point replaces the recorded one at its length and keeps the others', () => {
    store.getState().startModel(meta, recorded, base);
    store.getState().addMeasuredPoint('base|rope|0.00', 'RoPE', 128, 5.4);
    store.getState().addMeasuredPoint('base|rope|0.00', 'RoPE', 32, 4.9);
    const rope = store.getState().series[0];
    expect(rope.points).toEqual([
      { length: 32, ppl: 4.9, source: 'measured' },
      { length: 64, ppl: 4.2, source: 'recorded' },
      { length: 128, ppl: 5.4, source: 'measured' },
    ]);
  });

  it('a new series gets the next style, never a removed one', () => {
    store.getState().startModel(meta, recorded, base);
    store.getState().removeSeries('base|yarn|0.00');
    store.getState().addMeasuredPoint('base|none|0.00', 'RoPE switched off', 64, 80);
    const added = store.getState().series.find((s) => s.id === 'base|none|0.00')!;
    expect(added.style).toBe(3);
    expect(store.getState().nextStyle).toBe(4);
  });

  it('choosing a model forgets the previous one: variants, series, runs', () => {
    const s = store.getState();
    s.startModel(meta, recorded, base);
    s.addVariant(dropped, true);
    s.setRecalibration({ requestId: 4, status: 'running', from: 'dropped-1', steps: 10, lr: 1e-3, batch: 4, step: 2, losses: [] });
    s.startModel({ ...meta, name: 'other' }, [], base);
    const next = store.getState();
    expect(next.variants).toEqual([base]);
    expect(next.activeVariant).toBe(BASE_VARIANT);
    expect(next.series).toEqual([]);
    expect(next.recalibration).toBeNull();
  });

  it('recalibration updates apply only to their own request', () => {
    const s = store.getState();
    s.setRecalibration({ requestId: 7, status: 'preparing', from: 'dropped-1', steps: 3, lr: 1e-3, batch: 2, step: 0, losses: [] });
    s.addLoss(7, 1, 5.5);
    s.addLoss(8, 2, 1.0);
    s.updateRecalibration(8, { status: 'failed' });
    s.addLoss(7, 2, 5.4);
    expect(recalibrating(store.getState())).toBe(true);
    expect(store.getState().recalibration).toMatchObject({
      status: 'preparing',
      step: 2,
      losses: [
        { step: 1, loss: 5.5 },
        { step: 2, loss: 5.4 },
      ],
    });
    s.updateRecalibration(7, { status: 'done' });
    expect(recalibrating(store.getState())).toBe(false);
  });
});

describe('selectors', () => {
  it('names the current series from the variant and settings: no RoPE in the variant means mode none', () => {
    const s = store.getState();
    expect(currentSeriesId(s)).toBeNull();
    s.startModel(meta, [], base);
    expect(currentSeriesId(store.getState())).toBe('base|rope|0.00');
    s.setSetting('scaling', 'yarn');
    s.setSetting('c', 0.3);
    expect(currentSeriesId(store.getState())).toBe('base|yarn|0.30');
    s.setSetting('rope', false);
    expect(currentSeriesId(store.getState())).toBe('base|none|0.30');
    s.setSetting('rope', true);
    s.addVariant(dropped, true);
    expect(activeVariant(store.getState())).toEqual(dropped);
    expect(currentSeriesId(store.getState())).toBe('dropped-1|none|0.30');
    s.setActiveVariant('nonexistent');
    expect(store.getState().activeVariant).toBe('dropped-1');
  });

  it('fitting is true until a result arrives', () => {
    const s = store.getState();
    expect(fitting(s)).toBe(false);
    s.setFit({ requestId: 1, done: 0, total: 10 });
    expect(fitting(store.getState())).toBe(true);
    s.setFit({ requestId: 1, done: 10, total: 10, result: { c: 0.2, lengths: [512, 1024], scores: [] } });
    expect(fitting(store.getState())).toBe(false);
  });

  it('the controller asks only for the lengths the current series has not measured', () => {
    const controller = new Controller(store);
    const s = store.getState();
    s.startModel(meta, recorded, base);
    expect(controller.evaluation.missingLengths()).toEqual([32, 64, 128, 256, 512, 1024]);
    s.addMeasuredPoint('base|rope|0.00', 'RoPE', 64, 4.1);
    s.addMeasuredPoint('base|rope|0.00', 'RoPE', 1024, 30);
    expect(controller.evaluation.missingLengths()).toEqual([32, 128, 256, 512]);
  });
});

describe('persistence', () => {
  it('persists the ui preferences alone, with a version', () => {
    const s = store.getState();
    s.toggleShowData();
    s.setSetting('rope', false);
    s.startModel(meta, recorded, base);
    const saved = JSON.parse(storage.getItem(PERSIST_KEY) as string);
    expect(saved).toEqual({ state: { showData: true, showNotes: true }, version: PERSIST_VERSION });
  });

  it('a new store reads the saved preferences back', () => {
    store.getState().toggleNotes();
    const again = createAppStore(storage);
    expect(again.getState().showNotes).toBe(false);
    expect(again.getState().showData).toBe(false);
  });

  it('migration keeps what still reads as a preference and drops the rest', () => {
    expect(migratePreferences({ showData: true, showNotes: 'yes', series: [1] })).toEqual({ showData: true, showNotes: true });
    expect(migratePreferences(null)).toEqual({ showData: false, showNotes: true });
    storage.setItem(PERSIST_KEY, JSON.stringify({ state: { showData: true, config: { rope: false } }, version: 0 }));
    const migrated = createAppStore(storage);
    expect(migrated.getState().showData).toBe(true);
    expect(migrated.getState().config).toEqual(defaultConfig());
  });
});

describe('cross-slice: the weights change', () => {
  const adapter = { name: 'test', software: true, maxBufferSize: 1 << 30, maxStorageBinding: 1 << 27, shaderF16: false };
  const ready = {
    kind: 'ready',
    name: 'austen-rope',
    summary: { name: 'austen-rope', trainContext: 64, parameters: 1, validationTokens: 1 },
  } as const;
  const hub: VariantInfo = { id: 'hub:org/x', label: 'org/x', kind: 'base', hasRope: false, detail: '' };

  function withRuns() {
    const s = store.getState();
    s.setGpu({ kind: 'ready', adapter });
    s.startModel(meta, recorded, base);
    s.setWeights(ready);
    s.compare.setShippedLoad('austen-drope', { requestId: 3, status: 'ready' });
    s.compare.addHubVariant(hub);
    store.setState({
      longContext: {
        ...store.getState().longContext,
        run: { kind: 'needle', model: 'austen-rope', requestId: 7, label: 'RoPE', index: 0, count: 1, done: 0, total: 4, length: 64 },
      },
    });
    s.setRetrievalRun({
      requestId: 9,
      model: 'austen-rope',
      seriesId: 'base|rope|0.00',
      label: 'RoPE',
      trials: 4,
      done: 0,
      total: 16,
      length: 64,
    });
  }

  it('resetForWeights ends the long-context and retrieval runs, saying why, and forgets the models loaded beside the weights', () => {
    withRuns();
    const before = store.getState();
    expect(before.resetForWeights()).toEqual([7, 9]);
    const after = store.getState();
    expect(after.compare.loads).toEqual({});
    expect(after.compare.hubVariants).toEqual([]);
    expect(after.compare.slots).toEqual(before.compare.slots);
    expect(after.longContext.run).toBeNull();
    expect(after.longContext.message?.text).toMatch(/long-context run stopped/);
    expect(after.retrievalRun).toBeNull();
    expect(after.retrievalMessage?.text).toMatch(/retrieval test stopped/);
    // What the user made or chose stays: variants, series, settings.
    expect(after.variants).toEqual(before.variants);
    expect(after.series).toEqual(before.series);
    // Nothing running: nothing to cancel, and no message.
    store.setState({ retrievalMessage: null });
    expect(store.getState().resetForWeights()).toEqual([]);
    expect(store.getState().retrievalMessage).toBeNull();
  });

  it('watchWeights: a model switch, a load beginning or a lost GPU reset them and cancel the runs; a load finishing does not', () => {
    const cancelled: number[] = [];
    const stop = watchWeights(store, (id) => cancelled.push(id));
    withRuns();
    // The end of a load (loading → ready, same weights) and a progress-only change keep them.
    expect(cancelled).toEqual([]);
    expect(store.getState().compare.hubVariants).toEqual([hub]);
    store.getState().setNotice('anything');
    expect(cancelled).toEqual([]);
    store.getState().setGpu({ kind: 'failed', message: 'device lost' });
    expect(cancelled).toEqual([7, 9]);
    expect(store.getState().compare.hubVariants).toEqual([]);

    withRuns();
    cancelled.length = 0;
    store.getState().setWeights({ kind: 'loading', name: 'austen-rope' });
    expect(cancelled).toEqual([7, 9]);

    withRuns();
    cancelled.length = 0;
    store.getState().startModel({ ...meta, name: 'austen-drope' }, [], base);
    expect(cancelled).toEqual([7, 9]);
    stop();
  });
});
