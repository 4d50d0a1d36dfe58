// The Hub download cache for Node (the CLI and the tests): one file per cache key under a
// directory, by default ~/.cache/drope-playground/hub, or DROPE_CACHE_DIR where that is set.
//
// A key such as "https://huggingface.co/HuggingFaceTB/SmolLM-135M/resolve/main/config.json"
// becomes the path url/https/huggingface.co/HuggingFaceTB/SmolLM-135M/resolve/main/config.json;
// every other character than letters, digits, "_", "-" and "." is percent-escaped, as is a
// leading ".", so a key can neither climb out of the directory ("..") nor meet a temporary file.
//
// Writes are atomic (writeFileAtomic, src/model/save-node.ts): the bytes go to a temporary file
// beside the final one (".NAME.PID-RANDOM.tmp"), are flushed to disk, and only then renamed into
// place. A download interrupted at any point leaves either no entry or the complete one, never
// part of a file that a later load would trust; a killed run's temporary is removed by the next
// write into its folder. An entry hubSource finds corrupt is moved aside to ".NAME.corrupt-TIME"
// (kept for a look, never read again).

import { mkdir, readFile, rename, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from './save-node.ts';
import type { ByteCache } from './source-hub.ts';

/** DROPE_CACHE_DIR when set, otherwise ~/.cache/drope-playground/hub. */
export function defaultHubCacheDir(env: Record<string, string | undefined> = process.env): string {
  const override = env.DROPE_CACHE_DIR;
  return override ? resolve(override) : join(homedir(), '.cache', 'drope-playground', 'hub');
}

/** One path segment: safe characters kept, the rest as %XX of their UTF-8 bytes; "" becomes "%". */
function escapeSegment(segment: string): string {
  if (segment === '') return '%';
  let out = '';
  for (const byte of new TextEncoder().encode(segment)) {
    const ch = String.fromCharCode(byte);
    const safe = /[A-Za-z0-9_-]/.test(ch) || (ch === '.' && out !== '');
    out += safe ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The path segments of a key, relative to the cache directory (distinct keys, distinct paths).
 * A key cannot be both a file and the folder of another ("a" and "a/b"): the second write fails.
 * Hub keys never are, as no git tree holds both a file and a folder of one name.
 */
export function cacheKeySegments(key: string): string[] {
  const url = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)(.*)$/i.exec(key);
  const segments = url
    ? ['url', url[1].toLowerCase(), url[2], ...(url[3] === '' ? [] : url[3].slice(1).split('/'))]
    : ['key', ...key.split('/')];
  return segments.map(escapeSegment);
}

export interface DirectoryCache extends ByteCache {
  /** The cache directory, absolute. */
  readonly dir: string;
  /** Where `key` is (or would be) stored. */
  pathOf(key: string): string;
  has(key: string): Promise<boolean>;
  describe(key: string): string;
  discard(key: string): Promise<string | undefined>;
}

const isMissing = (error: unknown) => ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '');

/** A ByteCache in `dir` (created on the first write). */
export function directoryCache(dir: string = defaultHubCacheDir()): DirectoryCache {
  const root = resolve(dir);
  const pathOf = (key: string) => join(root, ...cacheKeySegments(key));

  return {
    dir: root,
    pathOf,
    async get(key) {
      const path = pathOf(key);
      try {
        const buffer = await readFile(path);
        return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw new Error(`cannot read the Hub cache file ${path}: ${(error as Error).message}`, { cause: error });
      }
    },
    async has(key) {
      try {
        return (await stat(pathOf(key))).isFile();
      } catch {
        return false;
      }
    },
    async put(key, bytes) {
      const path = pathOf(key);
      try {
        await mkdir(dirname(path), { recursive: true });
        await writeFileAtomic(path, bytes);
      } catch (error) {
        // writeFileAtomic's message names the path already; say it once.
        const reason = ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
        throw new Error(`cannot write the Hub cache file ${path}: ${reason} (set DROPE_CACHE_DIR to use another directory)`, {
          cause: error,
        });
      }
    },
    describe: pathOf,
    async discard(key) {
      const path = pathOf(key);
      const aside = join(dirname(path), `.${basename(path)}.corrupt-${Date.now()}`);
      try {
        await rename(path, aside);
        return aside;
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw new Error(`cannot move the corrupt Hub cache file ${path} aside: ${(error as Error).message}`, { cause: error });
      }
    },
  };
}
