// The saved slice of the page's store (`saved`): which of the page's variants are kept in the
// variant store (IndexedDB), and the latest message about keeping, importing or exporting them. The
// run slice knows variants; this one knows which of them survive a reload.

import type { StateCreator } from 'zustand';
import { appStore, useApp, type AppState, type Middlewares } from '../../store/store.ts';
import type { StoredVariantSummary } from './variant-store.ts';

export interface SavedMessage {
  kind: 'error' | 'info';
  text: string;
}

export interface SavedState {
  /** Variant id → its key in the variant store. */
  stored: Record<string, string>;
  message: SavedMessage | null;
  /** True while an import is validated and loaded. */
  importing: boolean;
  /** Recalibrations of the loaded model a reload or lost device cut short, resumable. */
  interrupted: StoredVariantSummary[];
}

export interface SavedSlice {
  saved: SavedState;
}

export const initialSaved: SavedState = { stored: {}, message: null, importing: false, interrupted: [] };

export const createSavedSlice: StateCreator<AppState, Middlewares, [], SavedSlice> = () => ({ saved: initialSaved });

export function savedState(): SavedState {
  return appStore().getState().saved;
}

export function patchSaved(patch: Partial<SavedState> | ((state: SavedState) => Partial<SavedState>)): void {
  appStore().setState((s) => ({ saved: { ...s.saved, ...(typeof patch === 'function' ? patch(s.saved) : patch) } }));
}

export function markStored(variant: string, key: string): void {
  patchSaved((s) => ({ stored: { ...s.stored, [variant]: key } }));
}

export function unmarkStored(variant: string): void {
  patchSaved((s) => {
    const { [variant]: _gone, ...rest } = s.stored;
    return { stored: rest };
  });
}

export function setSavedMessage(message: SavedMessage | null): void {
  patchSaved({ message });
}

export function useSaved<T>(selector: (state: SavedState) => T): T {
  return useApp((s) => selector(s.saved));
}
