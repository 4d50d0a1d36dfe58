// Side by side's actions: they send the worker's generate / retune / tokenLoss / cancel commands
// through the controller and write what comes back into the compare store.

import type { Controller } from '../controller.ts';
import { BASE_VARIANT, effectiveMode, seriesLabel, type EvalSettings, type VariantInfo } from '../settings.ts';
import { appStore } from '../store/store.ts';
import type { WorkerEvent } from '../worker/protocol.ts';
import { compareStore, SLOTS, type SlotId, type SlotSettings } from './compare-store.ts';

/** The slot's variant as the worker knows it; the loaded model when the chosen one is gone (model switched). */
export function slotVariant(settings: SlotSettings, variants: VariantInfo[]): VariantInfo | null {
  return variants.find((v) => v.id === settings.variant) ?? variants.find((v) => v.id === BASE_VARIANT) ?? null;
}

function evalSettings(settings: SlotSettings): EvalSettings {
  return { rope: settings.rope, scaling: settings.scaling, c: settings.c };
}

/** The slot's name for what it runs, as the chart's legend names a series. */
export function slotLabel(settings: SlotSettings, variant: VariantInfo | null): string {
  if (!variant) return '–';
  return seriesLabel(variant, effectiveMode(settings, variant.hasRope), settings.c);
}

function isEnd(event: WorkerEvent): boolean {
  return event.type === 'done' || event.type === 'cancelled' || event.type === 'error';
}

export function generating(slot: SlotId): boolean {
  return compareStore().getState().generations[slot]?.status === 'running';
}

/** Both slots continue the prompt, token by token (a running generation is stopped first). */
export function generateBoth(controller: Controller): void {
  stopGeneration(controller);
  const compare = compareStore().getState();
  const variants = appStore().getState().variants;
  for (const slot of SLOTS) {
    const settings = compare.slots[slot];
    const variant = slotVariant(settings, variants);
    if (!variant) continue;
    let lastRope: boolean | null = null;
    const requestId = controller.request(
      { type: 'generate', slot, variant: variant.id, prompt: compare.prompt, maxTokens: compare.maxTokens, settings: evalSettings(settings) },
      (event) => {
        const store = compareStore().getState();
        const current = store.generations[slot];
        if (current?.requestId !== requestId) return;
        if (event.type === 'token') {
          // The first token made without RoPE after tokens made with it: mark where the switch happened.
          const ropeUntil = current.ropeUntil ?? (lastRope === true && !event.rope ? current.text.length : null);
          lastRope = event.rope;
          store.updateGeneration(slot, requestId, { text: event.text, count: event.count, ropeUntil });
        } else if (isEnd(event)) {
          const status = event.type === 'done' ? 'done' : event.type === 'cancelled' ? 'stopped' : 'failed';
          store.updateGeneration(slot, requestId, { status, message: event.type === 'error' ? event.message : undefined });
        }
      },
    );
    compare.setGeneration(slot, { requestId, status: 'running', text: '', count: 0, ropeUntil: null });
  }
}

export function stopGeneration(controller: Controller): void {
  const compare = compareStore().getState();
  for (const slot of SLOTS) {
    const g = compare.generations[slot];
    if (g?.status === 'running') {
      controller.control({ type: 'cancel', target: g.requestId });
      compare.updateGeneration(slot, g.requestId, { status: 'stopped' });
    }
  }
}

/** "Remove rotary embeddings": the slot runs without them from now on, a running generation from its next token. */
export function dropRopeNow(controller: Controller, slot: SlotId): void {
  const compare = compareStore().getState();
  compare.setSlot(slot, { rope: false });
  const g = compare.generations[slot];
  if (g?.status === 'running') {
    controller.control({ type: 'retune', target: g.requestId, settings: evalSettings(compareStore().getState().slots[slot]) });
  }
}

/**
 * The main "Drop RoPE" (DroPE card) drops RoPE from the variant `variantId`: a slot generating with
 * that variant and RoPE on continues without it from its next token, as its own "Remove rotary
 * embeddings" would do (the worker's new "RoPE dropped" variant is the same weights run without
 * rotary embeddings, so retuning the running generation to rope off is the same model).
 */
export function dropRopeInGenerations(controller: Controller, variantId: string): void {
  const compare = compareStore().getState();
  const variants = appStore().getState().variants;
  for (const slot of SLOTS) {
    const settings = compare.slots[slot];
    const variant = slotVariant(settings, variants);
    if (generating(slot) && variant?.id === variantId && variant.hasRope && settings.rope) dropRopeNow(controller, slot);
  }
}

/** Per-token loss of both slots over the first `length` tokens of the validation text. */
export function measureLosses(controller: Controller, length: number): void {
  const compare = compareStore().getState();
  const variants = appStore().getState().variants;
  for (const slot of SLOTS) {
    const settings = compare.slots[slot];
    const variant = slotVariant(settings, variants);
    if (!variant) continue;
    const label = `${slotLabel(settings, variant)}, ${length} tokens`;
    const requestId = controller.request({ type: 'tokenLoss', variant: variant.id, settings: evalSettings(settings), length }, (event) => {
      const store = compareStore().getState();
      if (event.type === 'tokenLoss') store.updateLoss(slot, requestId, { start: event.start, tokens: event.tokens, losses: event.losses });
      else if (event.type === 'done') store.updateLoss(slot, requestId, { status: 'done' });
      else if (event.type === 'error' || event.type === 'cancelled') {
        store.updateLoss(slot, requestId, { status: 'failed', message: event.type === 'error' ? event.message : 'Cancelled' });
      }
    });
    compare.setLoss(slot, { requestId, status: 'running', label, start: 0, tokens: [], losses: [] });
  }
}
