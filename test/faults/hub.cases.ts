// Fault cases: the Hub download, against a Hub-shaped server on 127.0.0.1 (test/helpers/hub-server.ts)
// that lies about lengths and hashes, drips, never ends, stalls, redirects in circles or off the web,
// and serves a DroPE config with auto_map and .py files. `convert --model hf:ID` downloads without a
// GPU. The cache of each case starts with another model's verified files, which must survive, and
// it must never gain the file that failed, whole or in part.

import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { directoryCache } from '../../src/model/cache-node.ts';
import type { HubFault, HubServer } from '../helpers/hub-server.ts';
import { TINY_CONFIG } from '../helpers/tiny-config.ts';
import { tinyModelFiles } from '../helpers/tiny-model.ts';
import type { FaultArea, FaultCase, FaultRun } from './harness.ts';

export interface HubFixtures {
  server: HubServer;
  /** A cache holding the verified files of another model (hf:faults/warm). */
  warmCache: string;
}

const WEIGHTS = 'model.safetensors';
/** A short stall window and minimum rate, so that a drip or a stall ends in seconds (5, as a busy machine may take seconds to answer). */
const SHORT_WINDOW = { DROPE_HUB_TIMEOUT_S: '5', DROPE_HUB_MIN_RATE: '100' };

/** The DroPE code's config: auto_map names Python classes the repository also holds. */
const DROPE_CONFIG = {
  ...TINY_CONFIG,
  model_type: 'llama_drope',
  architectures: ['DroPELlamaForCausalLM'],
  attention_type: 'nope',
  auto_map: { AutoConfig: 'configuration_drope.DroPEConfig', AutoModelForCausalLM: 'modeling_drope.DroPELlamaForCausalLM' },
};

export async function hubFixtures(server: HubServer, dir: string): Promise<HubFixtures> {
  server.addRepo('faults/warm', tinyModelFiles(TINY_CONFIG, 2));
  const warmCache = join(dir, 'warm-cache');
  const cache = directoryCache(warmCache);
  for (const [file, bytes] of tinyModelFiles(TINY_CONFIG, 2)) await cache.put(`${server.endpoint}/faults/warm/resolve/main/${file}`, bytes);
  return { server, warmCache };
}

let repos = 0;

/** A repository of its own for one case (faults are queued per repository and file). */
function publish(f: HubFixtures, files = tinyModelFiles()): string {
  const id = `faults/case-${++repos}`;
  f.server.addRepo(id, files);
  return id;
}

/** The case's cache: a copy of the warm one, kept. */
function caseCache(t: FaultRun, f: HubFixtures): string {
  const cache = t.path('cache');
  cpSync(f.warmCache, cache, { recursive: true });
  t.keep(cache);
  return cache;
}

const env = (f: HubFixtures, cache: string, extra: Record<string, string> = {}) => ({
  HF_ENDPOINT: f.server.endpoint,
  DROPE_CACHE_DIR: cache,
  ...extra,
});

/** The cache path of a file of `id`. */
const cachedPath = (f: HubFixtures, cache: string, id: string, file: string) =>
  directoryCache(cache).pathOf(`${f.server.endpoint}/${id}/resolve/main/${file}`);

/** Requests for files of `id` so far (the server is shared by cases running at once). */
const requestsOf = (f: HubFixtures, id: string) => f.server.requests.filter((r) => r.path.startsWith(`/${id}/`));

/** GETs of `file` in `id` so far. */
const gets = (f: HubFixtures, id: string, file: string) =>
  requestsOf(f, id).filter((r) => r.method === 'GET' && r.path === `/${id}/resolve/main/${file}`).length;

/**
 * A case where the weights' download goes wrong `times` times: convert fails, the cache gains no
 * weights file (whole or in part) and keeps what it had.
 */
function badWeights(fault: HubFault, times: 1 | 2, extraEnv: Record<string, string> = {}) {
  return async (t: FaultRun, f: HubFixtures) => {
    const id = publish(f);
    f.server.fail(id, WEIGHTS, ...Array<HubFault>(times).fill(fault));
    const cache = caseCache(t, f);
    const run = await t.cli(['convert', '--model', `hf:${id}`, '--out', t.path('out')], env(f, cache, extraEnv));
    expect(existsSync(cachedPath(f, cache, id, WEIGHTS)), 'no weights in the cache').toBe(false);
    expect(gets(f, id, WEIGHTS)).toBe(times);
    expect(existsSync(t.path('out'))).toBe(false);
    return run;
  };
}

const KEPT = 'the cache (another model); no weights entry, no temporary';

export const HUB_CASES: FaultArea<FaultCase<HubFixtures>> = {
  title: 'Hub download (test/faults/hub.test.ts)',
  cases: [
    {
      fault: 'no Content-Length, body cut 100 bytes short (twice)',
      command: 'convert --model hf:ID --out OUT',
      exit: 1,
      says: 'is not a valid safetensors file',
      kept: KEPT,
      run: badWeights('no-length-cut', 2),
    },
    {
      fault: 'a Content-Length 100 bytes shorter than the body (twice)',
      command: 'convert --model hf:ID --out OUT',
      exit: 1,
      says: 'is not a valid safetensors file',
      kept: KEPT,
      run: badWeights('length-short', 2),
    },
    {
      fault: 'the connection closes before Content-Length bytes (twice)',
      command: 'convert --model hf:ID --out OUT',
      exit: 1,
      says: 'was interrupted after',
      kept: KEPT,
      run: badWeights('short', 2),
    },
    {
      fault: 'a Content-Length of 10^15',
      command: 'convert --model hf:ID --out OUT',
      exit: 1,
      says: 'is 1000000000000000 bytes by its Content-Length, more than the',
      kept: KEPT,
      run: badWeights('huge-length', 1),
    },
    {
      fault: 'one byte every 200 ms (twice)',
      command: 'DROPE_HUB_TIMEOUT_S=5 DROPE_HUB_MIN_RATE=100 convert --model hf:ID --out OUT',
      exit: 1,
      says: 'slower than the minimum rate of 100 B/s',
      kept: KEPT,
      run: badWeights('drip', 2, SHORT_WINDOW),
    },
    {
      fault: 'a body without Content-Length that never ends',
      command: 'DROPE_HUB_DEADLINE_S=5 convert --model hf:ID --out OUT',
      exit: 1,
      says: 'not complete within the deadline of 5 s',
      kept: KEPT,
      run: badWeights('endless', 1, { DROPE_HUB_DEADLINE_S: '5' }),
    },
    {
      fault: 'the body stalls halfway (twice)',
      command: 'DROPE_HUB_TIMEOUT_S=5 convert --model hf:ID --out OUT',
      exit: 1,
      says: 'no data for 5 s',
      kept: KEPT,
      run: badWeights('stall', 2, SHORT_WINDOW),
    },
    {
      fault: 'a redirect stating another SHA-256 (X-Linked-Etag; twice)',
      command: 'convert --model hf:ID --out OUT',
      exit: 1,
      says: 'but the Hub states',
      kept: KEPT,
      run: badWeights('redirect-wrong-sha', 2),
    },
    {
      fault: 'a redirect stating another size (X-Linked-Size; twice)',
      command: 'convert --model hf:ID --out OUT',
      exit: 1,
      says: 'X-Linked-Size',
      kept: KEPT,
      run: badWeights('redirect-wrong-size', 2),
    },
    {
      fault: 'an ETag that is the SHA-256 of other bytes (twice)',
      command: 'convert --model hf:ID --out OUT',
      exit: 1,
      says: 'but the Hub states',
      kept: KEPT,
      run: badWeights('etag-wrong-sha', 2),
    },
    {
      fault: 'a redirect to itself',
      command: 'convert --model hf:ID --out OUT',
      exit: 1,
      says: 'more than 5 redirects',
      kept: KEPT,
      run: badWeights('redirect-loop', 1),
    },
    {
      fault: 'a redirect to file:///etc/passwd',
      command: 'convert --model hf:ID --out OUT',
      exit: 1,
      says: 'not an http(s) URL',
      kept: KEPT,
      run: badWeights('redirect-file', 1),
    },
    {
      fault: "a redirect to the CDN with the Hub's size and SHA-256, and no Content-Length for the config",
      command: 'convert --model hf:ID --out OUT, twice',
      exit: 0,
      says: 'the checked files are cached; the second run makes no request',
      kept: 'the cache (another model)',
      async run(t, f) {
        const id = publish(f);
        f.server.fail(id, WEIGHTS, 'redirect');
        f.server.fail(id, 'config.json', 'no-length');
        const cache = caseCache(t, f);
        const run = await t.cli(['convert', '--model', `hf:${id}`, '--out', t.path('out')], env(f, cache));
        expect(readFileSync(cachedPath(f, cache, id, WEIGHTS)).equals(tinyModelFiles().get(WEIGHTS)!)).toBe(true);
        const before = requestsOf(f, id).length;
        const again = await t.cli(['convert', '--model', `hf:${id}`, '--out', t.path('again')], env(f, cache));
        expect(again.code, again.stderr).toBe(0);
        expect(requestsOf(f, id).length, 'no request with a warm cache').toBe(before);
        return run;
      },
    },
    {
      fault: 'a DroPE config with auto_map, and .py files in the repository',
      command: 'convert --model hf:ID --out OUT',
      exit: 0,
      says: 'the config is read as data; no .py file is requested',
      kept: 'the cache (another model)',
      async run(t, f) {
        const files = tinyModelFiles(DROPE_CONFIG);
        const python = new TextEncoder().encode('raise SystemExit("remote code must never run")\n');
        files.set('modeling_drope.py', python);
        files.set('configuration_drope.py', python);
        const id = publish(f, files);
        const run = await t.cli(['convert', '--model', `hf:${id}`, '--out', t.path('out')], env(f, caseCache(t, f)));
        expect(requestsOf(f, id).filter((r) => r.path.endsWith('.py'))).toEqual([]);
        expect(JSON.parse(readFileSync(t.path('out', 'config.json'), 'utf8')).auto_map).toEqual(DROPE_CONFIG.auto_map);
        return run;
      },
    },
    {
      fault: 'a truncated model.safetensors in the cache',
      command: 'convert --model hf:ID --out OUT',
      exit: 0,
      says: 'a warning names the cached file; it is moved aside and fetched again',
      kept: 'the cache (another model)',
      async run(t, f) {
        const id = publish(f);
        const cache = caseCache(t, f);
        const path = cachedPath(f, cache, id, WEIGHTS);
        mkdirSync(join(path, '..'), { recursive: true });
        writeFileSync(path, tinyModelFiles().get(WEIGHTS)!.subarray(0, 5000));
        const run = await t.cli(['convert', '--model', `hf:${id}`, '--out', t.path('out')], env(f, cache));
        expect(run.stderr).toContain(`warning: the cached ${WEIGHTS} of ${id}, ${path}, is not a valid safetensors file`);
        expect(run.stderr).toMatch(/moved aside to .*\.model\.safetensors\.corrupt-\d+; fetched it again/);
        expect(readFileSync(path).equals(tinyModelFiles().get(WEIGHTS)!)).toBe(true);
        return run;
      },
    },
    {
      fault: 'a truncated model.safetensors in the cache, and the Hub fails',
      command: 'convert --model hf:ID --out OUT',
      exit: 1,
      says: 'is not a valid safetensors file',
      kept: 'the cache (another model)',
      async run(t, f) {
        const id = publish(f);
        f.server.fail(id, WEIGHTS, 404);
        const cache = caseCache(t, f);
        const path = cachedPath(f, cache, id, WEIGHTS);
        mkdirSync(join(path, '..'), { recursive: true });
        writeFileSync(path, tinyModelFiles().get(WEIGHTS)!.subarray(0, 5000));
        const run = await t.cli(['convert', '--model', `hf:${id}`, '--out', t.path('out')], env(f, cache));
        // The error names the cached file and where it went.
        expect(run.stderr).toContain(`the cached ${WEIGHTS} of ${id}, ${path}, is not a valid safetensors file`);
        expect(run.stderr).toMatch(/moved aside to .*; fetching it again failed: .*HTTP 404/);
        return run;
      },
    },
    {
      fault: 'the Hub cache on a full disk',
      command: 'DROPE_CACHE_DIR=FULL convert --model hf:ID --out OUT --dtype F32',
      exit: 0,
      says: 'OUT holds the weights, byte for byte; a warning says they are not cached; the cache gains no part of them',
      kept: 'the cache (another model)',
      async run(t, f) {
        const id = publish(f);
        const disk = t.fullDisk('resolve/main/model.safetensors', (dir) => cpSync(f.warmCache, join(dir, 'cache'), { recursive: true }));
        const cache = join(disk.dir, 'cache');
        t.keep(cache);
        const run = await t.cli(['convert', '--model', `hf:${id}`, '--out', t.path('out'), '--dtype', 'F32'], {
          ...env(f, cache),
          ...disk.env,
        });
        expect(run.stderr).toMatch(
          /^warning: model\.safetensors of faults\/case-\d+ is not cached: cannot write the Hub cache file .*no space left on device/m,
        );
        expect(existsSync(cachedPath(f, cache, id, WEIGHTS)), 'no weights in the cache').toBe(false);
        expect(readFileSync(t.path('out', WEIGHTS)).equals(tinyModelFiles().get(WEIGHTS)!)).toBe(true);
        return run;
      },
    },
    {
      fault: '--out inside the Hub cache',
      command: 'logits --model hf:ID --ids IDS --out CACHE/x.safetensors',
      exit: 2,
      says: 'lies inside the Hub cache',
      kept: 'the cache',
      async run(t, f) {
        const cache = caseCache(t, f);
        writeFileSync(t.path('ids.json'), '[[1, 2, 3]]');
        return t.cli(
          ['logits', '--model', 'hf:faults/warm', '--ids', t.path('ids.json'), '--out', join(cache, 'x.safetensors')],
          env(f, cache),
        );
      },
    },
    {
      fault: 'a minimum rate that is not a number',
      command: 'DROPE_HUB_MIN_RATE=fast convert --model hf:ID --out OUT',
      exit: 2,
      says: 'DROPE_HUB_MIN_RATE must be a number > 0',
      kept: 'the cache',
      async run(t, f) {
        return t.cli(
          ['convert', '--model', 'hf:faults/warm', '--out', t.path('out')],
          env(f, caseCache(t, f), { DROPE_HUB_MIN_RATE: 'fast' }),
        );
      },
    },
  ],
};
