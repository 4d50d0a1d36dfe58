// Side by side's slice of the page's store (`compare`): the two slots' settings, the prompt, each
// slot's streamed continuation and its per-token loss, the shipped models' weights loaded into the
// worker for a slot (shipped-variants.ts), and the Hub models loaded beside the loaded one
// (hub-variants.ts). Nothing here is persisted; presentation mode lives in the URL (presentation.ts).

import type { StateCreator } from 'zustand';
import { appStore, useApp, type AppState, type Middlewares } from '../../store/store.ts';
import { BASE_VARIANT, type EvalSettings, type Scaling, type VariantInfo } from '../../settings.ts';
import { DEFAULT_B_MODEL, shippedVariantId } from './shipped-variants.ts';

export const SLOTS = ['A', 'B'] as const;
export type SlotId = (typeof SLOTS)[number];

export interface SlotSettings extends EvalSettings {
  /**
   * A variant id of the app's store (the loaded model, RoPE dropped, recalibrated ones), of a
   * shipped model offered beside it (shippedVariantId) or of a Hub model loaded beside it (hubVariantId). One that is not there now (another model
   * loaded) is kept, and the slot runs the loaded model until it is there again.
   */
  variant: string;
}

/** A shipped model's weights on their way into the worker (loadVariant), or there. */
export interface ShippedLoad {
  requestId: number;
  status: 'loading' | 'ready' | 'failed';
  message?: string;
}

export interface GenerationState {
  requestId: number;
  status: 'running' | 'done' | 'stopped' | 'failed';
  /** The continuation so far. */
  text: string;
  count: number;
  /** Characters of `text` generated with RoPE, when RoPE was dropped during generation. */
  ropeUntil: number | null;
  message?: string;
}

export interface LossState {
  status: 'running' | 'done' | 'failed';
  /** What was measured, e.g. "RoPE, L = 64". */
  label: string;
  tokens: string[];
  /** The passage's first token's index in the validation text. */
  start: number;
  /** losses[t]: the loss of token t + 1 (predicted at position t). */
  losses: number[];
  message?: string;
  requestId: number;
}

export interface CompareState {
  slots: Record<SlotId, SlotSettings>;
  prompt: string;
  maxTokens: number;
  generations: Record<SlotId, GenerationState | null>;
  losses: Record<SlotId, LossState | null>;
  /** By shipped model name; emptied whenever the worker's weights change (they go with them). */
  loads: Record<string, ShippedLoad>;
  /**
   * Hub models in the worker beside the loaded one ("Compare with the current model"), as its
   * `variant` events gave them; emptied with `loads` (the worker drops them with its weights).
   */
  hubVariants: VariantInfo[];
  setSlot(slot: SlotId, patch: Partial<SlotSettings>): void;
  setPrompt(prompt: string): void;
  setMaxTokens(maxTokens: number): void;
  setGeneration(slot: SlotId, generation: GenerationState | null): void;
  updateGeneration(slot: SlotId, requestId: number, patch: Partial<GenerationState>): void;
  setLoss(slot: SlotId, loss: LossState | null): void;
  updateLoss(slot: SlotId, requestId: number, patch: Partial<LossState>): void;
  setShippedLoad(name: string, load: ShippedLoad): void;
  updateShippedLoad(name: string, requestId: number, patch: Partial<ShippedLoad>): void;
  /** Adds (or replaces, by id) a Hub model loaded beside the loaded one. */
  addHubVariant(variant: VariantInfo): void;
  /** Forgets every shipped and Hub model loaded for the slots (the worker's weights changed). */
  clearShippedLoads(): void;
}

export const DEFAULT_PROMPT = 'Anne Elliot had been walking with Captain Wentworth along the';

const slot = (variant: string, rope: boolean, scaling: Scaling = 'none'): SlotSettings => ({ variant, rope, scaling, c: 0 });

/**
 * A: the loaded model as trained, with RoPE. B: austen-drope (RoPE dropped and recalibrated) where
 * it is offered beside the loaded model, so Generate and "Measure per-token loss" show RoPE
 * against DroPE at once; elsewhere (a Hub model, austen-drope itself loaded) B falls back to the
 * loaded model with RoPE switched off, the default before shipped models could be picked.
 */
export function defaultSlots(): Record<SlotId, SlotSettings> {
  return { A: slot(BASE_VARIANT, true), B: slot(shippedVariantId(DEFAULT_B_MODEL), false) };
}

type CompareData = Omit<
  CompareState,
  { [K in keyof CompareState]: CompareState[K] extends (...args: never[]) => unknown ? K : never }[keyof CompareState]
>;

export const initialCompare = (): CompareData => ({
  slots: defaultSlots(),
  prompt: DEFAULT_PROMPT,
  maxTokens: 24,
  generations: { A: null, B: null },
  losses: { A: null, B: null },
  loads: {},
  hubVariants: [],
});

export interface CompareSlice {
  compare: CompareState;
}

export const createCompareSlice: StateCreator<AppState, Middlewares, [], CompareSlice> = (set) => {
  /** Changes side by side's state; `null` from `change` leaves it as it is. */
  const update = (change: (c: CompareState) => Partial<CompareState> | null) =>
    set((s) => {
      const patch = change(s.compare);
      return patch ? { compare: { ...s.compare, ...patch } } : s;
    });
  return {
    compare: {
      ...initialCompare(),
      setSlot: (id, patch) => update((c) => ({ slots: { ...c.slots, [id]: { ...c.slots[id], ...patch } } })),
      setPrompt: (prompt) => update(() => ({ prompt })),
      setMaxTokens: (maxTokens) => update(() => ({ maxTokens })),
      setGeneration: (id, generation) => update((c) => ({ generations: { ...c.generations, [id]: generation } })),
      updateGeneration: (id, requestId, patch) =>
        update((c) => {
          const g = c.generations[id];
          return g?.requestId === requestId ? { generations: { ...c.generations, [id]: { ...g, ...patch } } } : null;
        }),
      setLoss: (id, loss) => update((c) => ({ losses: { ...c.losses, [id]: loss } })),
      updateLoss: (id, requestId, patch) =>
        update((c) => {
          const l = c.losses[id];
          return l?.requestId === requestId ? { losses: { ...c.losses, [id]: { ...l, ...patch } } } : null;
        }),
      setShippedLoad: (name, load) => update((c) => ({ loads: { ...c.loads, [name]: load } })),
      updateShippedLoad: (name, requestId, patch) =>
        update((c) => {
          const l = c.loads[name];
          return l?.requestId === requestId ? { loads: { ...c.loads, [name]: { ...l, ...patch } } } : null;
        }),
      addHubVariant: (variant) => update((c) => ({ hubVariants: [...c.hubVariants.filter((v) => v.id !== variant.id), variant] })),
      clearShippedLoads: () => update(() => ({ loads: {}, hubVariants: [] })),
    },
  };
};

/** Side by side's state in the page's store. */
export function compareState(): CompareState {
  return appStore().getState().compare;
}

export function useCompare<T>(selector: (state: CompareState) => T): T {
  return useApp((s) => selector(s.compare));
}
