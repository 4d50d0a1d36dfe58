// Settings → what the worker runs and how the chart names it; and the defensive eval.json reader.

import { describe, expect, it } from 'vitest';
import { logTicks } from '../../src/ui/components/chart-style.ts';
import { readRecordedEval } from '../../src/ui/features/model/recorded-curves.ts';
import {
  attentionWindowOf,
  positionKey,
  positionSetting,
  evalSettingsOf,
  evaluationLengths,
  lengthLadder,
  positionModeAt,
  scalingLabel,
  seriesId,
  seriesLabel,
  type VariantInfo,
} from '../../src/ui/settings.ts';
import { needleLengths, perplexityLengths } from '../../src/ui/features/long-context/logic.ts';
import { retrievalLengths } from '../../src/ui/features/retrieval/logic.ts';

const base: VariantInfo = { id: 'base', label: 'RoPE', kind: 'base', hasRope: true, detail: '' };

describe('settings', () => {
  it('evaluates from half the training length to 16x', () => {
    expect(evaluationLengths(64)).toEqual([32, 64, 128, 256, 512, 1024]);
    expect(evaluationLengths(16)).toEqual([8, 16, 32, 64, 128, 256]);
    expect(evaluationLengths(3)).toEqual([2, 3, 6, 12, 24, 48]);
  });

  it('one ladder of lengths: the long-context, needle and retrieval lengths are its rungs', () => {
    expect(lengthLadder(64, 8)).toEqual([64, 128, 256, 512]);
    expect(lengthLadder(64, 8, { half: true })).toEqual([32, 64, 128, 256, 512]);
    expect(lengthLadder(2, 2, { half: true })).toEqual([2, 4]);
    expect(perplexityLengths(64)).toEqual(lengthLadder(64, 8, { half: true }));
    expect(needleLengths(2048)).toEqual(lengthLadder(2048, 8));
    expect(retrievalLengths(64, null)).toEqual(lengthLadder(64, 8));
    const recorded = {
      task: 'records',
      format: 'lookup',
      records: 4,
      text: 'persuasion.txt',
      trials: 10,
      seed: 0,
      lengths: [64, 256],
    } as const;
    expect(retrievalLengths(64, { ...recorded, lengths: [...recorded.lengths] })).toEqual([64, 256]);
  });

  it('scales RoPE by L / C past the training length only, and drops it when off or absent', () => {
    const context = { trainContext: 64, maxPositionEmbeddings: 64 };
    expect(positionModeAt({ kind: 'yarn' }, 256, context)).toEqual({ kind: 'yarn', factor: 4 });
    expect(positionModeAt({ kind: 'pi' }, 64, context)).toEqual({ kind: 'rope' });
    expect(positionModeAt({ kind: 'ntk' }, 32, context)).toEqual({ kind: 'rope' });
    expect(positionModeAt({ kind: 'rope' }, 1024, context)).toEqual({ kind: 'rope' });
    expect(positionModeAt({ kind: 'none' }, 1024, context)).toEqual({ kind: 'none' });
    expect(positionSetting({ rope: true, scaling: 'ntk', c: 0 }, true)).toEqual({ kind: 'ntk' });
    expect(positionSetting({ rope: true, scaling: 'none', c: 0 }, true)).toEqual({ kind: 'rope' });
    expect(positionSetting({ rope: false, scaling: 'ntk', c: 0 }, true)).toEqual({ kind: 'none' });
    expect(positionSetting({ rope: true, scaling: 'ntk', c: 0 }, false)).toEqual({ kind: 'none' });
  });

  it('evalSettingsOf keeps the four settings that cross to the worker and nothing else', () => {
    const config = { model: 'austen-rope', rope: false, scaling: 'yarn' as const, factor: 8 as const, c: 0.2, steps: 3 };
    expect(evalSettingsOf(config)).toEqual({ rope: false, scaling: 'yarn', factor: 8, c: 0.2 });
  });

  it('a fixed scaling factor F is kind:F at every length, below the training length too', () => {
    const context = { trainContext: 64, maxPositionEmbeddings: 64 };
    const settings = { rope: true, c: 0 };
    // Per length (the default, factor absent or 'length'): L / C past C, plain RoPE up to it.
    expect(positionSetting({ ...settings, scaling: 'yarn' }, true)).toEqual({ kind: 'yarn' });
    expect(positionSetting({ ...settings, scaling: 'yarn', factor: 'length' }, true)).toEqual({ kind: 'yarn' });
    for (const L of [32, 64]) expect(positionModeAt({ kind: 'yarn' }, L, context)).toEqual({ kind: 'rope' });
    expect(positionModeAt({ kind: 'yarn' }, 512, context)).toEqual({ kind: 'yarn', factor: 8 });
    // Fixed: the same factor at L below, at and above C.
    expect(positionSetting({ ...settings, scaling: 'yarn', factor: 8 }, true)).toEqual({ kind: 'yarn', factor: 8 });
    for (const L of [32, 64, 128, 1024]) {
      expect(positionModeAt({ kind: 'yarn', factor: 8 }, L, context)).toEqual({ kind: 'yarn', factor: 8 });
      expect(positionModeAt({ kind: 'pi', factor: 2 }, L, context)).toEqual({ kind: 'pi', factor: 2 });
      expect(positionModeAt({ kind: 'ntk', factor: 16 }, L, context)).toEqual({ kind: 'ntk', factor: 16 });
    }
    // YaRN's original context is C when the config's M differs, as for the per-length series.
    const longer = { trainContext: 64, maxPositionEmbeddings: 256 };
    expect(positionModeAt({ kind: 'yarn', factor: 4 }, 32, longer)).toEqual({ kind: 'yarn', factor: 4, originalMaxPositionEmbeddings: 64 });
    expect(positionModeAt({ kind: 'yarn' }, 32, longer)).toEqual({ kind: 'rope' });
    // The factor means nothing without a scaling, with RoPE off, or without RoPE in the weights.
    expect(positionSetting({ ...settings, scaling: 'none', factor: 8 }, true)).toEqual({ kind: 'rope' });
    expect(positionSetting({ ...settings, rope: false, scaling: 'yarn', factor: 8 }, true)).toEqual({ kind: 'none' });
    expect(positionSetting({ ...settings, scaling: 'pi', factor: 4 }, false)).toEqual({ kind: 'none' });
    expect(positionKey({ kind: 'ntk', factor: 16 })).toBe('ntk:16');
    expect(positionKey({ kind: 'ntk' })).toBe('ntk');
  });

  it('a fixed factor is a series of its own, named with ×F', () => {
    expect(seriesId('base', { kind: 'yarn', factor: 8 }, 0)).toBe('base|yarn:8|0.00');
    expect(seriesId('base', { kind: 'yarn', factor: 8 }, 0)).not.toBe(seriesId('base', { kind: 'yarn' }, 0));
    expect(seriesId('base', { kind: 'yarn', factor: 8 }, 0)).not.toBe(seriesId('base', { kind: 'yarn', factor: 4 }, 0));
    expect(seriesLabel(base, { kind: 'yarn', factor: 8 }, 0, 64)).toBe('RoPE + YaRN ×8');
    expect(seriesLabel(base, { kind: 'pi', factor: 2 }, 0.2, 64)).toBe('RoPE + PI ×2 · c = 0.20');
    expect(seriesLabel(base, { kind: 'ntk', factor: 16 }, 0, 64)).toBe('RoPE + NTK ×16');
    expect(seriesLabel(base, { kind: 'ntk' }, 0, 64)).toBe('RoPE + NTK');
    const dropped: VariantInfo = { id: 'd', label: 'RoPE dropped', kind: 'dropped', hasRope: false, detail: '' };
    expect(seriesLabel(dropped, { kind: 'none' }, 0, 64)).toBe('RoPE dropped');
  });

  it('names series after positions for the loaded model and after the variant otherwise', () => {
    expect(seriesLabel(base, { kind: 'rope' }, 0, 64)).toBe('RoPE');
    expect(seriesLabel(base, { kind: 'yarn' }, 0.2, 64)).toBe('RoPE + YaRN · c = 0.20');
    expect(seriesLabel(base, { kind: 'none' }, 0, 64)).toBe('RoPE switched off');
    const recalibrated: VariantInfo = {
      id: 'r',
      label: 'Recalibrated (3 steps, LR 1e-3)',
      kind: 'recalibrated',
      hasRope: false,
      detail: '',
    };
    expect(seriesLabel(recalibrated, { kind: 'none' }, 0, 64)).toBe('Recalibrated (3 steps, LR 1e-3)');
    expect(seriesId('r', { kind: 'none' }, 0.1 + 0.2)).toBe('r|none|0.30');
  });

  it('crop is plain RoPE with a window of C_train keys, named as the eval CLI names it, with no factor', () => {
    const context = { trainContext: 64, maxPositionEmbeddings: 64 };
    expect(positionSetting({ rope: true, scaling: 'crop', c: 0 }, true)).toEqual({ kind: 'crop' });
    // A factor means nothing to crop; RoPE off or absent is still 'none'.
    expect(positionSetting({ rope: true, scaling: 'crop', factor: 8, c: 0 }, true)).toEqual({ kind: 'crop' });
    expect(positionSetting({ rope: false, scaling: 'crop', c: 0 }, true)).toEqual({ kind: 'none' });
    expect(positionSetting({ rope: true, scaling: 'crop', c: 0 }, false)).toEqual({ kind: 'none' });
    for (const L of [32, 64, 512]) expect(positionModeAt({ kind: 'crop' }, L, context)).toEqual({ kind: 'rope' });
    expect(attentionWindowOf({ kind: 'crop' }, 64)).toBe(64);
    for (const position of [{ kind: 'rope' }, { kind: 'none' }, { kind: 'yarn' }, { kind: 'yarn', factor: 8 }] as const) {
      expect(attentionWindowOf(position, 64)).toBeUndefined();
    }
    expect(seriesLabel(base, { kind: 'crop' }, 0, 64)).toBe('RoPE, cropped to the last 64 tokens');
    expect(seriesId('base', { kind: 'crop' }, 0)).not.toBe(seriesId('base', { kind: 'rope' }, 0));
    expect(scalingLabel('crop', 64)).toBe('RoPE, cropped to the last 64 tokens');
    expect(scalingLabel('crop', null)).toBe('RoPE, cropped to the last C_train tokens');
    expect(scalingLabel('yarn', 64)).toBe('YaRN');
  });

  it('puts 1-2-5 log ticks around the data', () => {
    expect(logTicks(4.17, 26.8)).toEqual({ ticks: [2, 5, 10, 20, 50], domain: [2, 50] });
    expect(logTicks(200, 200).domain[1]).toBeGreaterThan(200);
    expect(logTicks(0, 5).ticks).toEqual([1, 10]);
  });
});

describe('recorded curves (eval.json)', () => {
  const context = { trainContext: 64, maxPositionEmbeddings: 64 };
  const lengths = [32, 64, 128];
  const series = (id: string, positions: string, modes: string[], ppl: number[], betaC = 0) => ({
    id,
    label: id,
    positions,
    beta_c: betaC,
    modes: Object.fromEntries(lengths.map((L, i) => [String(L), modes[i]])),
    ppl: Object.fromEntries(lengths.map((L, i) => [String(L), ppl[i]])),
  });
  const file = (entries: unknown[]) => ({
    format: 'drope-playground/eval',
    version: 1,
    model: 'm',
    text: 'persuasion.txt',
    tokens: 4096,
    train_ctx: 64,
    lengths,
    series: entries,
  });

  it('ties series the page can reproduce exactly to their live setting, and keeps the others on their own', () => {
    const read = readRecordedEval(
      file([
        series('rope', 'rope', ['rope', 'rope', 'rope'], [5, 4, 9]),
        series('yarn', 'yarn:L/C', ['rope', 'rope', 'yarn:2'], [5, 4, 6]),
        series('dynamic', 'dynamic:L/C', ['rope', 'rope', 'dynamic:2'], [5, 4, 7]),
        series('yarn-other', 'yarn:L/C', ['rope', 'rope', 'yarn:2,original_max_position_embeddings=32'], [5, 4, 8]),
        series('none', 'none', ['none', 'none', 'none'], [90, 80, 85], 0.1),
      ]),
      context,
    );
    expect(read.problem).toBeNull();
    expect(read.curves.map((c) => [c.label, c.settings])).toEqual([
      ['rope', { position: { kind: 'rope' }, c: 0 }],
      ['yarn', { position: { kind: 'yarn' }, c: 0 }],
      ['dynamic', undefined],
      ['yarn-other', undefined],
      ['none', { position: { kind: 'none' }, c: 0.1 }],
    ]);
    expect(read.curves[0].points).toEqual([
      { length: 32, ppl: 5 },
      { length: 64, ppl: 4 },
      { length: 128, ppl: 9 },
    ]);
  });

  it('ties the crop series (RoPE with a window of C_train) to the crop setting, and no other window', () => {
    const rope = ['rope', 'rope', 'rope'];
    const read = readRecordedEval(
      file([
        series('rope', 'rope', rope, [5, 4, 9]),
        { ...series('crop', 'rope', rope, [5, 4, 4.1]), label: 'RoPE, cropped to the last 64 tokens', window: 64 },
        { ...series('crop-32', 'rope', rope, [6, 5, 5]), window: 32 },
      ]),
      context,
    );
    expect(read.problem).toBeNull();
    expect(read.curves.map((c) => [c.label, c.settings])).toEqual([
      ['rope', { position: { kind: 'rope' }, c: 0 }],
      ['RoPE, cropped to the last 64 tokens', { position: { kind: 'crop' }, c: 0 }],
      ['crop-32', undefined],
    ]);
  });

  it('never ties a recorded per-length series to a fixed factor', () => {
    const read = readRecordedEval(
      file([
        series('yarn', 'yarn:L/C', ['rope', 'rope', 'yarn:2'], [5, 4, 6]),
        // Recorded with a static factor 2: not what the page's per-length YaRN runs at L ≤ C.
        series('yarn-fixed', 'yarn:2', ['yarn:2', 'yarn:2', 'yarn:2'], [6, 5, 6]),
      ]),
      context,
    );
    expect(read.curves.map((c) => c.settings)).toEqual([{ position: { kind: 'yarn' }, c: 0 }, undefined]);
    // The live fixed setting names another series than the recorded per-length one.
    const live = positionSetting({ rope: true, scaling: 'yarn', factor: 2, c: 0 }, true);
    expect(seriesId('base', live, 0)).not.toBe(seriesId('base', read.curves[0].settings!.position, 0));
  });

  it('no file is no curves; a bad file is no curves and a reason', () => {
    expect(readRecordedEval(undefined, context)).toEqual({ curves: [], problem: null, retrieval: null });
    const bad = readRecordedEval('{"format": "something else"}', context, 'tiny/eval.json');
    expect(bad.curves).toEqual([]);
    expect(bad.problem).toMatch(/^tiny\/eval.json: not a perplexity-curve file/);
    expect(readRecordedEval('{oops', context).problem).toMatch(/not valid JSON/);
  });
});
