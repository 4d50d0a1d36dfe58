// Hub models beside the loaded one (src/ui/features/side-by-side/hub-variants.ts): when two tokenizer.json files
// give a text the same ids (the vocab map, the merges in order, the added tokens; not the file's
// bytes), the error that names both models and what differs, the variant's id and label, the slot
// choices and labels with Hub variants among them, what Generate sends for a slot on a Hub model,
// and the memory sentence on the current model's weights (src/ui/features/model/hub-memory.ts currentWeightsNote).

import { beforeEach, describe, expect, it } from 'vitest';
import { byteLevelTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { parseConfig } from '../../src/model/config.ts';
import { generateBoth, slotLabel, slotVariant } from '../../src/ui/features/side-by-side/compare-actions.ts';
import { compareState, defaultSlots, type SlotSettings } from '../../src/ui/features/side-by-side/slice.ts';
import {
  hubSlotLabel,
  hubVariantId,
  hubVariantInfo,
  hubVariantName,
  incompatible,
  tokenizerDifference,
  vocabSizeDifference,
} from '../../src/ui/features/side-by-side/hub-variants.ts';
import { slotChoices } from '../../src/ui/features/side-by-side/shipped-variants.ts';
import { currentWeightsNote, estimateGpuMemory } from '../../src/ui/features/model/hub-memory.ts';
import { BASE_VARIANT, type VariantInfo } from '../../src/ui/settings.ts';
import { appStore } from '../../src/ui/store/store.ts';
import { scriptedController } from './helpers/scripted-worker.ts';
import { TINY_CONFIG } from '../../e2e/helpers/tiny-model.ts';

const names = { a: 'hf:HuggingFaceTB/SmolLM-360M', b: 'SakanaAI/SmolLM-360M-DroPE' };

/** A small BPE tokenizer.json in the style `tokenizers` writes: a vocab, merges, an added token. */
function bpe(merges: (string | [string, string])[] = ['a b', 'ab c']) {
  const json = byteLevelTokenizerJson();
  return {
    ...json,
    added_tokens: [
      { id: 256, content: '<|endoftext|>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false },
    ],
    model: { ...json.model, vocab: { ...json.model.vocab, ab: 257, abc: 258 } as Record<string, number>, merges },
  };
}

describe('tokenizerDifference: the same ids for the same text, or what differs', () => {
  it('equal tokenizers, and the same tokens written another way, compare equal', () => {
    expect(tokenizerDifference(bpe(), bpe(), names)).toBeNull();
    // tokenizers ≥ 0.20 writes merges as pairs; older files as "a b": the same merges.
    expect(
      tokenizerDifference(
        bpe(),
        bpe([
          ['a', 'b'],
          ['ab', 'c'],
        ]),
        names,
      ),
    ).toBeNull();
    // Keys in another order, and keys a newer writer adds: not the bytes, the tokens.
    const reordered = JSON.parse(
      JSON.stringify({ model: bpe().model, added_tokens: bpe().added_tokens, version: '1.0', extra: { new_key: true } }),
    );
    const vocab = Object.fromEntries(Object.entries(reordered.model.vocab as Record<string, number>).reverse());
    expect(tokenizerDifference(bpe(), { ...reordered, model: { ...reordered.model, vocab } }, names)).toBeNull();
    // The byte-level tokenizer of the shipped austen-* models.
    expect(tokenizerDifference(byteLevelTokenizerJson(), byteLevelTokenizerJson(), names)).toBeNull();
  });

  it('two ids swapped: names the token, both ids and both models', () => {
    const swapped = bpe();
    swapped.model.vocab = { ...swapped.model.vocab, a: 98, b: 97 };
    expect(tokenizerDifference(bpe(), swapped, names)).toBe(`the token "a" is id 98 in ${names.b}, 97 in ${names.a}`);
  });

  it('a token missing, a vocabulary of another size, another tokenizer type', () => {
    const renamed = bpe();
    const { abc, ...rest } = renamed.model.vocab;
    renamed.model.vocab = { ...rest, abd: abc };
    expect(tokenizerDifference(bpe(), renamed, names)).toBe(
      `the token "abc" (id 258 in ${names.a}) is missing from the tokenizer of ${names.b}`,
    );
    const bigger = bpe();
    bigger.model.vocab = { ...bigger.model.vocab, extra: 259 };
    expect(tokenizerDifference(bpe(), bigger, names)).toBe(
      `the tokenizer vocabulary has 259 tokens in ${names.b}, 258 tokens in ${names.a}`,
    );
    const unigram = { ...bpe(), model: { type: 'Unigram', vocab: [['a', -1]] } };
    expect(tokenizerDifference(bpe(), unigram, names)).toBe(`the tokenizer type is Unigram in ${names.b}, BPE in ${names.a}`);
    expect(tokenizerDifference(bpe(), { version: '1.0' }, names)).toBe(`the tokenizer.json of ${names.b} has no "model" object`);
  });

  it('merges: another count, or the same merges in another order (their priority)', () => {
    expect(tokenizerDifference(bpe(), bpe(['a b']), names)).toBe(
      `the tokenizer has 1 BPE merges in ${names.b}, 2 BPE merges in ${names.a}`,
    );
    expect(tokenizerDifference(bpe(), bpe(['ab c', 'a b']), names)).toBe(`BPE merge 1 is "ab c" in ${names.b}, "a b" in ${names.a}`);
  });

  it('added tokens: another content at an id, or one only one model has', () => {
    const other = { ...bpe(), added_tokens: [{ id: 256, content: '<s>', special: true }] };
    expect(tokenizerDifference(bpe(), other, names)).toBe(`the added token 256 is "<s>" in ${names.b}, "<|endoftext|>" in ${names.a}`);
    const more = { ...bpe(), added_tokens: [...bpe().added_tokens, { id: 259, content: '<pad>', special: true }] };
    expect(tokenizerDifference(bpe(), more, names)).toBe(`the added token 259 is "<pad>" in ${names.b}, absent in ${names.a}`);
  });

  it('vocab_size and the whole error: both models named, and what differs', () => {
    expect(vocabSizeDifference(49152, 49152, names)).toBeNull();
    const what = vocabSizeDifference(49152, 32000, names)!;
    expect(what).toBe(`vocab_size is 32000 in ${names.b}, 49152 in ${names.a}`);
    expect(incompatible(names, what)).toBe(
      `${names.b} cannot run beside ${names.a}: side by side needs the same vocabulary and tokenizer, but vocab_size is 32000 in ${names.b}, 49152 in ${names.a}`,
    );
  });
});

describe('Hub variants in the slots', () => {
  const ropeBase: VariantInfo = { id: BASE_VARIANT, label: 'RoPE', kind: 'base', hasRope: true, detail: 'As trained' };
  const drope = hubVariantInfo('SakanaAI/SmolLM-360M-DroPE', false);
  const rope = hubVariantInfo('HuggingFaceTB/SmolLM-360M', true);
  const settings = (variant: VariantInfo, patch: Partial<SlotSettings> = {}): SlotSettings => ({
    variant: variant.id,
    rope: true,
    scaling: 'none',
    c: 0,
    ...patch,
  });

  it('id "hub:ORG/NAME", label ORG/NAME, as trained', () => {
    expect(drope).toEqual({
      id: 'hub:SakanaAI/SmolLM-360M-DroPE',
      label: 'SakanaAI/SmolLM-360M-DroPE',
      kind: 'base',
      hasRope: false,
      detail: 'SakanaAI/SmolLM-360M-DroPE from the Hugging Face Hub, as trained',
    });
    expect(hubVariantId('a/b')).toBe('hub:a/b');
    expect(hubVariantName('hub:a/b')).toBe('a/b');
    expect(hubVariantName('shipped:austen-drope')).toBeNull();
    expect(hubVariantName(BASE_VARIANT)).toBeNull();
  });

  it('slot choices: the app’s variants, then the shipped offers, then the Hub models; a slot finds its Hub model', () => {
    const choices = slotChoices([ropeBase], [], [drope]);
    expect(choices.map((v) => v.id)).toEqual([BASE_VARIANT, 'hub:SakanaAI/SmolLM-360M-DroPE']);
    expect(slotVariant(settings(drope), choices)).toBe(drope);
    // Gone (another model loaded): the slot runs the loaded model until it is back.
    expect(slotVariant(settings(drope), [ropeBase])).toBe(ropeBase);
    expect(slotChoices([ropeBase], []).map((v) => v.id)).toEqual([BASE_VARIANT]);
  });

  it('slot labels: the id, with the positions where it has RoPE, and c', () => {
    expect(slotLabel(settings(drope), drope, 64)).toBe('SakanaAI/SmolLM-360M-DroPE');
    expect(slotLabel(settings(drope, { c: 0.1 }), drope, 64)).toBe('SakanaAI/SmolLM-360M-DroPE · c = 0.10');
    expect(slotLabel(settings(rope), rope, 64)).toBe('HuggingFaceTB/SmolLM-360M · RoPE');
    expect(slotLabel(settings(rope, { scaling: 'yarn' }), rope, 64)).toBe('HuggingFaceTB/SmolLM-360M · RoPE + YaRN');
    expect(slotLabel(settings(rope, { rope: false }), rope, 64)).toBe('HuggingFaceTB/SmolLM-360M · RoPE switched off');
    expect(hubSlotLabel(rope, { kind: 'rope' }, 0, 64)).toBe('HuggingFaceTB/SmolLM-360M · RoPE');
  });

  describe('what the slots send', () => {
    beforeEach(() => {
      appStore().setState({
        variants: [ropeBase],
        shipped: [],
        meta: {
          name: 'hf:HuggingFaceTB/SmolLM-360M',
          trainContext: 2048,
          hasRope: true,
          summary: '',
          vocabSize: 49152,
          recordedProblem: null,
        },
        gpu: {
          kind: 'ready',
          adapter: { name: 'test', software: true, maxBufferSize: 1 << 30, maxStorageBinding: 1 << 27, shaderF16: false },
        },
        weights: {
          kind: 'ready',
          name: 'hf:HuggingFaceTB/SmolLM-360M',
          summary: { name: 'x', trainContext: 2048, parameters: 1, validationTokens: 10_000 },
        },
      });
      const compare = compareState();
      compare.clearShippedLoads();
      for (const [slot, s] of Object.entries(defaultSlots())) compare.setSlot(slot as 'A' | 'B', s);
    });

    it('a Hub model in B: Generate runs it by its id, with no loadVariant (it is in the worker already)', () => {
      const compare = compareState();
      compare.addHubVariant(drope);
      compare.addHubVariant(drope);
      expect(compareState().hubVariants).toEqual([drope]);
      compare.setSlot('B', { variant: drope.id, rope: true });
      const { controller, requests } = scriptedController();
      generateBoth(controller);
      expect(requests.map((r) => r.command.type)).toEqual(['generate', 'generate']);
      expect(requests[1].command).toMatchObject({ slot: 'B', variant: 'hub:SakanaAI/SmolLM-360M-DroPE' });
      // The worker's weights changed: the Hub models go with the shipped ones, and B runs the loaded model.
      compare.clearShippedLoads();
      expect(compareState().hubVariants).toEqual([]);
      generateBoth(controller);
      expect(requests[3].command).toMatchObject({ slot: 'B', variant: BASE_VARIANT });
    });
  });
});

describe('the memory line: the current model’s weights stay on the GPU', () => {
  it('their size as stored, and the model’s name', () => {
    const config = parseConfig(TINY_CONFIG);
    // Tied embeddings [256, 32]; per layer q, k, v, o [32, 32], gate, up, down [64, 32] and two norms; the final norm.
    const parameters = 256 * 32 + 2 * (4 * 32 * 32 + 3 * 32 * 64 + 2 * 32) + 32;
    expect(estimateGpuMemory(config, 1).weightBytes).toBe(4 * parameters);
    expect(currentWeightsNote('hf:a/b', config, { weights: 'f32', activations: 'f32' })).toBe(
      'The current model’s weights are on the GPU too: 113 KB (hf:a/b, f32).',
    );
    expect(currentWeightsNote('tiny', config, { weights: 'f16', activations: 'f32' })).toMatch(
      /^The current model’s weights are on the GPU too: [\d.]+ KB \(tiny, f16\)\.$/,
    );
  });
});
