// Models by Hugging Face Hub id ("HuggingFaceTB/SmolLM-135M"): a ModelSource that downloads
// `{endpoint}/{org}/{name}/resolve/{revision}/{file}`, the URL layout huggingface_hub's
// hf_hub_url() builds (the Hub answers large files with a redirect to its CDN, which fetch follows).
//
// Browser-safe: fetch, streams, AbortController and TextDecoder only. Node's directory cache is
// src/model/cache-node.ts; the browser brings its own ByteCache (e.g. the Cache API or IndexedDB).
//
// What a caller can rely on:
// - a file is either all there and verified or an error: a body shorter (or longer) than its
//   Content-Length, a connection closed mid-body, a download that stalls, drips slower than the
//   minimum rate or runs past its deadline is an error naming the file, never half a checkpoint;
// - what is kept is verified: its length against Content-Length and, where the Hub states them
//   (X-Linked-Size; an LFS file's X-Linked-Etag or ETag is its SHA-256), its size and SHA-256; a
//   .json file must parse and a .safetensors file's header and data length must check out, so a
//   server that sends no length, or a wrong one, cannot get a truncated file cached. The bytes
//   reach the cache only after those checks;
// - a cached file that no longer passes them (a disk error, an older version's bad entry) is moved
//   aside and fetched again once; the error, if that fails too, names the cached path;
// - a network failure (no connection, interrupted, stalled or slow body, HTTP 408/429/5xx) is
//   retried once, after a short pause; HTTP 404 and 401/403 are not (they will not change in a
//   second). The deadline covers both tries;
// - no file is larger than maxFileBytes (JSON files than MAX_JSON_BYTES): a larger Content-Length
//   is refused before anything is allocated, and a body without one is cut off at the limit;
// - with a cache, a file read once is never fetched again: readBytes, readText and has() answer
//   from the cache, and has() remembers files the Hub does not have ("absent" markers, as
//   huggingface_hub's `.no_exist` folder does), so a second load makes no request at all. The
//   cache keys on the revision *name*: pin a commit (`revision`) or clear the cache to see a
//   branch move on;
// - nothing from the Hub is ever executed. config.json (model_type llama_drope, attention_type,
//   auto_map naming a modeling_*.py) is parsed as data by src/model/config.ts, and this source
//   refuses to fetch code files at all, whoever asks.

import type { ModelSource } from './checkpoint.ts';
import { formatBytes } from './format-bytes.ts';
import { parseSafetensors } from './safetensors.ts';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_HUB_REVISION = 'main';
/** The largest file a download accepts unless maxFileBytes says otherwise. */
export const DEFAULT_MAX_FILE_BYTES = 8 * 2 ** 30;
/** The largest JSON file (config, tokenizer, shard index): the largest tokenizer.json files on the Hub are tens of MB. */
export const MAX_JSON_BYTES = 128 * 2 ** 20;
/** Redirects followed for one file (the Hub answers an LFS file with one, to its CDN). */
const MAX_REDIRECTS = 5;

/** Bytes by key: what hubSource caches downloads in. Keys are strings; values are whole files. */
export interface ByteCache {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
  /**
   * Optional: whether get(key) would return bytes, without reading them. has(file) asks it before
   * every load, and reading a 1.4 GB file to answer "yes" would double the peak memory.
   */
  has?(key: string): Promise<boolean>;
  /** Optional: where the entry of `key` is (a file path in Node), for error messages. */
  describe?(key: string): string;
  /** Optional: takes a corrupt entry out of the cache; where it was moved aside, if it was kept. */
  discard?(key: string): Promise<string | undefined>;
}

/**
 * Download progress of one file: called with loaded = 0 when its response arrives, after every
 * chunk, and last with loaded === total once the file is complete. `total` is the Content-Length,
 * or undefined until the end where the server sent none (or a compressed body). A retry starts
 * again from 0. Files served from the cache report nothing.
 */
export type HubProgress = (file: string, loaded: number, total: number | undefined) => void;

export interface HubSourceOptions {
  /** Where the Hub is (HF_ENDPOINT in huggingface_hub): default https://huggingface.co. */
  endpoint?: string;
  /** A branch, tag or commit; default "main". */
  revision?: string;
  cache?: ByteCache;
  onProgress?: HubProgress;
  /** Told when a corrupt cached file was moved aside and fetched again. */
  onWarning?: (message: string) => void;
  /** The fetch to use (tests inject faults through it); default globalThis.fetch. */
  fetch?: typeof fetch;
  /** The pause before the one retry, in ms; default 1000. */
  retryDelayMs?: number;
  /**
   * A request that gets no response, or a body that gets no bytes, for this long fails (ms);
   * default 60 s. It is also the window of the minimum rate.
   */
  stallTimeoutMs?: number;
  /** A body that brings fewer bytes than this per second over a stall window fails; default 1024. */
  minBytesPerSecond?: number;
  /** One file, both tries together, that takes longer than this fails (ms); default 6 hours. */
  deadlineMs?: number;
  /** The largest file accepted, in bytes; default DEFAULT_MAX_FILE_BYTES (JSON files: MAX_JSON_BYTES at most). */
  maxFileBytes?: number;
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

const seconds = (ms: number) => `${ms / 1000} s`;

interface TransferLimits {
  stallMs: number;
  minBytesPerSecond: number;
  deadlineMs: number;
}

/**
 * Ends a transfer (aborts its requests) when nothing arrives for stallMs, when a flowing body
 * brings fewer than minBytesPerSecond·stallMs bytes in a window of stallMs (a drip that keeps the
 * stall timer alive), or at `deadline` (ms since the epoch). `reason` says which; only the
 * deadline is not worth a retry.
 */
class Watchdog {
  readonly controller = new AbortController();
  reason: string | undefined;
  retryable = true;
  private stallTimer: ReturnType<typeof setTimeout> | undefined;
  private rateTimer: ReturnType<typeof setInterval> | undefined;
  private readonly deadlineTimer: ReturnType<typeof setTimeout>;
  private windowBytes = 0;

  constructor(
    private readonly limits: TransferLimits,
    deadline: number,
  ) {
    this.deadlineTimer = setTimeout(
      () => this.abort(`not complete within the deadline of ${seconds(limits.deadlineMs)}`, false),
      Math.max(0, deadline - Date.now()),
    );
    this.kick();
  }

  /** A response or `bytes` more of the body arrived: the stall timer starts again. */
  kick(bytes = 0): void {
    this.windowBytes += bytes;
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => this.abort(`no data for ${seconds(this.limits.stallMs)}`), this.limits.stallMs);
  }

  /** The body starts: from now on every window of stallMs must bring the minimum rate's bytes. */
  startBody(): void {
    const { stallMs, minBytesPerSecond } = this.limits;
    const needed = (minBytesPerSecond * stallMs) / 1000;
    this.windowBytes = 0;
    this.rateTimer = setInterval(() => {
      if (this.windowBytes < needed) {
        this.abort(`slower than the minimum rate of ${formatBytes(minBytesPerSecond)}/s: ${this.windowBytes} bytes in ${seconds(stallMs)}`);
      }
      this.windowBytes = 0;
    }, stallMs);
  }

  private abort(reason: string, retryable = true): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.retryable = retryable;
    this.controller.abort(new Error(reason));
  }

  /** Always called: a pending timer would keep Node's event loop alive. */
  stop(): void {
    clearTimeout(this.stallTimer);
    clearInterval(this.rateTimer);
    clearTimeout(this.deadlineTimer);
  }
}

/** What the Hub states about a file besides Content-Length: on an LFS file's redirect, its size and SHA-256. */
interface StatedFile {
  size?: number;
  sha256?: string;
}

/** A strong ETag or X-Linked-Etag that is 64 hex digits: an LFS file's SHA-256 (a git blob's is a 40-digit SHA-1). */
function sha256Tag(value: string | null): string | undefined {
  if (value === null || value.startsWith('W/')) return undefined;
  const tag = value.replace(/^"|"$/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(tag) ? tag : undefined;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Why `bytes` cannot be the file `file`, or undefined: a .json file must be UTF-8 JSON, a
 * .safetensors file must have a valid header whose tensors fill its data section exactly.
 */
function contentProblem(file: string, bytes: Uint8Array): string | undefined {
  if (/\.json$/i.test(file)) {
    try {
      JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (error) {
      return `not valid JSON (${(error as Error).message})`;
    }
  } else if (/\.safetensors$/i.test(file)) {
    try {
      parseSafetensors(bytes, file);
    } catch (error) {
      return `not a valid safetensors file (${(error as Error).message})`;
    }
  }
  return undefined;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

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
  const limits: TransferLimits = {
    stallMs: options.stallTimeoutMs ?? 60_000,
    minBytesPerSecond: options.minBytesPerSecond ?? 1024,
    deadlineMs: options.deadlineMs ?? 6 * 3600_000,
  };
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const { cache, onProgress, onWarning } = options;

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

  /** A request with the watchdog armed; the caller stops the watchdog. */
  const request = async (
    file: string,
    url: string,
    method: 'GET' | 'HEAD',
    watchdog: Watchdog,
    redirect: RequestRedirect = 'follow',
  ): Promise<Response> => {
    try {
      return await doFetch(url, { method, redirect, signal: watchdog.controller.signal });
    } catch (error) {
      watchdog.stop();
      const reason = watchdog.reason ?? describeError(error);
      throw new HubError(`could not fetch ${what(file)} from ${url}: ${reason}`, { retryable: watchdog.retryable });
    }
  };

  /**
   * GETs `url`, following redirects itself where it can read them (Node), so that what the Hub
   * states on an LFS file's redirect (X-Linked-Size, X-Linked-Etag) is kept; a browser hides a
   * redirect's headers (an opaque redirect), and there fetch follows it.
   */
  const getFollowing = async (file: string, url: string, watchdog: Watchdog): Promise<{ response: Response; stated: StatedFile }> => {
    const stated: StatedFile = {};
    let current = url;
    for (let hops = 0; ; hops++) {
      const response = await request(file, current, 'GET', watchdog, 'manual');
      watchdog.kick();
      if (response.type === 'opaqueredirect') return { response: await request(file, current, 'GET', watchdog), stated };
      const linkedSize = response.headers.get('x-linked-size');
      if (stated.size === undefined && linkedSize !== null && /^\d+$/.test(linkedSize.trim())) stated.size = Number(linkedSize);
      // The ETag of the first answer only: a CDN's own ETag after a redirect is not the Hub's hash.
      stated.sha256 ??=
        sha256Tag(response.headers.get('x-linked-etag')) ?? (hops === 0 ? sha256Tag(response.headers.get('etag')) : undefined);
      if (!REDIRECT_STATUSES.has(response.status)) return { response, stated };
      await response.body?.cancel().catch(() => undefined);
      const location = response.headers.get('location');
      let next: URL | undefined;
      try {
        next = location === null ? undefined : new URL(location, current);
      } catch {
        next = undefined;
      }
      if (!next || (next.protocol !== 'https:' && next.protocol !== 'http:')) {
        throw new HubError(
          `HTTP ${response.status} fetching ${what(file)} from ${current} redirects to ${JSON.stringify(location)}, not an http(s) URL`,
        );
      }
      if (hops === MAX_REDIRECTS)
        throw new HubError(`more than ${MAX_REDIRECTS} redirects fetching ${what(file)} from ${url} (the last to ${next.href})`);
      current = next.href;
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

  /**
   * GETs one file, streams its body and verifies it (the header's comment): its size against
   * Content-Length and X-Linked-Size, its SHA-256 where the Hub states one, and its content.
   */
  const download = async (file: string, segments: string[], deadline: number): Promise<Uint8Array> => {
    const url = urlOf(segments);
    const watchdog = new Watchdog(limits, deadline);
    const limit = /\.json$/i.test(file) ? Math.min(maxFileBytes, MAX_JSON_BYTES) : maxFileBytes;
    const tooLarge = (size: string) =>
      new HubError(`${what(file)} from ${url} is ${size}, more than the ${formatBytes(limit)} (${limit} bytes) allowed for one file`);
    const wrong = (problem: string) => new HubError(`download of ${what(file)} from ${url} ${problem}`, { retryable: true });
    try {
      const { response, stated } = await getFollowing(file, url, watchdog);
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
      if (total !== undefined && total > limit) {
        await response.body?.cancel().catch(() => undefined);
        throw tooLarge(`${declaredHeader} bytes by its Content-Length`);
      }
      if (exact && stated.size !== undefined && total !== stated.size) {
        await response.body?.cancel().catch(() => undefined);
        throw wrong(`has a Content-Length of ${total} bytes, but the Hub states ${stated.size} (X-Linked-Size)`);
      }

      const chunks: Uint8Array[] = [];
      // A known size is written into one array as it arrives: no second copy of a large file.
      let whole: Uint8Array | null = null;
      if (exact) {
        try {
          whole = new Uint8Array(total);
        } catch (error) {
          await response.body?.cancel().catch(() => undefined);
          throw new HubError(`cannot hold ${what(file)} (${formatBytes(total)}) in memory: ${(error as Error).message}`);
        }
      }
      let loaded = 0;
      onProgress?.(file, 0, total);
      watchdog.startBody();
      const reader = response.body?.getReader();
      if (reader) {
        try {
          for (;;) {
            let chunk: ReadableStreamReadResult<Uint8Array>;
            try {
              chunk = await reader.read();
            } catch (error) {
              const of = total !== undefined ? ` of ${total}` : '';
              throw new HubError(
                `download of ${what(file)} from ${url} was interrupted after ${loaded}${of} bytes: ${watchdog.reason ?? describeError(error)}`,
                { retryable: watchdog.retryable },
              );
            }
            if (chunk.done) break;
            const bytes = chunk.value;
            watchdog.kick(bytes.byteLength);
            if (whole) {
              if (loaded + bytes.byteLength > whole.byteLength) {
                throw wrong(`has the wrong size: more than the ${total} bytes its Content-Length says`);
              }
              whole.set(bytes, loaded);
            } else {
              if (loaded + bytes.byteLength > limit) throw tooLarge(`more than ${loaded + bytes.byteLength} bytes (no Content-Length)`);
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
        throw wrong(`has the wrong size: got ${loaded} bytes, expected ${total} (Content-Length); the body was truncated`);
      }
      const bytes = whole ?? concat(chunks, loaded);
      if (stated.size !== undefined && loaded !== stated.size) {
        throw wrong(`has the wrong size: got ${loaded} bytes, but the Hub states ${stated.size} (X-Linked-Size)`);
      }
      if (stated.sha256 !== undefined && globalThis.crypto?.subtle) {
        const actual = await sha256Hex(bytes);
        if (actual !== stated.sha256) throw wrong(`has SHA-256 ${actual}, but the Hub states ${stated.sha256} (its ETag)`);
      }
      const problem = contentProblem(file, bytes);
      if (problem !== undefined) throw wrong(`is ${problem}`);
      // The last report says "complete" (loaded === total) even where the length was not known.
      if (loaded !== total) onProgress?.(file, loaded, loaded);
      return bytes;
    } finally {
      watchdog.stop();
    }
  };

  /** Whether the Hub has the file: HEAD, or GET where a server refuses HEAD (405, 501). */
  const probe = async (file: string, segments: string[]): Promise<boolean> => {
    const url = urlOf(segments);
    const watchdog = new Watchdog(limits, Date.now() + limits.deadlineMs);
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

  /**
   * Downloads a file (one retry, one deadline for both tries) and caches it once verified. A cache
   * that cannot keep it (a full disk) costs the next load a download, not this one: a warning.
   */
  const fetchAndKeep = async (file: string, segments: string[], key: string): Promise<Uint8Array> => {
    const deadline = Date.now() + limits.deadlineMs;
    const bytes = await withRetry(() => download(file, segments, deadline));
    await cache?.put(key, bytes).catch((error: unknown) => onWarning?.(`${what(file)} is not cached: ${(error as Error).message}`));
    return bytes;
  };

  /** A cached file that fails its content check: moved aside, fetched again once. */
  const replaceCorrupt = async (file: string, segments: string[], key: string, problem: string): Promise<Uint8Array> => {
    const where = cache?.describe?.(key) ?? key;
    const aside = await cache?.discard?.(key);
    const said = `the cached ${what(file)}, ${where}, is ${problem}${aside ? `; moved aside to ${aside}` : ''}`;
    let bytes: Uint8Array;
    try {
      bytes = await fetchAndKeep(file, segments, key);
    } catch (error) {
      throw new HubError(`${said}; fetching it again failed: ${(error as Error).message}`, {
        status: error instanceof HubError ? error.status : undefined,
      });
    }
    onWarning?.(`${said}; fetched it again`);
    return bytes;
  };

  const inCache = async (key: string): Promise<boolean> => {
    if (!cache) return false;
    return cache.has ? cache.has(key) : (await cache.get(key)) !== undefined;
  };

  const readBytes = async (file: string): Promise<Uint8Array> => {
    const segments = checkFileName(file, id);
    const key = urlOf(segments);
    const cached = await cache?.get(key);
    if (!cached) return fetchAndKeep(file, segments, key);
    const problem = contentProblem(file, cached);
    return problem === undefined ? cached : replaceCorrupt(file, segments, key, problem);
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
      if (!present) await cache?.put(absentKey, new Uint8Array(0)).catch(() => undefined); // only saves a request next time
      return present;
    },
  };
}
