// Shipped models as side-by-side weights (src/ui/features/side-by-side/shipped-variants.ts): which shipped models
// a slot is offered beside the loaded one (same sizes and vocabulary, never the loaded one itself,
// none for a Hub model), Model B's default (austen-drope where offered, else the loaded model
// without RoPE), the slot's label (the recorded series' legend name), and the lazy loadVariant
// that Generate / Measure send before the requests that need it. The models are the ones in
// public/models (their real config.json and eval.json); the controller is a recorder, no worker.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  appOffers,
  ensureShippedVariant,
  generateBoth,
  measureLosses,
  slotLabel,
  slotVariant,
} from '../../src/ui/features/side-by-side/compare-actions.ts';
import { compareState, defaultSlots, type SlotSettings } from '../../src/ui/features/side-by-side/slice.ts';
import {
  DEFAULT_B_MODEL,
  sameSizes,
  shippedName,
  shippedOffers,
  shippedVariantId,
  slotChoices,
} from '../../src/ui/features/side-by-side/shipped-variants.ts';
import { readShippedModels, STORY_LABELS, type ShippedModel } from '../../src/ui/features/model/recorded-curves.ts';
import { BASE_VARIANT, type VariantInfo } from '../../src/ui/settings.ts';
import { appStore } from '../../src/ui/store/store.ts';
import { scriptedController, settle } from './helpers/scripted-worker.ts';

const MODELS_DIR = join(import.meta.dirname, '../../public/models');
const index = JSON.parse(readFileSync(join(MODELS_DIR, 'index.json'), 'utf8')) as { name: string; label: string }[];
const read = (path: string) => Promise.resolve(readFileSync(join(MODELS_DIR, path), 'utf8'));

const ropeBase: VariantInfo = { id: BASE_VARIANT, label: 'RoPE', kind: 'base', hasRope: true, detail: 'As trained' };

let shipped: ShippedModel[];

beforeEach(async () => {
  ({ models: shipped } = await readShippedModels(index, read));
});

/** One shipped model with one size changed. */
function resized(model: ShippedModel, patch: Partial<ShippedModel['shapes']>): ShippedModel {
  return { ...model, name: `${model.name}-resized`, shapes: { ...model.shapes, ...patch } };
}

describe('which shipped models a slot is offered', () => {
  it('the four shipped models read, with their sizes and index.json labels', () => {
    expect(shipped.map((m) => [m.name, m.kind, m.label])).toEqual([
      ['austen-rope', 'rope', 'austen-rope (RoPE)'],
      ['austen-drope', 'drope', 'austen-drope (DroPE, 12.5%)'],
      ['austen-drope-long', 'drope', 'austen-drope-long (DroPE, 50%)'],
      ['austen-nope', 'nope', 'austen-nope (NoPE)'],
    ]);
    expect(shipped[0].shapes).toEqual({
      vocabSize: 256,
      hiddenSize: 128,
      intermediateSize: 352,
      numLayers: 4,
      numHeads: 4,
      numKvHeads: 4,
      headDim: 32,
    });
    expect(sameSizes(shipped[0].shapes, shipped[1].shapes)).toBe(true);
  });

  it('beside austen-rope: both DroPE models and austen-nope, without RoPE, in index order; never the loaded model', () => {
    const offers = shippedOffers(shipped, 'austen-rope');
    expect(offers.map((o) => [o.name, o.kind, o.info.id, o.info.label, o.info.hasRope])).toEqual([
      ['austen-drope', 'drope', 'shipped:austen-drope', 'austen-drope (DroPE, 12.5%)', false],
      ['austen-drope-long', 'drope', 'shipped:austen-drope-long', 'austen-drope-long (DroPE, 50%)', false],
      ['austen-nope', 'nope', 'shipped:austen-nope', 'austen-nope (NoPE)', false],
    ]);
    // Beside austen-drope: the RoPE model is offered, with RoPE.
    expect(shippedOffers(shipped, 'austen-drope').map((o) => [o.name, o.info.hasRope])).toEqual([
      ['austen-rope', true],
      ['austen-drope-long', false],
      ['austen-nope', false],
    ]);
  });

  it('a model that differs in any size or in its vocabulary is not offered', () => {
    const [rope, drope] = shipped;
    for (const patch of [
      { vocabSize: 257 },
      { hiddenSize: 64 },
      { intermediateSize: 256 },
      { numLayers: 2 },
      { numHeads: 2 },
      { numKvHeads: 2 },
      { headDim: 16 },
    ]) {
      const odd = resized(drope, patch);
      expect(
        shippedOffers([rope, odd, drope], 'austen-rope').map((o) => o.name),
        JSON.stringify(patch),
      ).toEqual(['austen-drope']);
    }
  });

  it('a Hub model, or a loaded model the page could not read, gets no offers', () => {
    expect(shippedOffers(shipped, 'hf:someone/llama-tiny')).toEqual([]);
    expect(shippedOffers(shipped, null)).toEqual([]);
    expect(shippedOffers(shipped.slice(1), 'austen-rope')).toEqual([]);
    expect(appOffers({ shipped, meta: null })).toEqual([]);
  });

  it('shipped variant ids: apart from the page’s own variants', () => {
    expect(shippedVariantId('austen-drope')).toBe('shipped:austen-drope');
    expect(shippedName('shipped:austen-drope')).toBe('austen-drope');
    expect(shippedName(BASE_VARIANT)).toBeNull();
    expect(shippedName('recalibrated-1')).toBeNull();
  });
});

describe('the default slots', () => {
  const resolve = (loaded: string, settings: SlotSettings, base: VariantInfo = ropeBase) => {
    const offers = shippedOffers(shipped, loaded);
    const variant = slotVariant(settings, slotChoices([base], offers));
    return { id: variant?.id, label: slotLabel(settings, variant, 64, offers) };
  };

  it('A is the loaded model with RoPE; B is austen-drope where it is offered (RoPE vs DroPE at once)', () => {
    const slots = defaultSlots();
    expect(DEFAULT_B_MODEL).toBe('austen-drope');
    expect(slots.A).toEqual({ variant: BASE_VARIANT, rope: true, scaling: 'none', c: 0 });
    expect(resolve('austen-rope', slots.A)).toEqual({ id: BASE_VARIANT, label: 'RoPE' });
    expect(resolve('austen-rope', slots.B)).toEqual({ id: 'shipped:austen-drope', label: `${STORY_LABELS.drope} · austen-drope` });
  });

  it('elsewhere B falls back to the loaded model with RoPE switched off, and comes back when offered again', () => {
    const slots = defaultSlots();
    expect(resolve('hf:someone/llama-tiny', slots.B)).toEqual({ id: BASE_VARIANT, label: 'RoPE switched off' });
    const dropeBase: VariantInfo = { ...ropeBase, label: 'austen-drope (DroPE)', hasRope: false };
    expect(resolve('austen-drope', slots.B, dropeBase).id).toBe(BASE_VARIANT);
    expect(resolve('austen-rope', slots.B).id).toBe('shipped:austen-drope');
  });

  it('a shipped model’s slot label is its recorded series’ legend name, with the mode and c', () => {
    const offers = shippedOffers(shipped, 'austen-drope');
    const rope = offers.find((o) => o.name === 'austen-rope')!.info;
    const settings = (patch: Partial<SlotSettings>): SlotSettings => ({ variant: rope.id, rope: true, scaling: 'none', c: 0, ...patch });
    expect(slotLabel(settings({}), rope, 64, offers)).toBe('RoPE · austen-rope');
    expect(slotLabel(settings({ scaling: 'yarn' }), rope, 64, offers)).toBe('RoPE + YaRN · austen-rope');
    expect(slotLabel(settings({ rope: false }), rope, 64, offers)).toBe(`${STORY_LABELS.dropped} · austen-rope`);
    const nope = offers.find((o) => o.name === 'austen-nope')!.info;
    expect(slotLabel({ variant: nope.id, rope: true, scaling: 'none', c: 0.2 }, nope, 64, offers)).toBe(
      `${STORY_LABELS.nope} · c = 0.20 · austen-nope`,
    );
  });
});

describe('loading a shipped model into the worker', () => {
  beforeEach(() => {
    vi.stubGlobal('location', { href: 'http://localhost:5173/' });
    appStore().setState({
      variants: [ropeBase],
      shipped,
      meta: { name: 'austen-rope', trainContext: 64, hasRope: true, summary: '', vocabSize: 256, recordedProblem: null },
      gpu: {
        kind: 'ready',
        adapter: { name: 'test', software: true, maxBufferSize: 1 << 30, maxStorageBinding: 1 << 27, shaderF16: false },
      },
      weights: {
        kind: 'ready',
        name: 'austen-rope',
        summary: { name: 'austen-rope', trainContext: 64, parameters: 1, validationTokens: 10_000 },
      },
    });
    const compare = compareState();
    compare.clearShippedLoads();
    for (const [slot, settings] of Object.entries(defaultSlots())) compare.setSlot(slot as 'A' | 'B', settings);
    compare.setGeneration('A', null);
    compare.setGeneration('B', null);
  });

  it('Generate: loadVariant for B’s austen-drope first, then both generations; once only', async () => {
    const { controller, requests, emit } = scriptedController();
    generateBoth(controller);
    expect(requests.map((s) => s.command.type)).toEqual(['generate', 'loadVariant', 'generate']);
    expect(requests[1].command).toEqual({
      type: 'loadVariant',
      name: 'austen-drope',
      baseUrl: 'http://localhost:5173/models/austen-drope/',
    });
    expect(requests[0].command).toMatchObject({ type: 'generate', slot: 'A', variant: BASE_VARIANT, settings: { rope: true } });
    expect(requests[2].command).toMatchObject({ type: 'generate', slot: 'B', variant: 'shipped:austen-drope' });
    expect(compareState().loads['austen-drope'].status).toBe('loading');

    // While it loads, and once it is there, nothing more is requests for it.
    const load = 1;
    measureLosses(controller, 256, 64);
    expect(requests.slice(3).map((s) => s.command.type)).toEqual(['tokenLoss', 'tokenLoss']);
    expect(requests[4].command).toMatchObject({ variant: 'shipped:austen-drope' });
    expect(compareState().losses.B?.label).toBe(`${STORY_LABELS.drope} · austen-drope, 256 tokens`);
    emit(load, {
      type: 'variant',
      variant: { id: 'shipped:austen-drope', label: 'austen-drope', kind: 'base', hasRope: false, detail: '' },
    });
    emit(load, { type: 'done' });
    await settle();
    expect(compareState().loads['austen-drope'].status).toBe('ready');
    const before = requests.length;
    ensureShippedVariant(controller, 'shipped:austen-drope');
    expect(requests).toHaveLength(before);
  });

  it('a failed load is tried again; the loaded model’s own variants and unready weights send nothing', async () => {
    const { controller, requests, emit } = scriptedController();
    ensureShippedVariant(controller, 'shipped:austen-nope');
    emit(0, { type: 'error', message: 'HTTP 404' });
    await settle();
    expect(compareState().loads['austen-nope']).toMatchObject({ status: 'failed', message: 'HTTP 404' });
    ensureShippedVariant(controller, 'shipped:austen-nope');
    expect(requests.map((s) => s.command.type)).toEqual(['loadVariant', 'loadVariant']);

    requests.length = 0;
    ensureShippedVariant(controller, BASE_VARIANT);
    compareState().clearShippedLoads();
    appStore().setState({ weights: { kind: 'loading', name: 'austen-rope' } });
    ensureShippedVariant(controller, 'shipped:austen-drope');
    expect(requests).toEqual([]);
  });
});
