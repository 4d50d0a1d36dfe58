// The byte-level tokenizer of the austen-* models, as a tokenizer.json that Hugging Face
// tokenizers (and @huggingface/transformers) load: a BPE model with no merges over GPT-2's
// byte-to-unicode alphabet, with a ByteLevel pre-tokenizer that does not split (use_regex false),
// so token ids are exactly the UTF-8 bytes of the text.

/**
 * GPT-2's byte-to-unicode table: printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for
 * themselves, the other 68 bytes map in order to U+0100, U+0101, …
 */
export function byteLevelAlphabet(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let next = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCharCode(printable(b) ? b : 256 + next++));
  return out;
}

export function byteLevelTokenizerJson() {
  const vocab: Record<string, number> = Object.fromEntries(byteLevelAlphabet().map((ch, byte) => [ch, byte]));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [] as object[],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    post_processor: null as object | null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [] as string[],
    },
  };
}
