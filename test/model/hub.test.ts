// Models by Hugging Face Hub id (src/model/source-hub.ts) and the Node download cache
// (src/model/cache-node.ts), without the internet: a local server laid out like the Hub
// (test/helpers/hub-server.ts) serves tiny random Llama checkpoints written here, in every layout
// the loader reads (F32, F16, BF16, sharded), and the same files sit in directories on disk.
//
// The oracle is the directory loader: a model loaded by id must give bit-identical tensors and
// logits (on the real GPU) to the same files read from disk. Faults (404, 401/403, 500, a body cut
// short or closed mid-way, a stalled body, a body of the wrong size, no server at all) must each
// give a clear error or, for transient ones, succeed on the one retry, and never leave part of a
// file in the cache.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byteLevelTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { cacheKeySegments, defaultHubCacheDir, directoryCache } from '../../src/model/cache-node.ts';
import { expectedTensorShapes, loadCheckpoint, type Checkpoint } from '../../src/model/checkpoint.ts';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { LlamaModel } from '../../src/model/model.ts';
import { writeSafetensors, type WritableTensor } from '../../src/model/safetensors.ts';
import { serializeCheckpoint, type SaveDType } from '../../src/model/save.ts';
import { hubSource, parseHubId, type ByteCache, type HubSourceOptions } from '../../src/model/source-hub.ts';
import { directorySource } from '../../src/model/source-node.ts';
import { loadTokenizer } from '../../src/model/tokenizer.ts';
import { testEngine } from '../helpers/gpu.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';
import { TINY_CONFIG } from '../helpers/tiny-config.ts';

/**
 * The DroPE code's config: model_type llama_drope, attention_type nope, and an auto_map naming
 * Python classes, which the repository also holds: none of it may ever be fetched.
 */
const DROPE_CONFIG = {
  ...TINY_CONFIG,
  model_type: 'llama_drope',
  architectures: ['DroPELlamaForCausalLM'],
  attention_type: 'nope',
  tie_word_embeddings: false,
  auto_map: { AutoConfig: 'configuration_drope.DroPEConfig', AutoModelForCausalLM: 'modeling_drope.DroPELlamaForCausalLM' },
};
const PYTHON = 'raise SystemExit("remote code must never run")\n';

const TOKENIZER = JSON.stringify(byteLevelTokenizerJson());
const SHARDS = 3;

const work = mkdtempSync(join(tmpdir(), 'hub-test-'));
let server: HubServer;
/** id → the checkpoint directory holding the same files the server serves. */
const dirs = new Map<string, string>();

/** Serves `files` as `id` and writes them to a directory. */
function publish(id: string, files: Map<string, Uint8Array>, revision = 'main'): string {
  server.addRepo(id, files, revision);
  const dir = join(work, 'models', `${id.replace('/', '__')}@${revision}`);
  mkdirSync(dir, { recursive: true });
  for (const [file, bytes] of files) writeFileSync(join(dir, file), bytes);
  if (revision === 'main') dirs.set(id, dir);
  return dir;
}

function singleFile(raw: Record<string, unknown>, dtype: SaveDType, seed: number): Map<string, Uint8Array> {
  const { config, tensors } = initializeCheckpoint(raw, seed);
  const files = serializeCheckpoint(raw, tensors, expectedTensorShapes(config), dtype);
  files.set('tokenizer.json', new TextEncoder().encode(TOKENIZER));
  return files;
}

/** F32 shards (tensor i in shard i mod SHARDS) with model.safetensors.index.json, as save_pretrained shards. */
function sharded(raw: Record<string, unknown>, seed: number): Map<string, Uint8Array> {
  const { config, tensors } = initializeCheckpoint(raw, seed);
  const shapes = expectedTensorShapes(config);
  const files = new Map<string, Uint8Array>();
  const weightMap: Record<string, string> = {};
  const entries = [...tensors];
  for (let s = 0; s < SHARDS; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(SHARDS).padStart(5, '0')}.safetensors`;
    const mine: Record<string, WritableTensor> = {};
    entries.forEach(([name, data], i) => {
      if (i % SHARDS !== s) return;
      mine[name] = { dtype: 'F32', shape: shapes.get(name)!, data };
      weightMap[name] = file;
    });
    files.set(file, writeSafetensors(mine, { format: 'pt' }));
  }
  const enc = new TextEncoder();
  files.set('model.safetensors.index.json', enc.encode(JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap })));
  files.set('config.json', enc.encode(JSON.stringify(raw, null, 2)));
  files.set('tokenizer.json', enc.encode(TOKENIZER));
  files.set('modeling_drope.py', enc.encode(PYTHON));
  files.set('configuration_drope.py', enc.encode(PYTHON));
  return files;
}

const MODELS = ['test/tiny-f32', 'test/tiny-f16', 'test/tiny-bf16', 'test/tiny-drope-sharded'] as const;

beforeAll(async () => {
  server = await startHubServer();
  publish('test/tiny-f32', singleFile(TINY_CONFIG, 'F32', 1));
  publish('test/tiny-f16', singleFile(TINY_CONFIG, 'F16', 1));
  publish('test/tiny-bf16', singleFile(TINY_CONFIG, 'BF16', 1));
  publish('test/tiny-drope-sharded', sharded(DROPE_CONFIG, 2));
  // Another revision of tiny-f32 with other weights, to check the cache keeps revisions apart.
  publish('test/tiny-f32', singleFile(TINY_CONFIG, 'F32', 7), 'v2');
});

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Fast retries for the tests (the default pause is 1 s). */
const hub = (id: string, options: HubSourceOptions = {}) => hubSource(id, { endpoint: server.endpoint, retryDelayMs: 10, ...options });

let cacheCount = 0;
function freshCache() {
  return directoryCache(join(work, 'caches', String(cacheCount++)));
}

/** Every file under a directory, relative to it ([] where it does not exist). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

function expectSameCheckpoint(got: Checkpoint, want: Checkpoint) {
  expect(got.config).toEqual(want.config);
  expect([...got.tensors.keys()].sort()).toEqual([...want.tensors.keys()].sort());
  for (const [name, data] of want.tensors) {
    const other = got.tensors.get(name)!;
    expect(other.length, name).toBe(data.length);
    for (let i = 0; i < data.length; i++) if (!Object.is(other[i], data[i])) expect.fail(`${name}[${i}]: got ${other[i]}, want ${data[i]}`);
  }
}

/** Requests since `from` in the server's log, as "METHOD path". */
const requestsSince = (from: number) => server.requests.slice(from).map((r) => `${r.method} ${r.path}`);

// ------------------------------------------------------------------------------------ loading

describe('hubSource: loading by id', () => {
  it('reads /{org}/{name}/resolve/main/{file} from the endpoint, and nothing else', async () => {
    const before = server.requests.length;
    const checkpoint = await loadCheckpoint(hub('test/tiny-f32'));
    expect(checkpoint.config.numLayers).toBe(2);
    expect(requestsSince(before)).toEqual([
      'GET /test/tiny-f32/resolve/main/config.json',
      'HEAD /test/tiny-f32/resolve/main/model.safetensors',
      'GET /test/tiny-f32/resolve/main/model.safetensors',
    ]);
    expect(hub('test/tiny-f32').describe).toBe('hf:test/tiny-f32');
  });

  it('F32, F16, BF16 and sharded: tensors and GPU logits bit-identical to the same files on disk', async () => {
    const engine = await testEngine();
    const B = 2;
    const T = 8;
    const ids = Array.from({ length: B * T }, (_, i) => (i * 37 + 11) % 256);
    const logitsOf = async (checkpoint: Checkpoint) => {
      const model = LlamaModel.fromCheckpoint(engine, checkpoint);
      try {
        return await model.logits(ids, B, T);
      } finally {
        model.destroy();
      }
    };
    const byModel = new Map<string, Float32Array>();
    for (const id of MODELS) {
      const fromHub = await loadCheckpoint(hub(id));
      const fromDisk = await loadCheckpoint(directorySource(dirs.get(id)!));
      expectSameCheckpoint(fromHub, fromDisk);
      const [hubLogits, diskLogits] = [await logitsOf(fromHub), await logitsOf(fromDisk)];
      expect(hubLogits.length).toBe(B * T * 256);
      expect(hubLogits.every(Number.isFinite), id).toBe(true);
      expect(hubLogits, id).toEqual(diskLogits);
      byModel.set(id, hubLogits);
    }
    // The dtypes really differ (rounded weights), so each case loaded its own file.
    const f32 = byModel.get('test/tiny-f32')!;
    for (const id of ['test/tiny-f16', 'test/tiny-bf16']) expect(byModel.get(id)).not.toEqual(f32);
  });

  it('loads the tokenizer by id; an absent tokenizer_config.json is "not there", not an error', async () => {
    const before = server.requests.length;
    const tokenizer = await loadTokenizer(hub('test/tiny-bf16'));
    expect(tokenizer.encode('Café')).toEqual([...new TextEncoder().encode('Café')]);
    expect(requestsSince(before)).toEqual([
      'HEAD /test/tiny-bf16/resolve/main/tokenizer.json',
      'GET /test/tiny-bf16/resolve/main/tokenizer.json',
      'HEAD /test/tiny-bf16/resolve/main/tokenizer_config.json',
    ]);
  });

  it('reads config.json as data only: the DroPE config with auto_map loads, and no code file is ever fetched', async () => {
    const before = server.requests.length;
    const checkpoint = await loadCheckpoint(hub('test/tiny-drope-sharded'));
    expect(checkpoint.config.attentionType).toBe('nope');
    expect(checkpoint.config.raw.auto_map).toEqual(DROPE_CONFIG.auto_map);
    const paths = requestsSince(before);
    expect(paths.filter((p) => p.startsWith('GET')).length).toBe(1 + 1 + SHARDS); // config, index, shards
    expect(paths.some((p) => /\.py$/.test(p))).toBe(false);
    // Asked directly, the source refuses code (and pickles) without a request.
    const source = hub('test/tiny-drope-sharded');
    const count = server.requests.length;
    for (const file of ['modeling_drope.py', 'configuration_drope.py', 'pytorch_model.bin']) {
      await expect(source.readText(file)).rejects.toThrow(
        new RegExp(`refusing to fetch ${file.replace('.', '\\.')} from test/tiny-drope-sharded.*never downloads code`),
      );
      await expect(source.has(file)).rejects.toThrow(/refusing to fetch/);
    }
    expect(server.requests.length).toBe(count);
  });

  it('a revision: percent-encoded as one path segment, and its own files', async () => {
    const before = server.requests.length;
    await expect(hub('test/tiny-f32', { revision: 'refs/pr/1' }).readText('config.json')).rejects.toThrow(
      /config\.json not found in test\/tiny-f32 \(revision refs\/pr\/1\)/,
    );
    expect(requestsSince(before)).toEqual(['GET /test/tiny-f32/resolve/refs%2Fpr%2F1/config.json']);
    const v2 = await loadCheckpoint(hub('test/tiny-f32', { revision: 'v2' }));
    expectSameCheckpoint(v2, await loadCheckpoint(directorySource(join(work, 'models', 'test__tiny-f32@v2'))));
    expect(hub('test/tiny-f32', { revision: 'v2' }).describe).toBe('hf:test/tiny-f32@v2');
  });

  it('reports download progress per file: 0, increasing, and last loaded === total === the file size', async () => {
    const calls: [string, number, number | undefined][] = [];
    await loadCheckpoint(hub('test/tiny-drope-sharded', { onProgress: (file, loaded, total) => calls.push([file, loaded, total]) }));
    const files = [...new Set(calls.map(([file]) => file))];
    expect(files.sort()).toEqual(
      [
        'config.json',
        'model.safetensors.index.json',
        ...Array.from({ length: SHARDS }, (_, s) => `model-0000${s + 1}-of-00003.safetensors`),
      ].sort(),
    );
    for (const file of files) {
      const mine = calls.filter(([f]) => f === file);
      const size = statSync(join(dirs.get('test/tiny-drope-sharded')!, file)).size;
      expect(mine[0].slice(1), file).toEqual([0, size]);
      expect(mine[mine.length - 1].slice(1), file).toEqual([size, size]);
      for (let i = 1; i < mine.length; i++) expect(mine[i][1]).toBeGreaterThanOrEqual(mine[i - 1][1]);
    }
    // The weights are big enough to arrive in several chunks.
    expect(calls.filter(([f]) => f.endsWith('.safetensors')).length).toBeGreaterThan(2 * SHARDS);
  });
});

// ------------------------------------------------------------------------------------ the cache

describe('hubSource with a cache', () => {
  it('a second load (new source, same cache directory) makes no request at all, single-file and sharded', async () => {
    const cache = freshCache();
    for (const id of ['test/tiny-f16', 'test/tiny-drope-sharded']) {
      const first = await loadCheckpoint(hub(id, { cache }));
      await loadTokenizer(hub(id, { cache }));
      const before = server.requests.length;
      const progress: string[] = [];
      const source = hub(id, { cache: directoryCache(cache.dir), onProgress: (file) => progress.push(file) });
      const second = await loadCheckpoint(source);
      const tokenizer = await loadTokenizer(source);
      expect(requestsSince(before), id).toEqual([]);
      expect(progress).toEqual([]);
      expectSameCheckpoint(second, first);
      expect(tokenizer.encode('ab')).toEqual([97, 98]);
    }
    // Whole files only, under readable paths, and no temporary file left behind.
    const files = filesUnder(cache.dir);
    expect(files.some((f) => f.endsWith('.tmp'))).toBe(false);
    const port = new URL(server.endpoint).port;
    expect(files).toContain(join('url', 'http', `127.0.0.1%3A${port}`, 'test', 'tiny-f16', 'resolve', 'main', 'model.safetensors'));
    // The sharded model has no model.safetensors: remembered as absent, so the second load did not ask.
    expect(files).toContain(
      join('url', 'http', `127.0.0.1%3A${port}`, 'test', 'tiny-drope-sharded', 'absent', 'main', 'model.safetensors'),
    );
  });

  it('keys on endpoint, id, revision and file: revisions and endpoints never share entries', async () => {
    const cache = freshCache();
    const main = await loadCheckpoint(hub('test/tiny-f32', { cache }));
    const v2 = await loadCheckpoint(hub('test/tiny-f32', { cache, revision: 'v2' }));
    expect(v2.tensors.get('model.norm.weight')).toEqual(main.tensors.get('model.norm.weight')); // ones in both
    expect(v2.tensors.get('model.embed_tokens.weight')).not.toEqual(main.tensors.get('model.embed_tokens.weight'));
    // "localhost" is another endpoint: it downloads again instead of reading 127.0.0.1's entries.
    const before = server.requests.length;
    const other = await loadCheckpoint(hub('test/tiny-f32', { cache, endpoint: server.endpoint.replace('127.0.0.1', 'localhost') }));
    expectSameCheckpoint(other, main);
    expect(requestsSince(before).length).toBe(3);
  });

  it('works with any ByteCache, one without has() included', async () => {
    const store = new Map<string, Uint8Array>();
    const cache: ByteCache = { get: async (key) => store.get(key), put: async (key, bytes) => void store.set(key, bytes) };
    const first = await loadCheckpoint(hub('test/tiny-bf16', { cache }));
    expect([...store.keys()].sort()).toEqual([
      `${server.endpoint}/test/tiny-bf16/resolve/main/config.json`,
      `${server.endpoint}/test/tiny-bf16/resolve/main/model.safetensors`,
    ]);
    const before = server.requests.length;
    expectSameCheckpoint(await loadCheckpoint(hub('test/tiny-bf16', { cache })), first);
    expect(server.requests.length).toBe(before);
  });
});

// ------------------------------------------------------------------------------------ bad downloads

describe('hubSource: bad downloads', () => {
  const WEIGHTS = 'model.safetensors';
  const weightGets = (from: number, id: string) => requestsSince(from).filter((r) => r === `GET /${id}/resolve/main/${WEIGHTS}`).length;

  it('404: a missing file names the file and the id; a missing model fails on config.json; no retry', async () => {
    let before = server.requests.length;
    await expect(hub('test/tiny-f32').readText('generation_config.json')).rejects.toThrow(
      /^generation_config\.json not found in test\/tiny-f32 \(revision main\) at http:\/\/127\.0\.0\.1:\d+: HTTP 404 Not Found fetching http:\/\/127\.0\.0\.1:\d+\/test\/tiny-f32\/resolve\/main\/generation_config\.json$/,
    );
    expect(server.requests.length - before).toBe(1);
    before = server.requests.length;
    await expect(loadCheckpoint(hub('nobody/no-such-model'))).rejects.toThrow(/config\.json not found in nobody\/no-such-model .*HTTP 404/);
    expect(server.requests.length - before).toBe(1);
  });

  it('401 and 403: the model may be gated or private; no retry', async () => {
    for (const status of [401, 403]) {
      server.fail('test/tiny-f32', 'config.json', status);
      const before = server.requests.length;
      await expect(loadCheckpoint(hub('test/tiny-f32'))).rejects.toThrow(
        new RegExp(`^HTTP ${status} .* fetching config\\.json of test/tiny-f32 from .*: the model may be gated or private`),
      );
      expect(server.requests.length - before).toBe(1);
    }
  });

  it('a 500 then success: the retry loads the model and caches it', async () => {
    const cache = freshCache();
    server.fail('test/tiny-f16', WEIGHTS, 500);
    const before = server.requests.length;
    const checkpoint = await loadCheckpoint(hub('test/tiny-f16', { cache }));
    expectSameCheckpoint(checkpoint, await loadCheckpoint(directorySource(dirs.get('test/tiny-f16')!)));
    expect(weightGets(before, 'test/tiny-f16')).toBe(2);
    expect(filesUnder(cache.dir).filter((f) => f.endsWith(WEIGHTS))).toHaveLength(1);
  });

  it('a connection closed mid-body, then success: the retry loads the model', async () => {
    server.fail('test/tiny-f16', WEIGHTS, 'reset');
    const before = server.requests.length;
    expectSameCheckpoint(await loadCheckpoint(hub('test/tiny-f16')), await loadCheckpoint(directorySource(dirs.get('test/tiny-f16')!)));
    expect(weightGets(before, 'test/tiny-f16')).toBe(2);
  });

  /** Two failures in a row: a clear error after one retry, nothing in the cache, then a clean load works. */
  async function failsTwice(fault: Parameters<HubServer['fail']>[2], pattern: RegExp, options: HubSourceOptions = {}) {
    const cache = freshCache();
    server.fail('test/tiny-f32', WEIGHTS, fault, fault);
    const before = server.requests.length;
    await expect(loadCheckpoint(hub('test/tiny-f32', { cache, ...options }))).rejects.toThrow(pattern);
    expect(weightGets(before, 'test/tiny-f32')).toBe(2);
    const cached = filesUnder(cache.dir);
    expect(
      cached.filter((f) => f.includes(WEIGHTS)),
      'no partial weights in the cache',
    ).toEqual([]);
    expect(cached.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // The fault passed: the same cache now fills with the whole file.
    await loadCheckpoint(hub('test/tiny-f32', { cache }));
    expect(filesUnder(cache.dir).filter((f) => f.endsWith(WEIGHTS))).toHaveLength(1);
  }

  it('500 twice: the status and the URL, after one retry', async () => {
    await failsTwice(
      500,
      /^HTTP 500 Internal Server Error fetching model\.safetensors of test\/tiny-f32 from http:.*\/model\.safetensors \(failed twice: gave up after one retry\)$/,
    );
  });

  it('a body shorter than its Content-Length, twice: interrupted, with the byte counts', async () => {
    await failsTwice(
      'short',
      /^download of model\.safetensors of test\/tiny-f32 from http:.* was interrupted after \d+ of \d+ bytes: .*gave up after one retry/,
    );
  });

  it('a connection closed mid-body, twice', async () => {
    await failsTwice('reset', /^download of model\.safetensors of test\/tiny-f32 .*was interrupted after \d+ of \d+ bytes/);
  });

  it('a body that stalls, twice: no data for the stall timeout', async () => {
    await failsTwice('stall', /model\.safetensors of test\/tiny-f32 .*was interrupted after \d+ of \d+ bytes: no data for 0\.3 s/, {
      stallTimeoutMs: 300,
    });
  });

  it('a body of the wrong size (fewer or more bytes than Content-Length): an error, and nothing cached', async () => {
    // fetch itself stops a short body on a real socket; a fetch that hands over a complete
    // Response of the wrong length (a proxy, a service worker) reaches our own check.
    const wrongSize =
      (delta: number): typeof fetch =>
      async (input, init) => {
        const response = await fetch(input, init);
        if (init?.method !== 'GET' || !String(input).endsWith(WEIGHTS)) return response;
        const bytes = new Uint8Array(await response.arrayBuffer());
        const body = new Uint8Array(bytes.length + delta);
        body.set(delta < 0 ? bytes.subarray(0, body.length) : bytes);
        return new Response(body, { status: 200, headers: { 'content-length': String(bytes.length) } });
      };
    for (const [delta, pattern] of [
      [-7, /model\.safetensors of test\/tiny-f32 .*has the wrong size: got \d+ bytes, expected \d+ \(Content-Length\)/],
      [5, /model\.safetensors of test\/tiny-f32 .*has the wrong size: more than the \d+ bytes its Content-Length says/],
    ] as const) {
      const cache = freshCache();
      await expect(loadCheckpoint(hub('test/tiny-f32', { cache, fetch: wrongSize(delta) }))).rejects.toThrow(pattern);
      expect(filesUnder(cache.dir).filter((f) => f.includes(WEIGHTS))).toEqual([]);
    }
  });

  it('no server: could not fetch, with the reason, after one retry', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(loadCheckpoint(hubSource('test/tiny-f32', { endpoint: `http://127.0.0.1:${port}`, retryDelayMs: 10 }))).rejects.toThrow(
      new RegExp(
        `^could not fetch config\\.json of test/tiny-f32 from http://127\\.0\\.0\\.1:${port}/.*ECONNREFUSED.*gave up after one retry`,
      ),
    );
  });

  it('has(): HEAD, falling back to GET where the server answers 405', async () => {
    server.refuseHead = true;
    try {
      const source = hub('test/tiny-f32');
      const before = server.requests.length;
      expect(await source.has(WEIGHTS)).toBe(true);
      expect(await source.has('missing.json')).toBe(false);
      expect(requestsSince(before)).toEqual([
        `HEAD /test/tiny-f32/resolve/main/${WEIGHTS}`,
        `GET /test/tiny-f32/resolve/main/${WEIGHTS}`,
        'HEAD /test/tiny-f32/resolve/main/missing.json',
        'GET /test/tiny-f32/resolve/main/missing.json',
      ]);
    } finally {
      server.refuseHead = false;
    }
  });
});

// ------------------------------------------------------------------------------------ validation

describe('ids, endpoints and file names', () => {
  it('accepts ORG/NAME ids as the Hub does and rejects everything else before any request', () => {
    for (const id of ['HuggingFaceTB/SmolLM-135M', 'SakanaAI/SmolLM-360M-DroPE', 'a/b', 'org_1/x.y_z', '_a/b_']) {
      expect(() => parseHubId(id), id).not.toThrow();
    }
    expect(parseHubId('HuggingFaceTB/SmolLM-360M')).toEqual({ org: 'HuggingFaceTB', name: 'SmolLM-360M' });
    for (const id of [
      '',
      'gpt2',
      'a/b/c',
      '/b',
      'a/',
      '../x',
      'org/..',
      'org/-x',
      'org/x.',
      'org/a--b',
      'org/a..b',
      'org/a b',
      'org/é',
      'https://huggingface.co/org/x',
      `org/${'x'.repeat(97)}`,
    ]) {
      expect(() => hubSource(id), JSON.stringify(id)).toThrow(/^not a Hugging Face model id: .*expected ORG\/NAME/);
    }
  });

  it('rejects endpoints that are not http(s) URLs, and strips a trailing slash', async () => {
    for (const endpoint of ['ftp://example.com', 'not a url', 'http://example.com/?q=1', '']) {
      expect(() => hubSource('a/b', { endpoint }), endpoint).toThrow(/^not a valid Hub endpoint URL/);
    }
    const before = server.requests.length;
    await hub('test/tiny-f32', { endpoint: `${server.endpoint}/` }).readText('config.json');
    expect(requestsSince(before)).toEqual(['GET /test/tiny-f32/resolve/main/config.json']);
  });

  it('file names must stay inside the repository', async () => {
    const source = hub('test/tiny-f32');
    for (const file of ['../config.json', '/etc/passwd', 'a//b', 'https://example.com/x', 'a\\b', '']) {
      await expect(source.readBytes(file), file).rejects.toThrow(/must be a relative path inside the repository/);
    }
  });
});

describe('directoryCache', () => {
  it('defaults to ~/.cache/drope-playground/hub, or DROPE_CACHE_DIR', () => {
    expect(defaultHubCacheDir({})).toMatch(/[\\/]\.cache[\\/]drope-playground[\\/]hub$/);
    expect(defaultHubCacheDir({ DROPE_CACHE_DIR: '/some/where' })).toBe('/some/where');
  });

  it('maps any key to a path inside its directory, distinct keys to distinct paths', async () => {
    const cache = freshCache();
    // (A key cannot be both a file and the folder of another, "a" and "a/b": Hub keys never are.)
    const keys = [
      '../../etc/passwd',
      '/abs',
      'a//b',
      'a/b',
      '.hidden',
      'p/..',
      'x/./y',
      'http://h/a',
      'http://h/b/',
      'http/h/a',
      'ünï/cødé',
      'a%2Fb',
    ];
    const paths = keys.map((key) => cache.pathOf(key));
    expect(new Set(paths).size).toBe(keys.length);
    for (const path of paths) {
      expect(relative(cache.dir, path).startsWith('..'), path).toBe(false);
      expect(
        path
          .split(/[\\/]/)
          .slice(cache.dir.split(/[\\/]/).length)
          .some((s) => s.startsWith('.') || s === ''),
        path,
      ).toBe(false);
    }
    expect(cacheKeySegments('https://huggingface.co/org/name/resolve/main/config.json')).toEqual([
      'url',
      'https',
      'huggingface.co',
      'org',
      'name',
      'resolve',
      'main',
      'config.json',
    ]);
    for (const [i, key] of keys.entries()) await cache.put(key, Uint8Array.of(i));
    for (const [i, key] of keys.entries()) expect(await cache.get(key), key).toEqual(Uint8Array.of(i));
    expect(await cache.get('never/written')).toBeUndefined();
    expect(await cache.has('never/written')).toBe(false);
    expect(await cache.has('a/b')).toBe(true);
  });

  it('a failed write throws, naming the file and DROPE_CACHE_DIR, and leaves no temporary file', async () => {
    const cache = freshCache();
    await cache.put('x/y/z', Uint8Array.of(1));
    // "x/y" is a directory now: a file cannot be renamed over it.
    await expect(cache.put('x/y', Uint8Array.of(2))).rejects.toThrow(/^cannot write the Hub cache file .*[\\/]x[\\/]y: .*DROPE_CACHE_DIR/);
    expect(filesUnder(cache.dir)).toEqual([join('key', 'x', 'y', 'z')]);
    expect(await cache.get('x/y/z')).toEqual(Uint8Array.of(1));
  });
});
