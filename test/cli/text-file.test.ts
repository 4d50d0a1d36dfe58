// openTextFile (src/cli/args.ts): `--text` is read only as far as `--tokens` needs, and the tokens
// are exactly the first N of the whole text's, for a tokenizer whose tokens span several bytes
// (byte-level BPE with merges) and at every awkward cut: inside a multi-byte character, inside a
// merged token, a text without line ends, a text shorter than N.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openTextFile } from '../../src/cli/args.ts';
import { byteLevelTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { tokenizerFromJson } from '../../src/model/tokenizer.ts';

const work = mkdtempSync(join(tmpdir(), 'text-file-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The byte-level tokenizer with merges, so that tokens span 1 to 4 bytes. */
async function mergingTokenizer() {
  const json = byteLevelTokenizerJson();
  const merges: [string, string][] = [
    ['t', 'h'],
    ['th', 'e'],
    ['Ġ', 'the'],
    ['a', 'n'],
    ['an', 'd'],
    ['Ġ', 'and'],
    ['e', 'r'],
    ['i', 'n'],
  ];
  merges.forEach(([a, b], i) => (json.model.vocab[a + b] = 256 + i));
  json.model.merges = merges.map(([a, b]) => `${a} ${b}`);
  return tokenizerFromJson(json);
}

describe('openTextFile', () => {
  it('gives the first N tokens of the whole text, reading a prefix', async () => {
    const tokenizer = await mergingTokenizer();
    const persuasion = readFileSync('public/data/austen/persuasion.txt', 'utf8').slice(0, 100_000);
    const texts = {
      persuasion,
      'one long line with multi-byte characters': 'naïve café — the and 日本語 🙂 '.repeat(3000),
      'a short text': 'the end\n',
    };
    for (const [name, text] of Object.entries(texts)) {
      const path = join(work, `${name}.txt`);
      writeFileSync(path, text);
      const whole = tokenizer.encode(text);
      if (name === 'persuasion') expect(whole.length, 'merges make tokens of several bytes').toBeLessThan(Buffer.byteLength(text));
      for (const N of [2, 100, 1000, 4097, 20_000]) {
        const tokens = await (await openTextFile(path)).tokens(tokenizer, N);
        expect(tokens, `${name}, N = ${N}`).toEqual(whole.slice(0, N));
      }
    }
  });

  it('a missing file fails when opened, naming it', async () => {
    await expect(openTextFile(join(work, 'missing.txt'))).rejects.toThrow(/^cannot read .*missing\.txt: ENOENT/);
  });
});
