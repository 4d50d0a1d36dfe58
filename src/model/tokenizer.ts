// The checkpoint's tokenizer (tokenizer.json, the "fast" tokenizer format, plus the optional
// tokenizer_config.json), run by @huggingface/transformers.
//
// We read the files ourselves through a ModelSource and hand the parsed objects to the library's
// PreTrainedTokenizer constructor (what its AutoTokenizer.from_pretrained does after fetching), so
// a directory in Node and a URL in the browser behave the same and the library's own file
// resolution (hub, cache) is never involved. The library is imported on first use, so pages that
// never tokenize do not load it.
//
// Perplexity scores raw text, so encode adds no special tokens (no BOS/EOS from the post-processor),
// and decode keeps every token and does not "clean up" spaces, so decode(encode(text)) === text for
// lossless (e.g. byte-level) tokenizers.

import type { ModelSource } from './checkpoint.ts';
import { isRecord } from './config.ts';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** One more than the largest token id (added tokens included): logits need at least this many rows. */
  vocabSize: number;
}

export class TokenizerError extends Error {}

/**
 * Builds a tokenizer from parsed tokenizer.json (and tokenizer_config.json) objects.
 * `where` names their origin in errors.
 */
export async function tokenizerFromJson(
  tokenizerJson: unknown,
  tokenizerConfig: unknown = {},
  where = TOKENIZER_FILE,
): Promise<TextTokenizer> {
  if (!isRecord(tokenizerJson)) throw new TokenizerError(`${where}: not a JSON object`);
  if (!isRecord(tokenizerJson.model)) throw new TokenizerError(`${where}: no "model" object (not a tokenizers-library tokenizer.json?)`);
  if (!isRecord(tokenizerConfig)) throw new TokenizerError(`${where}: tokenizer_config.json is not a JSON object`);
  // The library requires these keys; tokenizer.json files written by `tokenizers` always have
  // them, hand-written ones may leave the unused ones out.
  const json = {
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    added_tokens: [],
    ...tokenizerJson,
  };
  const { PreTrainedTokenizer } = await import('@huggingface/transformers');
  let tokenizer: InstanceType<typeof PreTrainedTokenizer>;
  try {
    tokenizer = new PreTrainedTokenizer(json, tokenizerConfig);
  } catch (error) {
    throw new TokenizerError(`${where}: cannot build the tokenizer: ${(error as Error).message}`);
  }
  let maxId = -1;
  for (const id of tokenizer.get_vocab().values()) maxId = Math.max(maxId, id);
  if (maxId < 0) throw new TokenizerError(`${where}: the vocabulary is empty`);

  return {
    vocabSize: maxId + 1,
    encode(text: string): number[] {
      if (text.length === 0) return [];
      return tokenizer.encode(text, { add_special_tokens: false });
    },
    decode(ids: number[]): string {
      // The library rejects an empty list; the empty text is the right answer.
      if (ids.length === 0) return '';
      return tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    },
  };
}

/** Loads tokenizer.json (required) and tokenizer_config.json (optional) from a checkpoint source. */
export async function loadTokenizer(source: ModelSource): Promise<TextTokenizer> {
  const where = `${source.describe}/${TOKENIZER_FILE}`;
  if (!(await source.has(TOKENIZER_FILE))) {
    throw new TokenizerError(
      `${source.describe} has no ${TOKENIZER_FILE} (only the fast-tokenizer format is supported; ` +
        'AutoTokenizer.from_pretrained(...).save_pretrained(dir) in Python writes one)',
    );
  }
  const parse = (text: string, file: string): unknown => {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new TokenizerError(`${source.describe}/${file} is not valid JSON: ${(error as Error).message}`);
    }
  };
  const tokenizerJson = parse(await source.readText(TOKENIZER_FILE), TOKENIZER_FILE);
  const tokenizerConfig = (await source.has(TOKENIZER_CONFIG_FILE))
    ? parse(await source.readText(TOKENIZER_CONFIG_FILE), TOKENIZER_CONFIG_FILE)
    : {};
  return tokenizerFromJson(tokenizerJson, tokenizerConfig, where);
}
