// The page's one bound store, built from slices (zustand's slices pattern): config (the shareable
// settings, mirrored in the URL), run (GPU, models, variants, measured numbers), ui (view
// preferences), and one per feature: retrieval (the live records test), compare (side by side),
// longContext and saved (the variants kept in IndexedDB). Middleware wraps only the combined store:
// persist keeps the ui preferences alone, versioned, in localStorage.

import { createStore, useStore } from 'zustand';
import { createJSONStorage, persist, type StateStorage } from 'zustand/middleware';
import { useShallow } from 'zustand/react/shallow';
import { positionSetting, seriesId, type VariantInfo } from '../settings.ts';
import { createConfigSlice, type ConfigSlice } from './config-slice.ts';
import { createRunSlice, type RunSlice } from './run-slice.ts';
import { createUiSlice, DEFAULT_UI, type UiPreferences, type UiSlice } from './ui-slice.ts';
import { createRetrievalSlice, type RetrievalSlice } from '../features/retrieval/slice.ts';
import { createCompareSlice, type CompareSlice } from '../features/side-by-side/slice.ts';
import { createLongContextSlice, type LongContextSlice } from '../features/long-context/slice.ts';
import { createSavedSlice, type SavedSlice } from '../features/saved-variants/saved.ts';

/** Actions that change several slices at once. */
export interface CrossSliceActions {
  /**
   * The worker's weights changed (another model, a load beginning, a lost device): what ran on or
   * sat beside the old ones goes. The shipped and Hub models loaded for side by side leave with
   * them, and a long-context or retrieval run ends, saying why. Returns the request ids of the runs
   * it ended, for the worker to cancel (store/weights-watch.ts).
   */
  resetForWeights(): number[];
}

export type AppState = ConfigSlice & RunSlice & UiSlice & RetrievalSlice & CompareSlice & LongContextSlice & SavedSlice & CrossSliceActions;

const RUN_ENDED = 'the model or the GPU changed';
export type Middlewares = [['zustand/persist', unknown]];

export const PERSIST_KEY = 'drope-playground:ui';
export const PERSIST_VERSION = 1;

/** A storage that forgets: where the page has no localStorage (tests in Node, private modes). */
export function memoryStorage(): StateStorage {
  const items = new Map<string, string>();
  return {
    getItem: (name) => items.get(name) ?? null,
    setItem: (name, value) => void items.set(name, value),
    removeItem: (name) => void items.delete(name),
  };
}

function defaultStorage(): StateStorage {
  try {
    if (typeof localStorage !== 'undefined') return localStorage;
  } catch {
    // localStorage can throw on access (blocked cookies); fall through.
  }
  return memoryStorage();
}

/** Keeps only known preferences of the right type from what was saved. */
export function migratePreferences(saved: unknown): UiPreferences {
  const out = { ...DEFAULT_UI };
  if (typeof saved === 'object' && saved !== null) {
    for (const key of Object.keys(DEFAULT_UI) as (keyof UiPreferences)[]) {
      const value = (saved as Record<string, unknown>)[key];
      if (typeof value === typeof DEFAULT_UI[key]) out[key] = value as boolean;
    }
  }
  return out;
}

export function createAppStore(storage: StateStorage = defaultStorage()) {
  return createStore<AppState>()(
    persist(
      (...a) => ({
        ...createConfigSlice(...a),
        ...createRunSlice(...a),
        ...createUiSlice(...a),
        ...createRetrievalSlice(...a),
        ...createCompareSlice(...a),
        ...createLongContextSlice(...a),
        ...createSavedSlice(...a),
        resetForWeights: () => {
          const [set, get] = a;
          const { compare, longContext, retrievalRun, retrievalMessage } = get();
          const ended = [longContext.run?.requestId, retrievalRun?.requestId].filter((id) => id !== undefined);
          set({
            compare: { ...compare, loads: {}, hubVariants: [] },
            longContext: longContext.run
              ? { ...longContext, run: null, message: { kind: 'info', text: `The long-context run stopped: ${RUN_ENDED}.` } }
              : longContext,
            retrievalRun: null,
            retrievalMessage: retrievalRun ? { kind: 'info', text: `The retrieval test stopped: ${RUN_ENDED}.` } : retrievalMessage,
          });
          return ended;
        },
      }),
      {
        name: PERSIST_KEY,
        version: PERSIST_VERSION,
        storage: createJSONStorage(() => storage),
        partialize: (state): UiPreferences => ({ showData: state.showData, showNotes: state.showNotes }),
        // Version 0 never shipped; any older or unknown shape keeps what still reads as a preference.
        migrate: (saved) => migratePreferences(saved),
        merge: (saved, current) => ({ ...current, ...migratePreferences(saved) }),
      },
    ),
  );
}

export type AppStore = ReturnType<typeof createAppStore>;

// ---------------------------------------------------------------------------------- selectors

export function activeVariant(state: AppState): VariantInfo | null {
  return state.variants.find((v) => v.id === state.activeVariant) ?? null;
}

/** The series the current settings fill, or null before a model is chosen. */
export function currentSeriesId(state: AppState): string | null {
  const variant = activeVariant(state);
  if (!variant) return null;
  return seriesId(variant.id, positionSetting(state.config, variant.hasRope), state.config.c);
}

/** True while recalibration holds the worker (preparing, running or paused). */
export function recalibrating(state: AppState): boolean {
  const status = state.recalibration?.status;
  return status === 'preparing' || status === 'running' || status === 'paused';
}

/** True while "Fit c" runs. */
export function fitting(state: AppState): boolean {
  return state.fit !== null && state.fit.result === undefined;
}

// -------------------------------------------------------------------------------- React hooks

let boundStore: AppStore | null = null;

/** The page's store (created on first use, so tests that never render never touch localStorage). */
export function appStore(): AppStore {
  boundStore ??= createAppStore();
  return boundStore;
}

/** Selects a primitive (or a stable reference) from the page's store. */
export function useApp<T>(selector: (state: AppState) => T): T {
  return useStore(appStore(), selector);
}

/** Selects a derived array or object, re-rendering only when its items change. */
export function useAppShallow<T>(selector: (state: AppState) => T): T {
  return useStore(appStore(), useShallow(selector));
}
