// Training data: a token stream and seeded random windows over it, optionally with the records
// task mixed in (src/eval/records.ts). The Austen corpus is split by document: the first five
// novels train, persuasion.txt is held out whole for validation.

import type { Rng } from '../engine/random.ts';
import { assertNoRecordBytes, checkMixture, recordsWindow, type RecordsMixture } from '../eval/records.ts';

export const TRAIN_BOOKS = ['sensesensibility.txt', 'prideprejudice.txt', 'mansfieldpark.txt', 'emma.txt', 'northangerabbey.txt'];
export const VALIDATION_BOOK = 'persuasion.txt';

export class TokenStream {
  readonly tokens: Uint32Array;

  constructor(tokens: ArrayLike<number>) {
    this.tokens = Uint32Array.from(tokens);
  }

  /**
   * B windows of T tokens at offsets drawn from rng, flattened [B, T]; with `records`, each window
   * is then given records and queries as that mixture says (drawn from the same rng).
   */
  sampleBatch(rng: Rng, B: number, T: number, records: RecordsMixture | null = null): Uint32Array {
    const N = this.tokens.length;
    if (N < T) throw new Error(`the training text has ${N} tokens, fewer than one window of ${T}`);
    if (records) {
      checkMixture(records, T);
      if (!this.recordFree) assertNoRecordBytes(this.tokens, 'the training text');
      this.recordFree = true;
    }
    const out = new Uint32Array(B * T);
    for (let b = 0; b < B; b++) {
      const start = rng.int(0, N - T);
      const window = this.tokens.subarray(start, start + T);
      out.set(records ? recordsWindow(rng, window, T, records) : window, b * T);
    }
    return out;
  }

  /** Set once the text is known to hold no byte the records task reserves. */
  private recordFree = false;
}
