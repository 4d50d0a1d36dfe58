import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { directorySource } from '../../src/model/source-node.ts';
import { byteLevelTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { loadTokenizer, tokenizerFromJson } from '../../src/model/tokenizer.ts';

/** The shipped byte-level tokenizer, plus optional merges and a BOS special token with a template. */
function byteTokenizer(options: { merges?: [string, string][]; special?: boolean } = {}) {
  const json = byteLevelTokenizerJson();
  for (const [i, [a, b]] of (options.merges ?? []).entries()) json.model.vocab[a + b] = 256 + i;
  json.model.merges = (options.merges ?? []).map(([a, b]) => `${a} ${b}`);
  if (!options.special) return json;
  const bos = {
    id: 256 + (options.merges?.length ?? 0),
    content: '<s>',
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  };
  json.added_tokens = [bos];
  // A template that prepends BOS: encode must not apply it (we score raw text).
  json.post_processor = {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [bos.id], tokens: ['<s>'] } },
  };
  return json;
}

const scratch = mkdtempSync(join(tmpdir(), 'tokenizer-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('loadTokenizer', () => {
  it('encodes a byte-level tokenizer to UTF-8 bytes and decodes back', async () => {
    writeFileSync(join(scratch, 'tokenizer.json'), JSON.stringify(byteTokenizer()));
    const tokenizer = await loadTokenizer(directorySource(scratch));
    expect(tokenizer.vocabSize).toBe(256);
    expect(tokenizer.encode('Hi £')).toEqual([72, 105, 32, 194, 163]);
    expect(tokenizer.encode('')).toEqual([]);
    expect(tokenizer.decode([])).toBe('');
    for (const text of ['Hi £', '  two  spaces , then\nnew lines\r\n\tand tabs ', 'naïve café — 日本語 🙂', "don't , isn't ."]) {
      const ids = tokenizer.encode(text);
      expect(ids).toEqual(Array.from(new TextEncoder().encode(text)));
      expect(tokenizer.decode(ids)).toBe(text);
    }
  });

  it('applies merges and adds no special tokens, even when the post-processor would', async () => {
    const json = byteTokenizer({
      merges: [
        ['H', 'i'],
        ['Hi', '!'],
      ],
      special: true,
    });
    const tokenizer = await tokenizerFromJson(json, { bos_token: '<s>', add_bos_token: true });
    expect(tokenizer.vocabSize).toBe(259); // 256 bytes, 2 merges, <s>
    expect(tokenizer.encode('Hi! Hi')).toEqual([257, 32, 256]);
    expect(tokenizer.decode([257, 32, 256])).toBe('Hi! Hi');
    // The special token in the text is still recognised as one token, and decodes as itself.
    expect(tokenizer.encode('<s>Hi')).toEqual([258, 256]);
    expect(tokenizer.decode([258, 72])).toBe('<s>H');
  });

  it('reads tokenizer_config.json when present', async () => {
    const dir = mkdtempSync(join(scratch, 'cfg-'));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(byteTokenizer({ special: true })));
    writeFileSync(join(dir, 'tokenizer_config.json'), '{ "bos_token": "<s>", not json');
    await expect(loadTokenizer(directorySource(dir))).rejects.toThrow(`${dir}/tokenizer_config.json is not valid JSON`);
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', tokenizer_class: 'LlamaTokenizer' }));
    expect((await loadTokenizer(directorySource(dir))).encode('Hi')).toEqual([72, 105]);
  });

  it('fails clearly when tokenizer.json is missing or invalid', async () => {
    const dir = mkdtempSync(join(scratch, 'bad-'));
    await expect(loadTokenizer(directorySource(dir))).rejects.toThrow(`${dir} has no tokenizer.json`);
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
    await expect(loadTokenizer(directorySource(dir))).rejects.toThrow(`${dir}/tokenizer.json is not valid JSON`);
    writeFileSync(join(dir, 'tokenizer.json'), '[]');
    await expect(loadTokenizer(directorySource(dir))).rejects.toThrow(`${dir}/tokenizer.json: not a JSON object`);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ version: '1.0' }));
    await expect(loadTokenizer(directorySource(dir))).rejects.toThrow(`${dir}/tokenizer.json: no "model" object`);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ ...byteTokenizer(), pre_tokenizer: { type: 'Nonsense' } }));
    await expect(loadTokenizer(directorySource(dir))).rejects.toThrow(/tokenizer\.json: cannot build the tokenizer: .*Nonsense/);
  });
});
