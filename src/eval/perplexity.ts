// Perplexity against sequence length: the token stream is cut into non-overlapping windows of
// length L, and each window's L-1 next-token losses are pooled (token-weighted) per length.

import type { LlamaModel } from '../model/model.ts';
import type { PositionMode } from '../model/positions.ts';

/** DroPE's inference-time logit scale: beta = 1 + c·ln(max(1, T / C_train)). */
export function logitScale(c: number, T: number, trainContext: number): number {
  return 1 + c * Math.log(Math.max(1, T / trainContext));
}

export interface PerplexityOptions {
  lengths: readonly number[];
  /** A fixed mode, or one chosen per evaluated length (e.g. a scaling factor of L / C_train). */
  positions?: PositionMode | ((length: number) => PositionMode);
  /** c of the logit scale; 0 (the default) leaves attention logits unscaled. */
  betaC?: number;
  /** Attention window (each query sees at most this many keys: the crop baseline); absent: none. */
  window?: number;
  /** C_train for the logit scale; defaults to the config's max_position_embeddings. */
  trainContext?: number;
  /** Tokens per forward pass; windows are batched up to this. */
  batchTokens?: number;
  onProgress?: (done: number, total: number, length: number) => void;
  /** Checked between batches; true stops with an error. */
  cancelled?: () => boolean;
}

export async function perplexityByLength(
  model: LlamaModel,
  tokens: readonly number[],
  options: PerplexityOptions,
): Promise<Map<number, number>> {
  const { lengths, betaC = 0, batchTokens = 4096 } = options;
  const trainContext = options.trainContext ?? model.config.maxPositionEmbeddings;
  for (const L of lengths) {
    if (!Number.isInteger(L) || L < 2) throw new Error(`length ${L} must be an integer of at least 2`);
    if (Math.floor(tokens.length / L) < 1) {
      throw new Error(`the text has ${tokens.length} tokens, fewer than one window of ${L}`);
    }
  }
  const total = lengths.reduce((sum, L) => sum + Math.floor(tokens.length / L), 0);
  let done = 0;
  const result = new Map<number, number>();
  for (const L of lengths) {
    const windows = Math.floor(tokens.length / L);
    const perBatch = Math.max(1, Math.min(windows, Math.floor(batchTokens / L)));
    const positions = typeof options.positions === 'function' ? options.positions(L) : options.positions;
    const beta = logitScale(betaC, L, trainContext);
    let sum = 0;
    let count = 0;
    for (let w = 0; w < windows; w += perBatch) {
      if (options.cancelled?.()) throw new Error('cancelled');
      const B = Math.min(perBatch, windows - w);
      const ids = tokens.slice(w * L, (w + B) * L);
      const nll = await model.nll(ids, B, L, { positions, beta, window: options.window });
      for (const value of nll) sum += value;
      count += nll.length;
      done += B;
      options.onProgress?.(done, total, L);
    }
    const ppl = Math.exp(sum / count);
    if (!Number.isFinite(ppl)) throw new Error(`perplexity at length ${L} is not finite (mean NLL ${sum / count})`);
    result.set(L, ppl);
  }
  return result;
}
