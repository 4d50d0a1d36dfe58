// The ui slice: view preferences, the only state persisted (to localStorage, see store.ts).

import type { StateCreator } from 'zustand';
import type { AppState, Middlewares } from './store.ts';

export interface UiPreferences {
  /** The "Show data" toggle: the chart's values as a table. */
  showData: boolean;
  /** The short explanations under each control group. */
  showNotes: boolean;
}

export interface UiSlice extends UiPreferences {
  toggleShowData(): void;
  toggleNotes(): void;
}

export const DEFAULT_UI: UiPreferences = { showData: false, showNotes: true };

export const createUiSlice: StateCreator<AppState, Middlewares, [], UiSlice> = (set) => ({
  ...DEFAULT_UI,
  toggleShowData: () => set((state) => ({ showData: !state.showData })),
  toggleNotes: () => set((state) => ({ showNotes: !state.showNotes })),
});
