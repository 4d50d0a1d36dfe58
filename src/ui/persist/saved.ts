// Which of the page's variants are kept in the variant store (IndexedDB), and the latest message
// about keeping, importing or exporting them. A small store of its own, beside the app's slices:
// the app store knows variants, this one knows which of them survive a reload.

import { createStore, useStore } from 'zustand';
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

export const savedStore = createStore<SavedState>()(() => ({ stored: {}, message: null, importing: false, interrupted: [] }));

export function markStored(variant: string, key: string): void {
  savedStore.setState((s) => ({ stored: { ...s.stored, [variant]: key } }));
}

export function unmarkStored(variant: string): void {
  savedStore.setState((s) => {
    const { [variant]: _gone, ...rest } = s.stored;
    return { stored: rest };
  });
}

export function setSavedMessage(message: SavedMessage | null): void {
  savedStore.setState({ message });
}

export function useSaved<T>(selector: (state: SavedState) => T): T {
  return useStore(savedStore, selector);
}
