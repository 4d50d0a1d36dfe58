// Side by side's actions: they send the worker's generate / retune / tokenLoss / cancel /
// loadVariant commands through the controller and write what comes back into the compare store.
// (A Hub model goes beside the loaded one from the Hub card: Controller.compareHubModel.)

import type { Controller } from '../../controller.ts';
import { BASE_VARIANT, positionSetting, seriesLabel, type EvalSettings, type VariantInfo } from '../../settings.ts';
import { appStore, type AppState } from '../../store/store.ts';
import { compareState, SLOTS, type SlotId, type SlotSettings } from './slice.ts';
import { hubSlotLabel, hubVariantName } from './hub-variants.ts';
import { offerLabel, shippedName, shippedOffers, slotChoices, type ShippedOffer } from './shipped-variants.ts';

/** The slot's variant as the worker knows it; the loaded model when the chosen one is gone (model switched). */
export function slotVariant(settings: SlotSettings, variants: readonly VariantInfo[]): VariantInfo | null {
  return variants.find((v) => v.id === settings.variant) ?? variants.find((v) => v.id === BASE_VARIANT) ?? null;
}

/** The shipped models the app's state offers beside its loaded model. */
export function appOffers(app: Pick<AppState, 'shipped' | 'meta'>): ShippedOffer[] {
  return shippedOffers(app.shipped, app.meta?.name ?? null);
}

/** Everything a slot can run now: the app's variants, the shipped models offered and the Hub models loaded beside them. */
function appChoices(): { choices: VariantInfo[]; offers: ShippedOffer[] } {
  const app = appStore().getState();
  const offers = appOffers(app);
  return { choices: slotChoices(app.variants, offers, compareState().hubVariants), offers };
}

function evalSettings(settings: SlotSettings): EvalSettings {
  return { rope: settings.rope, scaling: settings.scaling, c: settings.c };
}

/**
 * The slot's name for what it runs, as the chart's legend names a series: a shipped model by its
 * recorded series' name ("DroPE (recalibrated) · austen-drope"), a Hub model by its id.
 */
export function slotLabel(
  settings: SlotSettings,
  variant: VariantInfo | null,
  trainContext: number,
  offers: readonly ShippedOffer[] = [],
): string {
  if (!variant) return '–';
  const position = positionSetting(settings, variant.hasRope);
  const offer = offers.find((o) => o.info.id === variant.id);
  if (offer) return offerLabel(offer, position, settings.c, trainContext);
  return hubVariantName(variant.id) !== null
    ? hubSlotLabel(variant, position, settings.c, trainContext)
    : seriesLabel(variant, position, settings.c, trainContext);
}

/** The site's URL of a shipped model's folder, absolute (the worker fetches from its own location). */
function modelUrl(name: string): string {
  return new URL(`${import.meta.env.BASE_URL}models/${name}/`, location.href).href;
}

/**
 * A shipped model's weights into the worker, the first time a slot needs them (picked in a slot,
 * or the default of Model B at the first Generate or Measure). Sent before the requests that use
 * them: the worker runs requests in order. Nothing to do while they load or once they are there.
 */
export function ensureShippedVariant(controller: Controller, variantId: string): void {
  const name = shippedName(variantId);
  const app = appStore().getState();
  if (name === null || app.weights.kind !== 'ready' || app.gpu.kind !== 'ready') return;
  const compare = compareState();
  const load = compare.loads[name];
  if (load && load.status !== 'failed') return;
  const request = controller.worker.request({ type: 'loadVariant', name, baseUrl: modelUrl(name) }, (event) => {
    if (event.type === 'variant') compareState().updateShippedLoad(name, request.id, { status: 'ready' });
  });
  void request.result.then((end) => {
    if (end.type === 'done') return;
    const message = end.type === 'error' ? end.message : 'Cancelled';
    compareState().updateShippedLoad(name, request.id, { status: 'failed', message });
  });
  compare.setShippedLoad(name, { requestId: request.id, status: 'loading' });
}

export function generating(slot: SlotId): boolean {
  return compareState().generations[slot]?.status === 'running';
}

/** Both slots continue the prompt, token by token (a running generation is stopped first). */
export function generateBoth(controller: Controller): void {
  stopGeneration(controller);
  const compare = compareState();
  const { choices } = appChoices();
  for (const slot of SLOTS) {
    const settings = compare.slots[slot];
    const variant = slotVariant(settings, choices);
    if (!variant) continue;
    ensureShippedVariant(controller, variant.id);
    let lastRope: boolean | null = null;
    const request = controller.worker.request(
      {
        type: 'generate',
        slot,
        variant: variant.id,
        prompt: compare.prompt,
        maxTokens: compare.maxTokens,
        settings: evalSettings(settings),
      },
      (event) => {
        const store = compareState();
        const current = store.generations[slot];
        if (current?.requestId !== request.id) return;
        // The first token made without RoPE after tokens made with it: mark where the switch happened.
        const ropeUntil = current.ropeUntil ?? (lastRope === true && !event.rope ? current.text.length : null);
        lastRope = event.rope;
        store.updateGeneration(slot, request.id, { text: event.text, count: event.count, ropeUntil });
      },
    );
    void request.result.then((end) => {
      const status = end.type === 'done' ? 'done' : end.type === 'cancelled' ? 'stopped' : 'failed';
      compareState().updateGeneration(slot, request.id, { status, message: end.type === 'error' ? end.message : undefined });
    });
    compare.setGeneration(slot, { requestId: request.id, status: 'running', text: '', count: 0, ropeUntil: null });
  }
}

export function stopGeneration(controller: Controller): void {
  const compare = compareState();
  for (const slot of SLOTS) {
    const g = compare.generations[slot];
    if (g?.status === 'running') {
      controller.worker.control({ type: 'cancel', target: g.requestId });
      compare.updateGeneration(slot, g.requestId, { status: 'stopped' });
    }
  }
}

/** "Remove rotary embeddings": the slot runs without them from now on, a running generation from its next token. */
export function dropRopeNow(controller: Controller, slot: SlotId): void {
  const compare = compareState();
  compare.setSlot(slot, { rope: false });
  const g = compare.generations[slot];
  if (g?.status === 'running') {
    controller.worker.control({ type: 'retune', target: g.requestId, settings: evalSettings(compareState().slots[slot]) });
  }
}

/**
 * The main "Drop RoPE" (DroPE card) drops RoPE from the variant `variantId`: a slot generating with
 * that variant and RoPE on continues without it from its next token, as its own "Remove rotary
 * embeddings" would do (the worker's new "RoPE dropped" variant is the same weights run without
 * rotary embeddings, so retuning the running generation to rope off is the same model).
 */
export function dropRopeInGenerations(controller: Controller, variantId: string): void {
  const compare = compareState();
  const { choices } = appChoices();
  for (const slot of SLOTS) {
    const settings = compare.slots[slot];
    const variant = slotVariant(settings, choices);
    if (generating(slot) && variant?.id === variantId && variant.hasRope && settings.rope) dropRopeNow(controller, slot);
  }
}

/** Per-token loss of both slots over the first `length` tokens of the validation text (C_train: trainContext). */
export function measureLosses(controller: Controller, length: number, trainContext: number): void {
  const compare = compareState();
  const { choices, offers } = appChoices();
  for (const slot of SLOTS) {
    const settings = compare.slots[slot];
    const variant = slotVariant(settings, choices);
    if (!variant) continue;
    ensureShippedVariant(controller, variant.id);
    const label = `${slotLabel(settings, variant, trainContext, offers)}, ${length} tokens`;
    const request = controller.worker.request(
      { type: 'tokenLoss', variant: variant.id, settings: evalSettings(settings), length },
      (event) => compareState().updateLoss(slot, request.id, { start: event.start, tokens: event.tokens, losses: event.losses }),
    );
    void request.result.then((end) => {
      const update =
        end.type === 'done'
          ? { status: 'done' as const }
          : { status: 'failed' as const, message: end.type === 'error' ? end.message : 'Cancelled' };
      compareState().updateLoss(slot, request.id, update);
    });
    compare.setLoss(slot, { requestId: request.id, status: 'running', label, start: 0, tokens: [], losses: [] });
  }
}
