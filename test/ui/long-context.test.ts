// "Long context" (src/ui/features/long-context): lengths offered, too-short detection for a text and for a
// needle prompt (against the prompt's own size, counted here independently), the chart rows, and
// the store's actions driven by a fake controller (one request per variant, in order; results kept
// per model; cancel), and the charts' other models: which compare (needle: the same C; perplexity:
// the same C, vocabulary and text), their labels and styles, the "Also shown" line.

import { beforeEach, describe, expect, it } from 'vitest';
import { needleQuestion, needleSentence } from '../../src/eval/needle.ts';
import {
  alsoShownLine,
  combineSeries,
  comparedResults,
  lengthsTooLong,
  needleComparable,
  otherModelLabel,
  perplexityComparable,
  needleFits,
  needleLengths,
  needleRows,
  perplexityLengths,
  textKey,
  textTooShortMessage,
  tooShortLengths,
  upsertSeries,
  type ModelResults,
  type NeedlePoint,
  type PerplexityPoint,
  type Reference,
  type ResultSeries,
} from '../../src/ui/features/long-context/logic.ts';
import {
  cancelLongContext,
  initialLongContext,
  longContextState,
  patchLongContext,
  measurePerplexity,
  perplexityBlocker,
  resultsOf,
  runNeedle,
} from '../../src/ui/features/long-context/slice.ts';
import { appStore } from '../../src/ui/store/store.ts';
import { watchWeights } from '../../src/ui/store/weights-watch.ts';
import { scriptedController as fakeController, settle } from './helpers/scripted-worker.ts';

const bytes = {
  encode: (text: string) => [...new TextEncoder().encode(text)],
  decode: (ids: number[]) => new TextDecoder().decode(new Uint8Array(ids)),
};

describe('lengths', () => {
  it('perplexity: C/2 to 8C in powers of two; needle: 1x to 8x', () => {
    expect(perplexityLengths(64)).toEqual([32, 64, 128, 256, 512]);
    expect(perplexityLengths(2048)).toEqual([1024, 2048, 4096, 8192, 16384]);
    expect(perplexityLengths(2)).toEqual([2, 4, 8, 16]);
    expect(needleLengths(64)).toEqual([64, 128, 256, 512]);
    expect(needleLengths(2048)).toEqual([2048, 4096, 8192, 16384]);
  });

  it('a text is too short for the lengths it cannot fill one window of', () => {
    expect(lengthsTooLong(200, [32, 64, 128, 256, 512])).toEqual([256, 512]);
    expect(textTooShortMessage(512, [32, 512])).toBeNull();
    const message = textTooShortMessage(100, [32, 64, 128, 256]);
    expect(message).toContain('too short');
    expect(message).toContain('100 tokens');
    expect(message).toContain('128 and 256');
    expect(textTooShortMessage(100, [])).toBe('Choose at least one length.');
  });
});

describe('needleFits', () => {
  const filler = bytes.encode('It is a truth universally acknowledged, that a single man in possession of a good fortune. ');
  // The largest prompt over the trials: four sentences and the question, sized independently of
  // buildNeedlePrompt (keys are words of at most 7 letters, values 7 digits).
  const longestSentence = bytes.encode(needleSentence('whistle', '1234567')).length;
  const worst = 4 * longestSentence + bytes.encode(needleQuestion('whistle')).length;

  it('is false below every prompt size and true above the largest (byte-level: ~310 tokens)', () => {
    expect(worst).toBeGreaterThan(256);
    expect(worst).toBeLessThan(512);
    expect(needleFits(bytes, filler, 64, 0, 1)).toBe(false);
    expect(needleFits(bytes, filler, 256, 0, 4)).toBe(false);
    expect(needleFits(bytes, filler, 512, 0, 4)).toBe(true);
    expect(needleFits(bytes, filler, worst, 0, 20)).toBe(true);
  });

  it('checks every trial, not only the first seed', () => {
    // Each seed draws its own keys and numbers, so its own prompt size: the smallest length that
    // fits differs between seeds, and a run of 8 trials fits only where all 8 do.
    const smallest = (seed: number) => {
      let L = 200;
      while (!needleFits(bytes, filler, L, seed, 1)) L++;
      return L;
    };
    const sizes = Array.from({ length: 8 }, (_, s) => smallest(s));
    expect(new Set(sizes).size).toBeGreaterThan(1);
    const needed = Math.max(...sizes);
    expect(needleFits(bytes, filler, needed - 1, 0, 8)).toBe(false);
    expect(needleFits(bytes, filler, needed, 0, 8)).toBe(true);
    expect(needed).toBeLessThanOrEqual(worst);
  });
});

describe('results and chart rows', () => {
  it('textKey: the bundled text is one key, pasted texts differ by content', () => {
    expect(textKey('bundled', 'anything')).toBe('bundled');
    expect(textKey('pasted', 'abc')).toBe(textKey('pasted', 'abc'));
    expect(textKey('pasted', 'abc')).not.toBe(textKey('pasted', 'abd'));
  });

  it('upsertSeries replaces a point at the same length and gives new series new styles', () => {
    let list = upsertSeries([], 'a', 'A', { length: 64, ppl: 10 });
    list = upsertSeries(list, 'a', 'A', { length: 32, ppl: 12 });
    list = upsertSeries(list, 'a', 'A', { length: 64, ppl: 9 });
    list = upsertSeries(list, 'b', 'B', { length: 64, ppl: 20 });
    expect(list.map((s) => [s.id, s.style])).toEqual([
      ['a', 0],
      ['b', 1],
    ]);
    expect(list[0].points).toEqual([
      { length: 32, ppl: 12 },
      { length: 64, ppl: 9 },
    ]);
    expect(list[1].points).toEqual([{ length: 64, ppl: 20 }]);
  });

  it('needle rows: a rate in percent, "too short" as no bar (null) with its own label', () => {
    const series: ResultSeries<NeedlePoint>[] = [
      {
        id: 'base',
        label: 'RoPE',
        style: 0,
        points: [
          { length: 64, successes: 0, trials: 4, tooShort: true },
          { length: 512, successes: 1, trials: 4 },
        ],
      },
      { id: 'dropped', label: 'RoPE dropped', style: 1, points: [{ length: 512, successes: 0, trials: 4 }] },
    ];
    expect(needleRows(series, 64)).toEqual([
      { length: 64, category: '64 (1×)', s0: null, s0_label: 'too short' },
      { length: 512, category: '512 (8×)', s0: 25, s0_label: '25%', s1: 0, s1_label: '0%' },
    ]);
    expect(tooShortLengths(series)).toEqual([64]);
  });
});

describe('other models on the charts', () => {
  const ppl = (id: string, label: string, style: number, ...values: [number, number][]): ResultSeries<PerplexityPoint> => ({
    id,
    label,
    style,
    points: values.map(([length, p]) => ({ length, ppl: p })),
  });
  const needle = (id: string, label: string, style: number, length: number, successes: number): ResultSeries<NeedlePoint> => ({
    id,
    label,
    style,
    points: [{ length, successes, trials: 4 }],
  });
  const ref = (trainContext: number | null, vocabSize: number | null, key: string | null): Reference => ({
    trainContext,
    vocabSize,
    textKey: key,
  });
  const models = (entries: Record<string, Partial<ModelResults>>): Record<string, ModelResults> =>
    Object.fromEntries(
      Object.entries(entries).map(([name, r]) => [
        name,
        { trainContext: 64, vocabSize: 256, textKey: 'bundled', textLabel: 'Persuasion', perplexity: [], needle: [], ...r },
      ]),
    );

  it('needle results compare when C is equal, whatever the vocabulary or text', () => {
    expect(needleComparable(ref(64, 256, 'bundled'), ref(64, 49152, 'pasted:3:abc'))).toBe(true);
    expect(needleComparable(ref(64, 256, 'bundled'), ref(2048, 256, 'bundled'))).toBe(false);
    expect(needleComparable(ref(null, 256, 'bundled'), ref(null, 256, 'bundled'))).toBe(false);
  });

  it('perplexities compare only when C, the vocabulary size and the text are all equal', () => {
    expect(perplexityComparable(ref(64, 256, 'bundled'), ref(64, 256, 'bundled'))).toBe(true);
    expect(perplexityComparable(ref(2048, 49152, 'pasted:9:ff'), ref(2048, 49152, 'pasted:9:ff'))).toBe(true);
    expect(perplexityComparable(ref(64, 256, 'bundled'), ref(128, 256, 'bundled'))).toBe(false);
    expect(perplexityComparable(ref(64, 256, 'bundled'), ref(64, 49152, 'bundled'))).toBe(false);
    expect(perplexityComparable(ref(64, 256, 'bundled'), ref(64, 256, 'pasted:9:ff'))).toBe(false);
    // Unknown vocabulary or text compares with nothing, not even another unknown.
    expect(perplexityComparable(ref(64, null, 'bundled'), ref(64, null, 'bundled'))).toBe(false);
    expect(perplexityComparable(ref(64, 256, null), ref(64, 256, null))).toBe(false);
  });

  it("combineSeries: the current model's series unchanged, the others prefixed, every style distinct", () => {
    const current = [ppl('base|rope|0.00', 'RoPE', 0, [32, 10]), ppl('dropped-1|none|0.00', 'RoPE dropped', 2, [32, 12])];
    const combined = combineSeries(current, [
      { model: 'hf:SakanaAI/SmolLM-360M-DroPE', series: [ppl('base|none|0.00', 'NoPE', 0, [32, 9]), ppl('x', 'X', 1, [32, 8])] },
      { model: 'austen-nope', series: [ppl('base|none|0.00', 'NoPE', 0, [32, 11])] },
    ]);
    expect(combined.slice(0, 2)).toEqual(current);
    expect(combined.map((s) => s.label)).toEqual([
      'RoPE',
      'RoPE dropped',
      'hf:SakanaAI/SmolLM-360M-DroPE: NoPE',
      'hf:SakanaAI/SmolLM-360M-DroPE: X',
      'austen-nope: NoPE',
    ]);
    expect(otherModelLabel('austen-rope', 'RoPE')).toBe('austen-rope: RoPE');
    // Styles 0 and 2 are the current model's; the others take 1, 3, 4.
    expect(combined.map((s) => s.style)).toEqual([0, 2, 1, 3, 4]);
    expect(new Set(combined.map((s) => s.style)).size).toBe(combined.length);
    // Ids stay apart though two models both have a "base|none|0.00".
    expect(new Set(combined.map((s) => s.id)).size).toBe(combined.length);
    expect(combined[2].points).toEqual([{ length: 32, ppl: 9 }]);
  });

  it('comparedResults: which other models go on which chart', () => {
    const results = models({
      'austen-rope': { perplexity: [ppl('base|rope|0.00', 'RoPE', 0, [32, 10])], needle: [needle('base|rope|0.00', 'RoPE', 0, 512, 1)] },
      'austen-drope': {
        perplexity: [ppl('base|none|0.00', 'austen-drope (DroPE)', 0, [32, 9])],
        needle: [needle('base|none|0.00', 'austen-drope (DroPE)', 0, 512, 2)],
      },
      // Same C, another text: its needle results compare, its perplexities do not.
      'austen-nope': {
        textKey: 'pasted:5:abc',
        textLabel: 'your text',
        perplexity: [ppl('base|none|0.00', 'NoPE', 0, [32, 20])],
        needle: [needle('base|none|0.00', 'NoPE', 0, 512, 0)],
      },
      // Same C and text, another vocabulary: the needle test compares, perplexity does not.
      'other-bpe': {
        vocabSize: 49152,
        perplexity: [ppl('base|rope|0.00', 'RoPE', 0, [32, 30])],
        needle: [needle('base|rope|0.00', 'RoPE', 0, 512, 4)],
      },
      // Another C: nothing compares.
      'hf:HuggingFaceTB/SmolLM-360M': {
        trainContext: 2048,
        vocabSize: 49152,
        perplexity: [ppl('base|rope|0.00', 'RoPE', 0, [1024, 9])],
        needle: [needle('base|rope|0.00', 'RoPE', 0, 2048, 4)],
      },
    });
    const compared = comparedResults(results, 'austen-drope', ref(64, 256, 'bundled'));
    expect(compared.perplexityModels).toEqual(['austen-rope']);
    expect(compared.needleModels).toEqual(['austen-rope', 'austen-nope', 'other-bpe']);
    expect(compared.perplexity.map((s) => s.label)).toEqual(['austen-drope (DroPE)', 'austen-rope: RoPE']);
    expect(compared.needle.map((s) => s.label)).toEqual([
      'austen-drope (DroPE)',
      'austen-rope: RoPE',
      'austen-nope: NoPE',
      'other-bpe: RoPE',
    ]);
    expect(compared.needle.map((s) => s.style)).toEqual([0, 1, 2, 3]);
    expect(compared.textLabel).toBe('Persuasion');
    // The needle chart's rows carry every model's bars at the shared length.
    expect(needleRows(compared.needle, 64)).toEqual([
      {
        length: 512,
        category: '512 (8×)',
        s0: 50,
        s0_label: '50%',
        s1: 25,
        s1_label: '25%',
        s2: 0,
        s2_label: '0%',
        s3: 100,
        s3_label: '100%',
      },
    ]);

    // The SmolLM at C = 2048 sees none of the toy models, and they none of it.
    const smol = comparedResults(results, 'hf:HuggingFaceTB/SmolLM-360M', ref(2048, 49152, 'bundled'));
    expect([smol.perplexityModels, smol.needleModels]).toEqual([[], []]);
    expect(smol.perplexity.map((s) => s.label)).toEqual(['RoPE']);

    // A model not measured yet: the others that compare with its C, vocabulary and the chosen text.
    const fresh = comparedResults(results, 'austen-new', ref(64, 256, 'pasted:5:abc'));
    expect(fresh.perplexity.map((s) => s.label)).toEqual(['austen-nope: NoPE']);
    expect(fresh.textLabel).toBe('your text');
  });

  it('alsoShownLine: none, one, several, and which chart when they differ', () => {
    const one = ppl('a', 'A', 0, [32, 1]);
    const n = needle('a', 'A', 0, 64, 1);
    expect(alsoShownLine({ perplexity: [one], needle: [], perplexityModels: [], needleModels: [] })).toBeNull();
    expect(alsoShownLine({ perplexity: [one, one], needle: [], perplexityModels: ['austen-rope'], needleModels: [] })).toBe(
      'Also shown: austen-rope (measured earlier this session).',
    );
    expect(
      alsoShownLine({ perplexity: [one, one], needle: [n, n], perplexityModels: ['austen-rope'], needleModels: ['austen-rope'] }),
    ).toBe('Also shown: austen-rope (measured earlier this session).');
    expect(
      alsoShownLine({
        perplexity: [one, one],
        needle: [n, n, n],
        perplexityModels: ['austen-rope'],
        needleModels: ['austen-rope', 'austen-nope'],
      }),
    ).toBe('Also shown, measured earlier this session: austen-rope (perplexity and needle test), austen-nope (needle test).');
  });
});

// ------------------------------------------------------------------------------------ actions

function loadModel(name: string, trainContext: number, validationTokens: number, vocabSize = 256) {
  appStore().setState({
    gpu: { kind: 'ready', adapter: { name: 'test', software: true, maxBufferSize: 1 << 30, maxStorageBinding: 1 << 30, shaderF16: false } },
    meta: {
      name,
      trainContext,
      hasRope: true,
      summary: `4 layers, 4 heads, hidden size 128, vocabulary ${vocabSize}`,
      vocabSize,
      recordedProblem: null,
    },
    weights: { kind: 'ready', name, summary: { name, trainContext, parameters: 1, validationTokens } },
    variants: [
      { id: 'base', label: 'RoPE', kind: 'base', hasRope: true, detail: '' },
      { id: 'dropped-1', label: 'RoPE dropped', kind: 'dropped', hasRope: false, parent: 'base', detail: '' },
    ],
    activeVariant: 'base',
  });
}

describe('long-context actions', () => {
  beforeEach(() => {
    patchLongContext({ ...initialLongContext });
    loadModel('austen', 64, 100_000);
  });

  it('measures each selected variant in turn, on the bundled text, and keeps results per model', async () => {
    const { controller, requests, emit } = fakeController();
    patchLongContext({ extraVariants: ['dropped-1'], unticked: [128, 256, 512], budget: 256 });
    measurePerplexity(controller);
    expect(requests).toHaveLength(1);
    expect(requests[0].command).toMatchObject({ type: 'evaluate', variant: 'base', lengths: [32, 64], tokens: 256 });
    expect(requests[0].command).not.toHaveProperty('text');
    emit(0, { type: 'progress', done: 3, total: 12, length: 32 });
    expect(longContextState().run).toMatchObject({ kind: 'perplexity', done: 3, total: 12, index: 0, count: 2 });
    emit(0, { type: 'point', length: 32, ppl: 12 });
    emit(0, { type: 'point', length: 64, ppl: 10 });
    emit(0, { type: 'done' });
    await settle();
    // The second variant after the first: without RoPE, so its series is "none".
    expect(requests).toHaveLength(2);
    expect(requests[1].command).toMatchObject({ type: 'evaluate', variant: 'dropped-1' });
    emit(1, { type: 'point', length: 32, ppl: 15 });
    emit(1, { type: 'done' });
    await settle();
    const state = longContextState();
    expect(state.run).toBeNull();
    const results = resultsOf(state, 'austen');
    expect(results.textLabel).toBe('Persuasion');
    expect(results.perplexity.map((s) => [s.id, s.label, s.points.length])).toEqual([
      ['base|rope|0.00', 'RoPE', 2],
      ['dropped-1|none|0.00', 'RoPE dropped', 1],
    ]);
    // Another model has its own (empty) results; switching back finds these.
    expect(resultsOf(state, 'other').perplexity).toEqual([]);
  });

  it('a pasted text goes with the request; too short blocks the run', async () => {
    const { controller, requests } = fakeController();
    patchLongContext({ source: 'pasted', text: 'short text' });
    // Not counted yet: it may run (the worker checks too).
    expect(perplexityBlocker(longContextState())).toBeNull();
    const key = `austen|${textKey('pasted', 'short text')}`;
    patchLongContext({ count: { key, status: 'counted', tokens: 10 } });
    expect(perplexityBlocker(longContextState())).toContain('too short');
    measurePerplexity(controller);
    expect(requests).toHaveLength(0);
    patchLongContext({ unticked: [], count: { key, status: 'counted', tokens: 600 } });
    measurePerplexity(controller);
    expect(requests[0].command).toMatchObject({ type: 'evaluate', text: 'short text', lengths: [32, 64, 128, 256, 512] });
  });

  it('the needle test: lengths 1x to 8x, trials, tooShort kept apart from 0%; cancel stops the queue', async () => {
    const { controller, requests, controls, emit } = fakeController();
    patchLongContext({ extraVariants: ['dropped-1'], trials: 2 });
    runNeedle(controller);
    expect(requests[0].command).toMatchObject({ type: 'needle', variant: 'base', lengths: [64, 128, 256, 512], trials: 2, seed: 0 });
    emit(0, { type: 'needlePoint', length: 64, successes: 0, trials: 2, tooShort: true });
    emit(0, { type: 'needlePoint', length: 512, successes: 1, trials: 2 });
    const needle = resultsOf(longContextState(), 'austen').needle;
    expect(needle[0].points).toEqual([
      { length: 64, successes: 0, trials: 2, tooShort: true },
      { length: 512, successes: 1, trials: 2 },
    ]);
    cancelLongContext(controller);
    expect(controls).toEqual([{ type: 'cancel', target: requests[0].id }]);
    expect(longContextState().run).toBeNull();
    // The cancelled request's late end starts nothing.
    emit(0, { type: 'cancelled' });
    await settle();
    expect(requests).toHaveLength(1);
  });

  it("stamps results with the model's C and vocabulary: a second model of the same shape shares the charts", async () => {
    const { controller, emit } = fakeController();
    patchLongContext({ unticked: [128, 256, 512], budget: 128 });
    measurePerplexity(controller);
    emit(0, { type: 'point', length: 32, ppl: 12 });
    emit(0, { type: 'done' });
    await settle();
    expect(resultsOf(longContextState(), 'austen')).toMatchObject({ trainContext: 64, vocabSize: 256, textKey: 'bundled' });
    loadModel('austen-drope', 64, 100_000);
    measurePerplexity(controller);
    emit(1, { type: 'point', length: 32, ppl: 9 });
    emit(1, { type: 'done' });
    await settle();
    const state = longContextState();
    const compared = comparedResults(state.results, 'austen-drope', { trainContext: 64, vocabSize: 256, textKey: 'bundled' });
    expect(compared.perplexity.map((s) => [s.label, s.points])).toEqual([
      ['RoPE', [{ length: 32, ppl: 9 }]],
      ['austen: RoPE', [{ length: 32, ppl: 12 }]],
    ]);
    // A model of another vocabulary measured on the same text at the same C: its own chart only.
    loadModel('bpe', 64, 100_000, 49152);
    measurePerplexity(controller);
    emit(2, { type: 'point', length: 32, ppl: 30 });
    emit(2, { type: 'done' });
    await settle();
    expect(resultsOf(longContextState(), 'bpe').vocabSize).toBe(49152);
    const bpe = comparedResults(longContextState().results, 'bpe', { trainContext: 64, vocabSize: 49152, textKey: 'bundled' });
    expect(bpe.perplexityModels).toEqual([]);
  });

  it('a model switch ends the run (store/weights-watch.ts), and the worker is told to cancel it', async () => {
    const { controller, client, requests, controls } = fakeController();
    const stop = watchWeights(appStore(), (target) => client.control({ type: 'cancel', target }));
    runNeedle(controller);
    expect(longContextState().run).not.toBeNull();
    loadModel('other', 2048, 100_000);
    stop();
    expect(longContextState().run).toBeNull();
    expect(longContextState().message?.text).toBe('The long-context run stopped: the model or the GPU changed.');
    expect(controls).toEqual([{ type: 'cancel', target: requests[0].id }]);
  });
});
