// `cli generate`: greedy continuation with the KV cache, run as a user runs it (a child process on
// a tiny byte-level model), against greedy decoding by full forwards in this process; --drop-at
// switches to mode none mid-generation; bad options are usage errors (exit 2).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/model/checkpoint.ts';
import { LlamaModel, type ForwardOptions } from '../../src/model/model.ts';
import { directorySource } from '../../src/model/source-node.ts';
import { describeRun, expectSuccess, runCli, type Run } from '../helpers/cli.ts';
import { testEngine } from '../helpers/gpu.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';

const work = mkdtempSync(join(tmpdir(), 'cli-generate-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const dir = writeTinyModel(join(work, 'tiny'));
const cli = (args: string[]) => runCli(args, {}, 60_000);

const PROMPT = 'It is a truth universally acknowledged';
const TOKENS = 12;

interface GenerateJson {
  prompt_tokens: number;
  generated_ids: number[];
  text: string;
  positions: string;
  drop_at: number | null;
}

function parse(run: Run): GenerateJson {
  expectSuccess(run);
  return JSON.parse(run.stdout) as GenerateJson;
}

/** Greedy decoding by full forwards over the growing sequence, step s with the options of `optionsFor(s)`. */
async function greedyByFullForwards(model: LlamaModel, ids: number[], count: number, optionsFor: (s: number) => ForwardOptions) {
  const sequence = [...ids];
  for (let s = 0; s < count; s++) {
    const logits = await model.lastLogits(sequence, 1, sequence.length, optionsFor(s));
    sequence.push(logits.indexOf(Math.max(...logits)));
  }
  return sequence.slice(ids.length);
}

describe('cli generate', () => {
  it('continues the prompt greedily, as full forwards do; --drop-at K switches to mode none after K tokens', async () => {
    const plain = await cli(['generate', '--model', dir, '--prompt', PROMPT, '--tokens', String(TOKENS), '--pos', 'rope', '--json']);
    const dropped = await cli([
      'generate',
      '--model',
      dir,
      '--prompt',
      PROMPT,
      '--tokens',
      String(TOKENS),
      '--pos',
      'rope',
      '--drop-at',
      '4',
      '--json',
    ]);
    const a = parse(plain);
    const b = parse(dropped);
    const ids = [...Buffer.from(PROMPT, 'utf8')];
    expect(a.prompt_tokens).toBe(ids.length);
    expect(a.generated_ids).toHaveLength(TOKENS);
    expect(a.positions).toBe('rope');
    expect(b.drop_at).toBe(4);
    expect(a.text).toBe(Buffer.from(a.generated_ids).toString('utf8'));

    const engine = await testEngine();
    const model = LlamaModel.fromCheckpoint(engine, await loadCheckpoint(directorySource(dir)));
    try {
      const rope = { positions: { kind: 'rope' } as const };
      expect(a.generated_ids, describeRun(plain)).toEqual(await greedyByFullForwards(model, ids, TOKENS, () => rope));
      // Before the switch the same tokens; after it, tokens of mode none. The full forwards in mode
      // none recompute the earlier tokens in mode none too, which the cached run (like the app's
      // Drop RoPE) does not, so past the switch the reference is the in-process cached decoding.
      expect(b.generated_ids.slice(0, 4)).toEqual(a.generated_ids.slice(0, 4));
      const none = { positions: { kind: 'none' } as const };
      const cache = model.createKvCache(ids.length + TOKENS);
      let logits = await model.prefill(cache, ids, rope);
      const want: number[] = [];
      for (let s = 0; s < TOKENS; s++) {
        want.push(logits.indexOf(Math.max(...logits)));
        if (s + 1 < TOKENS) logits = await model.decode(cache, [want[s]], s + 1 >= 4 ? none : rope);
      }
      cache.destroy();
      expect(b.generated_ids, describeRun(dropped)).toEqual(want);
    } finally {
      model.destroy();
    }
  }, 120_000);

  it('prints the prompt and its continuation without --json', async () => {
    const run = await cli(['generate', '--model', dir, '--prompt', PROMPT, '--tokens', '3']);
    expectSuccess(run);
    expect(run.stdout.startsWith(PROMPT)).toBe(true);
  }, 60_000);

  it('bad options are usage errors (exit 2) naming the option', async () => {
    const cases: [string[], RegExp][] = [
      [['--prompt', PROMPT], /--tokens is required/],
      [['--prompt', PROMPT, '--tokens', '0'], /--tokens must be an integer in 1\.\./],
      [['--prompt', PROMPT, '--tokens', '3', '--drop-at', '4'], /--drop-at must be an integer in 0\.\.3/],
      [['--prompt', PROMPT, '--tokens', '3', '--window', '0'], /--window must be/],
      [['--tokens', '3'], /--prompt is required/],
    ];
    // One at a time: each run starts a Dawn instance.
    for (const [args, pattern] of cases) {
      const run = await cli(['generate', '--model', dir, ...args]);
      expect(run.code, describeRun(run)).toBe(2);
      expect(run.stderr.split('\n')[0], describeRun(run)).toMatch(pattern);
    }
  }, 60_000);
});
