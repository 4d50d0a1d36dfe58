// Hugging Face Hub models as side-by-side weights: the "Compare with the current model" button of
// the Hub card (features/model/HubModel.tsx) loads a second Hub model into the worker beside the loaded
// one (worker command loadVariant with `hub`), as the variant "hub:ORG/NAME". The paper's pair is
// the point: HuggingFaceTB/SmolLM-360M (RoPE) beside SakanaAI/SmolLM-360M-DroPE (the same model
// after DroPE, with QK-norm gains the RoPE one has not).
//
// What a slot needs of such a model is what generation needs: token ids mean the same text in both
// models. The slots feed both models the ids of the loaded model's tokenizer and decode both
// continuations with it, and the per-token loss runs on the loaded model's tokens of the text. So
// the two must share the vocabulary size (the LM head's rows) and the tokenizer's id ↔ string map;
// the tensor shapes need not match (the DroPE checkpoint has q_norm/k_norm beside its RoPE original;
// loadCheckpoint still checks every tensor of the new model against its own config.json).
//
// Like the shipped-model variants (shipped-variants.ts) they never enter the app store's `variants`:
// the compare store lists them (slice.ts `hubVariants`), and they go with every other
// variant at the worker's next loadModel.
//
// Pure functions: tested in test/ui/hub-variants.test.ts.

import { isRecord } from '../../../model/config.ts';
import { formatC, ropeModeName, type PositionSetting, type VariantInfo } from '../../settings.ts';

/** Ids of Hub-model variants, in the slots and in the worker: apart from shipped ones and every variant made in the page. */
export const HUB_VARIANT_PREFIX = 'hub:';

export function hubVariantId(hubId: string): string {
  return `${HUB_VARIANT_PREFIX}${hubId}`;
}

/** The Hub id (ORG/NAME) a variant id names, or null for any other variant. */
export function hubVariantName(variantId: string): string | null {
  return variantId.startsWith(HUB_VARIANT_PREFIX) ? variantId.slice(HUB_VARIANT_PREFIX.length) : null;
}

/** A Hub model as the worker and the slots list it: kind 'base' (as trained), label ORG/NAME. */
export function hubVariantInfo(hubId: string, hasRope: boolean): VariantInfo {
  return { id: hubVariantId(hubId), label: hubId, kind: 'base', hasRope, detail: `${hubId} from the Hugging Face Hub, as trained` };
}

/**
 * A Hub model's name in a slot: ORG/NAME, with its positions when it has RoPE (the loaded model's
 * "RoPE" alone would not say which model runs), and c when the logit scale is on.
 */
export function hubSlotLabel(variant: VariantInfo, position: PositionSetting, c: number, trainContext: number): string {
  const positions = variant.hasRope ? (ropeModeName(position, trainContext) ?? 'RoPE switched off') : null;
  const label = positions === null ? variant.label : `${variant.label} · ${positions}`;
  return c > 0 ? `${label} · c = ${formatC(c)}` : label;
}

/** The two models' names in a difference's wording: `a` the loaded model, `b` the one to go beside it. */
export interface Pair {
  a: string;
  b: string;
}

/** Where two models' vocabularies differ (config.json's vocab_size), or null when they do not. */
export function vocabSizeDifference(a: number, b: number, names: Pair): string | null {
  return a === b ? null : `vocab_size is ${b} in ${names.b}, ${a} in ${names.a}`;
}

/** tokenizer.json's merges as "a b" strings: tokenizers ≥ 0.20 writes pairs ["a", "b"], older ones "a b". */
function mergeList(merges: unknown): string[] | null {
  if (merges === undefined || merges === null) return [];
  if (!Array.isArray(merges)) return null;
  return merges.map((m) => (Array.isArray(m) ? m.join(' ') : String(m)));
}

/** The added tokens by id: special tokens such as <|endoftext|>, which may sit outside the model's vocab. */
function addedTokens(json: Record<string, unknown>): Map<number, string> {
  const out = new Map<number, string>();
  if (!Array.isArray(json.added_tokens)) return out;
  for (const t of json.added_tokens) if (isRecord(t) && typeof t.id === 'number' && typeof t.content === 'string') out.set(t.id, t.content);
  return out;
}

/** A token for a message: JSON-quoted, so spaces and the byte-level alphabet's Ġ show. */
const quote = (token: string) => JSON.stringify(token);

/**
 * Where two tokenizer.json files (parsed; `a` the loaded model's) would give a text different ids,
 * or null when they map every token alike. Compared: the model type, the vocab map (token → id),
 * the BPE merges in order (the order is their priority) and the added tokens (id → content). Not
 * compared: the file's bytes (a checkpoint re-saved by a newer `tokenizers` writes merges as pairs,
 * adds keys and reorders the JSON, with the same tokens), nor tokenizer_config.json (chat
 * templates, BOS flags: the slots encode without special tokens). The normalizer and pre-tokenizer
 * are taken to come with the vocabulary and merges, as they do for checkpoints that share them.
 */
export function tokenizerDifference(a: unknown, b: unknown, names: Pair): string | null {
  if (!isRecord(a) || !isRecord(a.model)) return `the tokenizer.json of ${names.a} has no "model" object`;
  if (!isRecord(b) || !isRecord(b.model)) return `the tokenizer.json of ${names.b} has no "model" object`;
  const modelA = a.model;
  const modelB = b.model;
  const both = (x: string, y: string) => `${y} in ${names.b}, ${x} in ${names.a}`;
  if (modelA.type !== modelB.type) return `the tokenizer type is ${both(String(modelA.type), String(modelB.type))}`;
  const vocabA = isRecord(modelA.vocab) ? modelA.vocab : null;
  const vocabB = isRecord(modelB.vocab) ? modelB.vocab : null;
  if (vocabA === null || vocabB === null) {
    // A Unigram tokenizer's vocab is a list of [token, score]: equal as it is, or not at all.
    if (JSON.stringify(modelA.vocab) !== JSON.stringify(modelB.vocab)) return 'the tokenizer vocabularies differ';
  } else {
    const sizeA = Object.keys(vocabA).length;
    const sizeB = Object.keys(vocabB).length;
    if (sizeA !== sizeB) return `the tokenizer vocabulary has ${both(`${sizeA} tokens`, `${sizeB} tokens`)}`;
    for (const [token, id] of Object.entries(vocabA)) {
      if (vocabB[token] === id) continue;
      return vocabB[token] === undefined
        ? `the token ${quote(token)} (id ${String(id)} in ${names.a}) is missing from the tokenizer of ${names.b}`
        : `the token ${quote(token)} is id ${both(String(id), String(vocabB[token]))}`;
    }
  }
  const mergesA = mergeList(modelA.merges);
  const mergesB = mergeList(modelB.merges);
  if (mergesA === null || mergesB === null) return 'the BPE merges of a tokenizer.json are not a list';
  if (mergesA.length !== mergesB.length) return `the tokenizer has ${both(`${mergesA.length} BPE merges`, `${mergesB.length} BPE merges`)}`;
  const at = mergesA.findIndex((m, i) => m !== mergesB[i]);
  if (at >= 0) return `BPE merge ${at + 1} is ${both(quote(mergesA[at]), quote(mergesB[at]))}`;
  const addedA = addedTokens(a);
  const addedB = addedTokens(b);
  for (const id of new Set([...addedA.keys(), ...addedB.keys()])) {
    const x = addedA.get(id);
    const y = addedB.get(id);
    if (x !== y) return `the added token ${id} is ${both(x === undefined ? 'absent' : quote(x), y === undefined ? 'absent' : quote(y))}`;
  }
  return null;
}

/** The error when `b` cannot run beside the loaded model `a`: what differs, naming both. */
export function incompatible(names: Pair, difference: string): string {
  return `${names.b} cannot run beside ${names.a}: side by side needs the same vocabulary and tokenizer, but ${difference}`;
}
