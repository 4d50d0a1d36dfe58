// Models by Hugging Face Hub id ("HuggingFaceTB/SmolLM-135M"): a ModelSource that downloads
// `{endpoint}/{org}/{name}/resolve/{revision}/{file}`, the URL layout huggingface_hub's
// hf_hub_url() builds (the Hub answers large files with a redirect to its CDN, which fetch follows).
//
// Browser-safe: fetch, streams, AbortController and TextDecoder only. Node's directory cache is
// src/model/cache-node.ts; the browser brings its own ByteCache (e.g. the Cache API or IndexedDB).
//
// What a caller can rely on:
// - a file is either all there or an error: a body shorter (or longer) than its Content-Length,
//   a connection closed mid-body or a download that stalls is an error naming the file, never
//   half a checkpoint; the bytes reach the cache only after that check;
// - a network failure (no connection, interrupted or stalled body, HTTP 408/429/5xx) is retried
//   once, after a short pause; HTTP 404 and 401/403 are not (they will not change in a second);
// - with a cache, a file read once is never fetched again: readBytes, readText and has() answer
//   from the cache, and has() remembers files the Hub does not have ("absent" markers, as
//   huggingface_hub's `.no_exist` folder does), so a second load makes no request at all. The
//   cache keys on the revision *name*: pin a commit (`revision`) or clear the cache to see a
//   branch move on;
// - nothing from the Hub is ever executed. config.json (model_type llama_drope, attention_type,
//   auto_map naming a modeling_*.py) is parsed as data by src/model/config.ts, and this source
//   refuses to fetch code files at all, whoever asks.

import type { ModelSource } from './checkpoint.ts';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_HUB_REVISION = 'main';

/** Bytes by key: what hubSource caches downloads in. Keys are strings; values are whole files. */
export interface ByteCache {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
  /**
   * Optional: whether get(key) would return bytes, without reading them. has(file) asks it before
   * every load, and reading a 1.4 GB file to answer "yes" would double the peak memory.
   */
  has?(key: string): Promise<boolean>;
}

/**
 * Download progress of one file: called with loaded = 0 when its response arrives, after every
 * chunk, and last with loaded === total once the file is complete and checked. `total` is the
 * Content-Length, or undefined until the end where the server sent none (or a compressed body).
 * A retry starts again from 0. Files served from the cache report nothing.
 */
export type HubProgress = (file: string, loaded: number, total: number | undefined) => void;

export interface HubSourceOptions {
  /** Where the Hub is (HF_ENDPOINT in huggingface_hub): default https://huggingface.co. */
  endpoint?: string;
  /** A branch, tag or commit; default "main". */
  revision?: string;
  cache?: ByteCache;
  onProgress?: HubProgress;
  /** The fetch to use (tests inject faults through it); default globalThis.fetch. */
  fetch?: typeof fetch;
  /** The pause before the one retry, in ms; default 1000. */
  retryDelayMs?: number;
  /** A request that gets no response, or a body that gets no bytes, for this long fails (ms); default 60 s. */
  stallTimeoutMs?: number;
}

export class HubError extends Error {
  /** The HTTP status where there was one. */
  readonly status: number | undefined;
  /** A network failure or a transient HTTP status: worth one more try. */
  readonly retryable: boolean;

  constructor(message: string, options: { status?: number; retryable?: boolean } = {}) {
    super(message);
    this.status = options.status;
    this.retryable = options.retryable ?? false;
  }
}

// A repository id as the Hub validates it (huggingface_hub validate_repo_id): two parts of word
// characters, "-" and ".", each starting and ending with a letter, digit or "_", at most 96 long,
// without "--" or "..".
const ID_PART = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/** Splits and validates `ORG/NAME`; throws a HubError saying what an id looks like. */
export function parseHubId(id: string): { org: string; name: string } {
  const parts = id.split('/');
  const valid = parts.length === 2 && parts.every((p) => p.length <= 96 && ID_PART.test(p) && !p.includes('--') && !p.includes('..'));
  if (!valid) {
    throw new HubError(
      `not a Hugging Face model id: ${JSON.stringify(id)} (expected ORG/NAME such as HuggingFaceTB/SmolLM-135M: ` +
        'letters, digits, "_", "-" and ".", each part starting and ending with a letter, digit or "_")',
    );
  }
  return { org: parts[0], name: parts[1] };
}

/** The endpoint as an origin plus path, without a trailing "/": the prefix of every URL and cache key. */
export function normalizeHubEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new HubError(`not a valid Hub endpoint URL: ${JSON.stringify(endpoint)} (expected e.g. ${DEFAULT_HUB_ENDPOINT})`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '' || url.username !== '') {
    throw new HubError(
      `not a valid Hub endpoint URL: ${JSON.stringify(endpoint)} (expected http(s)://host[:port][/path], e.g. ${DEFAULT_HUB_ENDPOINT})`,
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

// Files a Hub repository may hold that are programs (auto_map's modeling_*.py, compiled
// extensions, scripts): never fetched, so never run.
const CODE_FILE = /\.(py|pyc|pyo|pyd|so|dll|dylib|exe|sh|bat|js|mjs|cjs|wasm|pkl|pickle|bin|pt|pth|ckpt)$/i;

/**
 * A file name inside the repository: relative, "/"-separated, no "." or ".." parts, no scheme.
 * The pickle formats (.bin, .pt, .pkl) count as code: unpickling runs code, and weights here come
 * as safetensors only.
 */
function checkFileName(file: string, id: string): string[] {
  const segments = file.split('/');
  if (
    file === '' ||
    file.includes('\\') ||
    /^[a-z][a-z0-9+.-]*:/i.test(file) ||
    segments.some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw new HubError(`file name ${JSON.stringify(file)} of ${id} must be a relative path inside the repository`);
  }
  if (CODE_FILE.test(file)) {
    throw new HubError(
      `refusing to fetch ${file} from ${id}: the playground reads configs, safetensors weights and tokenizers as data ` +
        "and never downloads code (config.json's auto_map is ignored)",
    );
  }
  return segments;
}

/** "fetch failed (connect ECONNREFUSED 127.0.0.1:9)": undici hides the reason in `cause`. */
function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error ? (error as { cause?: unknown }).cause : undefined;
  const causeMessage = cause instanceof Error ? cause.message : typeof cause === 'string' ? cause : '';
  return causeMessage && causeMessage !== message ? `${message} (${causeMessage})` : message;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Aborts a request when nothing arrives for `ms`; kick() on every sign of life. */
class Watchdog {
  readonly controller = new AbortController();
  stalled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly ms: number) {
    this.kick();
  }

  kick(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.stalled = true;
      this.controller.abort(new Error(`no data for ${this.ms / 1000} s`));
    }, this.ms);
  }

  /** Always called: a pending timer would keep Node's event loop alive. */
  stop(): void {
    clearTimeout(this.timer);
  }
}

/** One stored chunk list → one array. */
function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].byteLength === length) return chunks[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Reads a model from the Hugging Face Hub (or a mirror at `endpoint`) by its id, ORG/NAME. */
export function hubSource(id: string, options: HubSourceOptions = {}): ModelSource {
  const { org, name } = parseHubId(id);
  const endpoint = normalizeHubEndpoint(options.endpoint ?? DEFAULT_HUB_ENDPOINT);
  const revision = options.revision ?? DEFAULT_HUB_REVISION;
  if (revision === '' || /[\s\0]/.test(revision)) throw new HubError(`not a valid revision for ${id}: ${JSON.stringify(revision)}`);
  // Call through globalThis: a browser's fetch throws "Illegal invocation" when detached from it.
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
  const { cache, onProgress } = options;

  // A revision such as "refs/pr/1" is one path segment, percent-encoded, as huggingface_hub does.
  const repoBase = `${endpoint}/${org}/${name}`;
  const rev = encodeURIComponent(revision);
  const urlOf = (segments: string[]) => `${repoBase}/resolve/${rev}/${segments.map(encodeURIComponent).join('/')}`;
  // Cache keys: the file's URL (endpoint + id + revision + file), and beside "resolve" an
  // "absent" tree for files the Hub said it does not have.
  const absentKeyOf = (segments: string[]) => `${repoBase}/absent/${rev}/${segments.map(encodeURIComponent).join('/')}`;
  const what = (file: string) => `${file} of ${id}${revision === DEFAULT_HUB_REVISION ? '' : ` (revision ${revision})`}`;

  /** An HTTP error status as a sentence a user can act on. */
  const httpError = (file: string, url: string, response: Response): HubError => {
    const { status } = response;
    const code = response.headers.get('x-error-code');
    const serverMessage = response.headers.get('x-error-message');
    const said = `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''}${serverMessage ? `: ${serverMessage}` : ''}`;
    if (status === 404 || status === 410) {
      if (code === 'RepoNotFound') return new HubError(`model ${id} not found at ${endpoint} (${said}, fetching ${url})`, { status });
      if (code === 'RevisionNotFound')
        return new HubError(`revision ${JSON.stringify(revision)} of ${id} not found (${said}, fetching ${url})`, { status });
      return new HubError(`${file} not found in ${id} (revision ${revision}) at ${endpoint}: ${said} fetching ${url}`, { status });
    }
    if (status === 401 || status === 403) {
      // The Hub answers 401 both for gated or private models and for ids that do not exist.
      return new HubError(
        `${said} fetching ${what(file)} from ${url}: the model may be gated or private (accepting its license and a ` +
          'Hugging Face token would be needed; this playground sends no token), or the id may be misspelled',
        { status },
      );
    }
    return new HubError(`${said} fetching ${what(file)} from ${url}`, {
      status,
      retryable: status === 408 || status === 429 || status >= 500,
    });
  };

  /** A request with the stall watchdog armed; the caller stops the watchdog. */
  const request = async (file: string, url: string, method: 'GET' | 'HEAD', watchdog: Watchdog): Promise<Response> => {
    try {
      return await doFetch(url, { method, signal: watchdog.controller.signal });
    } catch (error) {
      watchdog.stop();
      const reason = watchdog.stalled ? `no response in ${stallTimeoutMs / 1000} s` : describeError(error);
      throw new HubError(`could not fetch ${what(file)} from ${url}: ${reason}`, { retryable: true });
    }
  };

  /** Runs `attempt`, and once more after a pause when it fails in a way worth retrying. */
  const withRetry = async <T>(attempt: () => Promise<T>): Promise<T> => {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof HubError) || !error.retryable) throw error;
      await sleep(retryDelayMs);
      try {
        return await attempt();
      } catch (second) {
        if (second instanceof HubError && second.retryable) {
          throw new HubError(`${second.message} (failed twice: gave up after one retry)`, { status: second.status });
        }
        throw second;
      }
    }
  };

  /** GETs one file and streams its body, checking the size against Content-Length. */
  const download = async (file: string, segments: string[]): Promise<Uint8Array> => {
    const url = urlOf(segments);
    const watchdog = new Watchdog(stallTimeoutMs);
    try {
      const response = await request(file, url, 'GET', watchdog);
      watchdog.kick();
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        throw httpError(file, url, response);
      }

      // Content-Length counts the bytes on the wire: with a Content-Encoding (gzip) fetch hands
      // over more, and a cross-origin ("cors") response may hide the Content-Encoding header from
      // us, so the exact check runs only where the length is known to be the body's.
      const declaredHeader = response.headers.get('content-length');
      const declared = declaredHeader !== null && /^\d+$/.test(declaredHeader.trim()) ? Number(declaredHeader) : undefined;
      const encoding = response.headers.get('content-encoding');
      const encoded = encoding !== null && encoding.trim().toLowerCase() !== 'identity';
      const total = encoded ? undefined : declared;
      const exact = total !== undefined && response.type !== 'cors' && response.type !== 'opaque';

      const chunks: Uint8Array[] = [];
      // A known size is written into one array as it arrives: no second copy of a large file.
      const whole = exact ? new Uint8Array(total) : null;
      let loaded = 0;
      onProgress?.(file, 0, total);
      const reader = response.body?.getReader();
      if (reader) {
        try {
          for (;;) {
            let chunk: ReadableStreamReadResult<Uint8Array>;
            try {
              chunk = await reader.read();
            } catch (error) {
              const reason = watchdog.stalled ? `no data for ${stallTimeoutMs / 1000} s` : describeError(error);
              const of = total !== undefined ? ` of ${total}` : '';
              throw new HubError(`download of ${what(file)} from ${url} was interrupted after ${loaded}${of} bytes: ${reason}`, {
                retryable: true,
              });
            }
            if (chunk.done) break;
            watchdog.kick();
            const bytes = chunk.value;
            if (whole) {
              if (loaded + bytes.byteLength > whole.byteLength) {
                throw new HubError(
                  `download of ${what(file)} from ${url} has the wrong size: more than the ${total} bytes its Content-Length says`,
                  { retryable: true },
                );
              }
              whole.set(bytes, loaded);
            } else {
              chunks.push(bytes);
            }
            loaded += bytes.byteLength;
            onProgress?.(file, loaded, total);
          }
        } catch (error) {
          await reader.cancel().catch(() => undefined);
          throw error;
        }
      }
      if (exact && loaded !== total) {
        throw new HubError(
          `download of ${what(file)} from ${url} has the wrong size: got ${loaded} bytes, expected ${total} (Content-Length); ` +
            'the body was truncated',
          { retryable: true },
        );
      }
      // The last report says "complete" (loaded === total) even where the length was not known.
      if (loaded !== total) onProgress?.(file, loaded, loaded);
      return whole ?? concat(chunks, loaded);
    } finally {
      watchdog.stop();
    }
  };

  /** Whether the Hub has the file: HEAD, or GET where a server refuses HEAD (405, 501). */
  const probe = async (file: string, segments: string[]): Promise<boolean> => {
    const url = urlOf(segments);
    const watchdog = new Watchdog(stallTimeoutMs);
    try {
      let response = await request(file, url, 'HEAD', watchdog);
      if (response.status === 405 || response.status === 501) {
        watchdog.kick();
        response = await request(file, url, 'GET', watchdog);
      }
      // Only the status matters: drop any body unread.
      await response.body?.cancel().catch(() => undefined);
      if (response.ok) return true;
      // A missing file is an answer; a missing model or revision is an error (the Hub says which).
      const code = response.headers.get('x-error-code');
      if ((response.status === 404 || response.status === 410) && code !== 'RepoNotFound' && code !== 'RevisionNotFound') return false;
      throw httpError(file, url, response);
    } finally {
      watchdog.stop();
    }
  };

  const inCache = async (key: string): Promise<boolean> => {
    if (!cache) return false;
    return cache.has ? cache.has(key) : (await cache.get(key)) !== undefined;
  };

  const readBytes = async (file: string): Promise<Uint8Array> => {
    const segments = checkFileName(file, id);
    const key = urlOf(segments);
    const cached = await cache?.get(key);
    if (cached) return cached;
    const bytes = await withRetry(() => download(file, segments));
    // Only whole, size-checked files get here: the cache never holds part of one.
    await cache?.put(key, bytes);
    return bytes;
  };

  return {
    describe: `hf:${id}${revision === DEFAULT_HUB_REVISION ? '' : `@${revision}`}`,
    readBytes,
    async readText(file) {
      return new TextDecoder().decode(await readBytes(file));
    },
    async has(file) {
      const segments = checkFileName(file, id);
      if (await inCache(urlOf(segments))) return true;
      const absentKey = absentKeyOf(segments);
      if (await inCache(absentKey)) return false;
      const present = await withRetry(() => probe(file, segments));
      if (!present) await cache?.put(absentKey, new Uint8Array(0));
      return present;
    },
  };
}
