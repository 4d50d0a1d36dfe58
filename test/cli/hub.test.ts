// `--model hf:ORG/NAME` end to end, without the internet: the real CLI runs as a child process
// (as test/cli/cli.test.ts runs it) with HF_ENDPOINT pointing at a local server laid out like the
// Hub (test/helpers/hub-server.ts) and DROPE_CACHE_DIR at a scratch directory. The oracle is the
// same command on the same files in a directory: the outputs must be byte-identical.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byteLevelTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { expectedTensorShapes } from '../../src/model/checkpoint.ts';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { parseSafetensors } from '../../src/model/safetensors.ts';
import { serializeCheckpoint } from '../../src/model/save.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';
import { runCli, describeRun, expectSuccess, type Run } from '../helpers/cli.ts';
import { TINY_CONFIG } from '../helpers/tiny-config.ts';

/** Generous for a tiny model on SwiftShader (a run takes a few seconds), short enough that a hang fails fast. */
const RUN_TIMEOUT_MS = 60_000;

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, env, RUN_TIMEOUT_MS);

/** One `error:` line matching `pattern`, nothing on stdout, the exit code (2: the usage follows). */
function expectError(run: Run, pattern: RegExp, code: number): void {
  const what = describeRun(run);
  expect(run.timedOut, what).toBe(false);
  expect(run.code, what).toBe(code);
  expect(run.stdout, what).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  const errors = lines.filter((line) => line.startsWith('error:'));
  expect(errors, what).toHaveLength(1);
  expect(errors[0], what).toMatch(pattern);
  expect(run.stderr, `${what}\nno stack trace`).not.toMatch(/^\s+at /m);
  if (code === 2) expect(lines[1], what).toMatch(/^usage: /);
}

const ID = 'test/tiny-f16';
const TEXT = 'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.\n';

const work = mkdtempSync(join(tmpdir(), 'cli-hub-test-'));
let server: HubServer;
let modelDir = '';
let idsPath = '';
let textPath = '';
let env: Record<string, string> = {};

beforeAll(async () => {
  server = await startHubServer();
  const { config, tensors } = initializeCheckpoint(TINY_CONFIG, 3);
  const files = serializeCheckpoint(TINY_CONFIG, tensors, expectedTensorShapes(config), 'F16');
  files.set('tokenizer.json', new TextEncoder().encode(JSON.stringify(byteLevelTokenizerJson())));
  server.addRepo(ID, files);
  modelDir = join(work, 'tiny-f16');
  mkdirSync(modelDir);
  for (const [file, bytes] of files) writeFileSync(join(modelDir, file), bytes);
  idsPath = join(work, 'ids.json');
  writeFileSync(
    idsPath,
    JSON.stringify([
      [72, 101, 108, 108, 111, 44, 32, 119, 111, 114],
      [1, 2, 3, 250, 251, 252, 0, 9, 10, 11],
    ]),
  );
  textPath = join(work, 'text.txt');
  writeFileSync(textPath, TEXT);
  env = { HF_ENDPOINT: server.endpoint, DROPE_CACHE_DIR: join(work, 'cache') };
});

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('--model hf:ORG/NAME', () => {
  it('logits: byte-identical to --model DIR; a second run reads everything from the cache', async () => {
    const out = (name: string) => join(work, `${name}.safetensors`);
    const logits = (model: string, name: string) => cli(['logits', '--model', model, '--ids', idsPath, '--out', out(name)], env);
    const [fromHub, fromDir] = await Promise.all([logits(`hf:${ID}`, 'hub'), logits(modelDir, 'dir')]);
    expectSuccess(fromHub);
    expectSuccess(fromDir);
    const hubBytes = readFileSync(out('hub'));
    const st = parseSafetensors(new Uint8Array(hubBytes), 'hub');
    expect(st.info('logits')).toMatchObject({ dtype: 'F32', shape: [2, 10, 256] });
    expect(st.getF32('logits').every(Number.isFinite)).toBe(true);
    expect(hubBytes.equals(readFileSync(out('dir'))), 'logits and nll equal to the directory run').toBe(true);
    // Download progress on stderr, a line per completed file (stderr is not a terminal here).
    for (const file of ['config.json', 'model.safetensors']) {
      expect(fromHub.stderr).toMatch(new RegExp(`^download hf:${ID}/${file.replace('.', '\\.')}: .* \\(100%\\), done$`, 'm'));
    }
    expect(fromHub.stdout).toBe('');
    const fetched = server.requests.filter((r) => r.method === 'GET').map((r) => r.path);
    expect(fetched.sort()).toEqual([`/${ID}/resolve/main/config.json`, `/${ID}/resolve/main/model.safetensors`]);

    const before = server.requests.length;
    const again = await logits(`hf:${ID}`, 'hub-again');
    expectSuccess(again);
    expect(server.requests.length - before, 'no request with a warm cache').toBe(0);
    expect(again.stderr).not.toMatch(/^download /m);
    expect(readFileSync(out('hub-again')).equals(hubBytes)).toBe(true);
  });

  it('ppl and fit-beta load the tokenizer and the model by id: the same numbers as from the directory', async () => {
    const ppl = (model: string) => cli(['ppl', '--model', model, '--text', textPath, '--lengths', '8,16', '--tokens', '64', '--json'], env);
    const fit = (model: string) =>
      cli(
        ['fit-beta', '--model', model, '--text', textPath, '--lengths', '16', '--grid', '0,0.5', '--tokens', '64', '--train-ctx', '8'],
        env,
      );
    const [pplHub, pplDir, fitHub] = await Promise.all([ppl(`hf:${ID}`), ppl(modelDir), fit(`hf:${ID}`)]);
    for (const run of [pplHub, pplDir, fitHub]) expectSuccess(run);
    expect(Object.keys(JSON.parse(pplHub.stdout))).toEqual(['8', '16']);
    expect(pplHub.stdout).toBe(pplDir.stdout);
    // fit-beta goes through the same modelSource; its c = 0 row is ppl at length 16 again.
    const fitted = JSON.parse(fitHub.stdout);
    expect([0, 0.5]).toContain(fitted.c);
    expect(Object.keys(fitted.ppl)).toEqual(['0', '0.5']);
    expect(fitted.ppl['0']['16']).toBe(JSON.parse(pplDir.stdout)['16']);
    expect(server.requests.some((r) => r.path.endsWith('/tokenizer.json'))).toBe(true);
  });

  it('a malformed id is a usage error; a missing model names config.json, the id and the 404', async () => {
    const [badId, missing] = await Promise.all([
      cli(['info', '--model', 'hf:not-an-id'], env),
      cli(['info', '--model', 'hf:nobody/no-such-model'], env),
    ]);
    expectError(
      badId,
      /^error: --model hf:not-an-id \(HF_ENDPOINT=http:\/\/127\.0\.0\.1:\d+\): not a Hugging Face model id: "not-an-id" \(expected ORG\/NAME/,
      2,
    );
    expectError(
      missing,
      /^error: config\.json not found in nobody\/no-such-model \(revision main\) at http:\/\/127\.0\.0\.1:\d+: HTTP 404/,
      1,
    );
  });
});
