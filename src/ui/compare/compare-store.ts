// Side by side's own state (a small zustand store next to the app's, so the shared slices stay as
// they are): the two slots' settings, the prompt, each slot's streamed continuation and its
// per-token loss. Nothing here is persisted; presentation mode lives in the URL (presentation.ts).

import { createStore, useStore } from 'zustand';
import { BASE_VARIANT, type EvalSettings, type Scaling } from '../settings.ts';

export const SLOTS = ['A', 'B'] as const;
export type SlotId = (typeof SLOTS)[number];

export interface SlotSettings extends EvalSettings {
  /** A variant id of the app's store (the loaded model, RoPE dropped, recalibrated ones). */
  variant: string;
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
  setSlot(slot: SlotId, patch: Partial<SlotSettings>): void;
  setPrompt(prompt: string): void;
  setMaxTokens(maxTokens: number): void;
  setGeneration(slot: SlotId, generation: GenerationState | null): void;
  updateGeneration(slot: SlotId, requestId: number, patch: Partial<GenerationState>): void;
  setLoss(slot: SlotId, loss: LossState | null): void;
  updateLoss(slot: SlotId, requestId: number, patch: Partial<LossState>): void;
}

export const DEFAULT_PROMPT = 'Anne Elliot had been walking with Captain Wentworth along the';

const slot = (rope: boolean, scaling: Scaling = 'none'): SlotSettings => ({ variant: BASE_VARIANT, rope, scaling, c: 0 });

export function createCompareStore() {
  return createStore<CompareState>()((set) => ({
    // A: the model as trained; B: the same weights with RoPE dropped.
    slots: { A: slot(true), B: slot(false) },
    prompt: DEFAULT_PROMPT,
    maxTokens: 24,
    generations: { A: null, B: null },
    losses: { A: null, B: null },
    setSlot: (id, patch) => set((s) => ({ slots: { ...s.slots, [id]: { ...s.slots[id], ...patch } } })),
    setPrompt: (prompt) => set({ prompt }),
    setMaxTokens: (maxTokens) => set({ maxTokens }),
    setGeneration: (id, generation) => set((s) => ({ generations: { ...s.generations, [id]: generation } })),
    updateGeneration: (id, requestId, patch) =>
      set((s) => {
        const g = s.generations[id];
        return g?.requestId === requestId ? { generations: { ...s.generations, [id]: { ...g, ...patch } } } : s;
      }),
    setLoss: (id, loss) => set((s) => ({ losses: { ...s.losses, [id]: loss } })),
    updateLoss: (id, requestId, patch) =>
      set((s) => {
        const l = s.losses[id];
        return l?.requestId === requestId ? { losses: { ...s.losses, [id]: { ...l, ...patch } } } : s;
      }),
  }));
}

export type CompareStore = ReturnType<typeof createCompareStore>;

let bound: CompareStore | null = null;

export function compareStore(): CompareStore {
  bound ??= createCompareStore();
  return bound;
}

export function useCompare<T>(selector: (state: CompareState) => T): T {
  return useStore(compareStore(), selector);
}
