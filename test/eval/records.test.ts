// The records task (src/eval/records.ts): its byte format, the training windows, the test prompts,
// and the scoring of retrievalByLength, checked against CPU oracles that read a prompt the way a
// model that has learned the task (or one that sees only the last W tokens) would.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/random.ts';
import {
  answerToken,
  assertNoRecordBytes,
  buildRecordsPrompt,
  checkMixture,
  KEY_BYTES,
  keyCount,
  LOOKUP_BYTES,
  QUERY_BYTE,
  RECORD_FORMATS,
  recordsWindow,
  retrievalByLength,
  TEST_RECORDS,
  type RecordFormat,
} from '../../src/eval/records.ts';
import type { LlamaModel } from '../../src/model/model.ts';

const AUSTEN = join(import.meta.dirname, '../../public/data/austen');
const text = Array.from(readFileSync(join(AUSTEN, 'persuasion.txt')).subarray(0, 50_000));

/** Every (key, digit) a sequence's records state, in order, and every query with the token after it. */
function parse(ids: number[], format: RecordFormat) {
  const records: { key: number; digit: number; at: number }[] = [];
  const queries: { key: number; answer: number | undefined; at: number }[] = [];
  for (let i = 0; i < ids.length; i++) {
    const lookup = LOOKUP_BYTES.indexOf(ids[i]);
    if (format === 'lookup' && lookup >= 0) records.push({ key: Math.floor(lookup / 10), digit: lookup % 10, at: i });
    if (ids[i] === QUERY_BYTE) {
      queries.push({ key: KEY_BYTES.indexOf(ids[i + 1]), answer: ids[i + 2], at: i });
      i += 1;
    } else if (format === 'mqar' && KEY_BYTES.includes(ids[i])) {
      records.push({ key: KEY_BYTES.indexOf(ids[i]), digit: ids[i + 1] - 0x30, at: i });
    }
  }
  return { records, queries };
}

describe('records format', () => {
  it('uses no byte the Austen corpus uses', () => {
    for (const book of readdirSync(AUSTEN).filter((f) => f.endsWith('.txt'))) {
      expect(() => assertNoRecordBytes(readFileSync(join(AUSTEN, book)), book)).not.toThrow();
    }
    const reserved = new Set([QUERY_BYTE, ...KEY_BYTES, ...LOOKUP_BYTES]);
    expect(reserved.size).toBe(1 + 16 + 80);
    for (const b of reserved) expect(b).toBeGreaterThanOrEqual(0x80);
    expect(reserved.has(0xa3) || reserved.has(0xc2)).toBe(false); // "£" is C2 A3
    expect(() => assertNoRecordBytes([0x41, QUERY_BYTE], 'text')).toThrow(/text holds byte 0x80 at offset 1/);
  });

  for (const format of RECORD_FORMATS) {
    it(`${format}: training windows are T tokens, each query after its record, answered with its digit`, () => {
      const rng = new Rng(5);
      let plain = 0;
      let queries = 0;
      for (let n = 0; n < 400; n++) {
        const start = rng.int(0, text.length - 64);
        const ids = recordsWindow(rng, text.slice(start, start + 64), 64, { format, plainShare: 0.2, maxRecords: 4 });
        expect(ids).toHaveLength(64);
        const parsed = parse(ids, format);
        if (parsed.queries.length === 0) {
          plain++;
          expect(parsed.records).toHaveLength(0);
          continue;
        }
        expect(parsed.queries.length).toBe(parsed.records.length);
        expect(new Set(parsed.records.map((r) => r.key)).size).toBe(parsed.records.length);
        for (const query of parsed.queries) {
          const record = parsed.records.find((r) => r.key === query.key)!;
          expect(record.at).toBeLessThan(query.at);
          expect(query.answer).toBe(answerToken(record.digit));
          queries++;
        }
      }
      expect(plain / 400).toBeGreaterThan(0.12);
      expect(plain / 400).toBeLessThan(0.28);
      expect(queries).toBeGreaterThan(600); // 1..4 records in ~80% of 400 windows
    });

    it(`${format}: a test prompt is exactly L tokens, records at their stated place, the query at the end`, () => {
      for (const L of [24, 64, 100, 513]) {
        for (let seed = 0; seed < 30; seed++) {
          const prompt = buildRecordsPrompt(text, L, format, new Rng(seed));
          expect(prompt.ids).toHaveLength(L);
          const { records, queries } = parse([...prompt.ids, prompt.answer], format);
          expect(records).toHaveLength(TEST_RECORDS);
          expect(queries).toHaveLength(1);
          expect(queries[0].at).toBe(L - 2);
          const asked = records.find((r) => r.key === queries[0].key)!;
          expect(asked.at).toBe(prompt.recordStart);
          expect(prompt.answer).toBe(answerToken(asked.digit));
          expect(new Set(records.map((r) => r.digit)).size).toBe(TEST_RECORDS);
        }
      }
      expect(() => buildRecordsPrompt(text, 5, format, new Rng(0))).toThrow(/needs at least/);
    });
  }

  it('refuses a mixture that cannot fit its window', () => {
    expect(() => checkMixture({ format: 'mqar', plainShare: 0.2, maxRecords: 8 }, 40)).toThrow(/need more than the 40-token window/);
    expect(() => checkMixture({ format: 'lookup', plainShare: 1.5, maxRecords: 2 }, 64)).toThrow(/plain-text share/);
    expect(() => checkMixture({ format: 'lookup', plainShare: 0.2, maxRecords: keyCount('lookup') + 1 }, 64)).toThrow(/records per window/);
  });
});

/**
 * A CPU stand-in for a model that has learned the task, seeing only the last `sees` tokens of
 * each prompt: its "logits" put 1 on the digit of the queried key's record when that record is
 * in view, and on '0' otherwise. retrievalByLength only calls lastLogits and reads the config.
 */
function oracle(format: RecordFormat, sees: number): LlamaModel {
  const V = 256;
  return {
    config: { vocabSize: V, maxPositionEmbeddings: 64 },
    async lastLogits(ids: ArrayLike<number>, B: number, T: number) {
      const logits = new Float32Array(B * V);
      for (let b = 0; b < B; b++) {
        const prompt = Array.from(ids).slice(b * T, (b + 1) * T);
        const { records } = parse(prompt, format);
        const key = KEY_BYTES.indexOf(prompt[T - 1]);
        const record = records.find((r) => r.key === key && r.at >= T - sees);
        logits[b * V + (record ? answerToken(record.digit) : 0x30)] = 1;
      }
      return logits;
    },
  } as unknown as LlamaModel;
}

describe('retrievalByLength', () => {
  it('scores a model that sees everything at 100%, inside and outside', async () => {
    const result = await retrievalByLength(oracle('lookup', Infinity), text, {
      lengths: [64, 256],
      trials: 40,
      format: 'lookup',
      batchTokens: 1000,
    });
    expect(result.get(64)).toEqual({ all: 1, inside: 1, outside: null, trials: 40, inside_trials: 40, outside_trials: 0 });
    const at256 = result.get(256)!;
    expect(at256).toMatchObject({ all: 1, inside: 1, outside: 1, trials: 40 });
    expect(at256.inside_trials + at256.outside_trials).toBe(40);
    // Uniform depths: about a quarter of the records lie in the last 64 of 256 tokens.
    expect(at256.inside_trials).toBeGreaterThan(3);
    expect(at256.inside_trials).toBeLessThan(20);
  });

  it('splits a cropped model: everything inside, chance outside', async () => {
    const result = await retrievalByLength(oracle('mqar', 64), text, { lengths: [512], trials: 60, format: 'mqar' });
    const point = result.get(512)!;
    expect(point.inside).toBe(1);
    // Outside it answers '0', right only when the asked digit is 0.
    expect(point.outside!).toBeLessThan(0.3);
    expect(point.all).toBeCloseTo((point.inside_trials + point.outside! * point.outside_trials) / 60, 10);
  });

  it('draws the same prompts for the same seed, and others for another', async () => {
    const model = oracle('lookup', 64);
    const run = (seed: number) => retrievalByLength(model, text, { lengths: [300], trials: 30, format: 'lookup', seed });
    expect(await run(3)).toEqual(await run(3));
    expect((await run(3)).get(300)).not.toEqual((await run(4)).get(300));
  });
});
