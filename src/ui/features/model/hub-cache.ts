// The browser's Hub download cache: a ByteCache (src/model/source-hub.ts) on the Cache Storage
// API, usable from the page and from the engine worker alike (both see the same origin's caches).
// Keys are the files' Hub URLs (and hubSource's "absent" marker URLs), so each entry is a Response
// stored under a GET request for that URL. hubSource puts only whole, verified files (a download
// cut short or interrupted puts nothing), so the cache never holds part of one; a second load of
// the same model makes no request at all. An entry hubSource finds corrupt is deleted.

import type { ByteCache } from '../../../model/source-hub.ts';

export const HUB_CACHE_NAME = 'drope-playground-hub';

/** Whether this context has Cache Storage (secure contexts only: https or localhost). */
export function haveCacheStorage(): boolean {
  return typeof caches !== 'undefined';
}

/** A ByteCache in the Cache Storage bucket `name`; without Cache Storage, a cache that holds nothing. */
export function cacheStorageByteCache(name: string = HUB_CACHE_NAME): ByteCache {
  if (!haveCacheStorage()) return { get: async () => undefined, put: async () => undefined, has: async () => false };
  let opened: Promise<Cache> | null = null;
  const open = () => (opened ??= caches.open(name));
  return {
    async get(key) {
      const response = await (await open()).match(key);
      return response ? new Uint8Array(await response.arrayBuffer()) : undefined;
    },
    async has(key) {
      // match() resolves with the Response without reading its body.
      return (await (await open()).match(key)) !== undefined;
    },
    async put(key, bytes) {
      const body = new Uint8Array(bytes); // a copy on its own ArrayBuffer: what Response wants
      try {
        await (
          await open()
        ).put(
          key,
          new Response(body, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.byteLength) } }),
        );
      } catch (error) {
        // A full quota only costs the next load a download: the file is still returned.
        console.warn(`could not cache ${key}: ${(error as Error).message}`);
      }
    },
    describe: (key) => `Cache Storage "${name}" entry ${key}`,
    async discard(key) {
      await (await open()).delete(key);
      return undefined;
    },
  };
}
