// The other shipped models as side-by-side weights. The point of the section is RoPE against
// DroPE: the shipped austen-rope, austen-drope (RoPE dropped, then recalibrated) and austen-nope
// (NoPE from scratch) share their shapes and byte-level vocabulary, so each can run in a slot next
// to the loaded one. The page already reads every listed model's config.json at start
// (recorded-curves.ts readShippedModels, store `shipped`); a model whose sizes match the loaded
// one's is offered in each slot's "Weights", and its weights reach the worker only when a slot
// first needs them (worker command loadVariant, see compare-actions.ts).
//
// These are side-by-side variants only: they never enter the app store's `variants`, so the main
// controls and the main chart (which already shows their recorded curves under the story names,
// "DroPE (recalibrated) · austen-drope") are as before. A slot names such a model by that same
// legend name, so the slot and the chart's recorded series read as one model.
//
// Pure functions: tested in test/ui/shipped-variants.test.ts.

import { shippedLabel, type ModelShapes, type ShippedKind, type ShippedModel } from '../model/recorded-curves.ts';
import type { PositionSetting, VariantInfo } from '../../settings.ts';

/** Ids of shipped-model variants, in the slots and in the worker: apart from every variant made in the page. */
export const SHIPPED_VARIANT_PREFIX = 'shipped:';

/** Model B's default weights, when offered: RoPE (slot A, the loaded model) against DroPE at once. */
export const DEFAULT_B_MODEL = 'austen-drope';

export function shippedVariantId(name: string): string {
  return `${SHIPPED_VARIANT_PREFIX}${name}`;
}

/** The shipped model a variant id names, or null for any other variant. */
export function shippedName(variantId: string): string | null {
  return variantId.startsWith(SHIPPED_VARIANT_PREFIX) ? variantId.slice(SHIPPED_VARIANT_PREFIX.length) : null;
}

/** A shipped model a slot can run. */
export interface ShippedOffer {
  name: string;
  kind: ShippedKind;
  /** As the slot's variant list holds it: kind 'base' ("as trained"), id shippedVariantId(name). */
  info: VariantInfo;
}

const SHAPE_KEYS: readonly (keyof ModelShapes)[] = [
  'vocabSize',
  'hiddenSize',
  'intermediateSize',
  'numLayers',
  'numHeads',
  'numKvHeads',
  'headDim',
];

export function sameSizes(a: ModelShapes, b: ModelShapes): boolean {
  return SHAPE_KEYS.every((key) => a[key] === b[key]);
}

/**
 * The shipped models offered next to the loaded one (`loaded`: its folder name; a Hub model's
 * "hf:…" name is no shipped model, so it gets none): every other shipped model with the loaded
 * one's sizes and vocabulary, in index.json's order.
 */
export function shippedOffers(shipped: readonly ShippedModel[], loaded: string | null): ShippedOffer[] {
  const own = shipped.find((m) => m.name === loaded);
  if (!own) return [];
  return shipped
    .filter((m) => m.name !== own.name && sameSizes(m.shapes, own.shapes))
    .map((m) => ({
      name: m.name,
      kind: m.kind,
      info: { id: shippedVariantId(m.name), label: m.label, kind: 'base', hasRope: m.kind === 'rope', detail: `${m.name}, as trained` },
    }));
}

/**
 * What a slot chooses among: the app's variants (the loaded model and those made from it), then the
 * offers, then the Hub models loaded beside the loaded one (hub-variants.ts, compare store `hubVariants`).
 */
export function slotChoices(
  variants: readonly VariantInfo[],
  offers: readonly ShippedOffer[],
  hub: readonly VariantInfo[] = [],
): VariantInfo[] {
  return [...variants, ...offers.map((o) => o.info), ...hub];
}

/** A shipped model's name in a slot: its recorded series' legend name in the main chart. */
export function offerLabel(offer: ShippedOffer, position: PositionSetting, c: number, trainContext: number): string {
  return shippedLabel(offer.kind, { label: offer.info.label, settings: { position, c } }, offer.name, trainContext);
}
