// Presentation mode: a flag in the URL's hash ("#present"), so a shared or reloaded link opens in
// it. The hash rather than the query string: syncUrl (store/url-state.ts) rewrites the query from
// the shareable settings alone and keeps the hash as it is.

import { useSyncExternalStore } from 'react';

const FLAG = 'present';
const listeners = new Set<() => void>();

export function presentationFromHash(hash: string): boolean {
  return hash.replace(/^#/, '').split('&').includes(FLAG);
}

/** The hash with the flag set or cleared, other hash parts kept. */
export function hashWithPresentation(hash: string, on: boolean): string {
  const parts = hash
    .replace(/^#/, '')
    .split('&')
    .filter((p) => p !== '' && p !== FLAG);
  if (on) parts.push(FLAG);
  return parts.length ? `#${parts.join('&')}` : '';
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('hashchange', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('hashchange', listener);
  };
}

export function usePresentation(): boolean {
  return useSyncExternalStore(subscribe, () => presentationFromHash(window.location.hash));
}

export function setPresentation(on: boolean): void {
  const { pathname, search, hash } = window.location;
  // replaceState: toggling is not a navigation the back button should step through.
  window.history.replaceState(null, '', `${pathname}${search}${hashWithPresentation(hash, on)}`);
  for (const listener of listeners) listener();
}
