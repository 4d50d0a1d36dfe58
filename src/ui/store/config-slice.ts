// The config slice: the shareable settings (what the URL holds, see url-state.ts). Setters coerce
// each value through the URL table, so the store never holds a value a link could not reproduce.

import type { StateCreator } from 'zustand';
import type { AppState, Middlewares } from './store.ts';
import { coerceField, defaultConfig, type ShareableConfig } from './url-state.ts';

export interface ConfigSlice {
  config: ShareableConfig;
  /** Sets one setting; a value the table does not allow is ignored. */
  setSetting<K extends keyof ShareableConfig>(key: K, value: ShareableConfig[K]): void;
  /** Replaces every setting (from the URL at start-up). */
  replaceConfig(config: ShareableConfig): void;
}

export const createConfigSlice: StateCreator<AppState, Middlewares, [], ConfigSlice> = (set) => ({
  config: defaultConfig(),
  setSetting: (key, value) => {
    const coerced = coerceField(key, value);
    if (coerced === undefined) return;
    set((state) => (state.config[key] === coerced ? state : { config: { ...state.config, [key]: coerced } }));
  },
  replaceConfig: (config) => set({ config: { ...config } }),
});
