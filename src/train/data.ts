// Training data: a token stream and seeded random windows over it. The Austen corpus is split by
// document: the first five novels train, persuasion.txt is held out whole for validation.

import type { Rng } from '../engine/random.ts';

export const TRAIN_BOOKS = ['sensesensibility.txt', 'prideprejudice.txt', 'mansfieldpark.txt', 'emma.txt', 'northangerabbey.txt'];
export const VALIDATION_BOOK = 'persuasion.txt';

export class TokenStream {
  readonly tokens: Uint32Array;

  constructor(tokens: ArrayLike<number>) {
    this.tokens = Uint32Array.from(tokens);
  }

  /** B windows of T tokens at offsets drawn from rng, flattened [B, T]. */
  sampleBatch(rng: Rng, B: number, T: number): Uint32Array {
    const N = this.tokens.length;
    if (N < T) throw new Error(`the training text has ${N} tokens, fewer than one window of ${T}`);
    const out = new Uint32Array(B * T);
    for (let b = 0; b < B; b++) {
      const start = rng.int(0, N - T);
      out.set(this.tokens.subarray(start, start + T), b * T);
    }
    return out;
  }
}
