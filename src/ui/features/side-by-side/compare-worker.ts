// The engine worker's side of "Side by side" (protocol.ts: generate, retune, tokenLoss). Kept beside
// the feature; the worker's host (src/ui/worker/host.ts) hands in what it owns (the request queue,
// the variants, the tokenizer, the validation tokens) as a CompareHost.
//
// Generation is greedy, with a KV cache (src/model/kv-cache.ts): a prefill of the prompt, then one
// token per step. Each step is its own job on the worker's queue, so two slots generating at once
// interleave token by token, and a cancel or retune lands between two tokens.
//
// Drop RoPE mid-generation (retune with rope off), or a change of scaling or of c, takes effect on
// the next token with no recompute: the cache keeps keys *before* rotation and attention rotates
// them as it reads them, at the current mode, as the DroPE code does by passing an identity
// rotation. The cached keys and values of layers past the first were computed from attention
// outputs of the earlier mode, so after a switch the old tokens are seen as that model left them.

import { logitScale } from '../../../eval/perplexity.ts';
import type { KvCache } from '../../../model/kv-cache.ts';
import type { LlamaModel } from '../../../model/model.ts';
import type { TextTokenizer } from '../../../model/tokenizer.ts';
import { attentionWindowOf, positionSetting, positionModeAt, type EvalSettings, type VariantInfo } from '../../settings.ts';
import type { Command, WorkerEvent } from '../../worker/protocol.ts';

/** Where the per-token loss passage starts in the validation text (tokens). */
export const PASSAGE_START = 2000;

/** The longest sequence a generation grows to (prompt included). */
export const MAX_GENERATION_LENGTH = 4096;

export interface CompareHost {
  post(event: WorkerEvent): void;
  /** Runs a GPU job after the queued ones; its errors (and cancellation) become events. */
  enqueue(id: number, job: () => Promise<void>): void;
  isCancelled(id: number): boolean;
  /** Throws when the request should end as cancelled. */
  cancelledError(): Error;
  variant(id: string): { info: VariantInfo; model: LlamaModel };
  tokenizer(): TextTokenizer;
  trainContext(): number;
  validation(): number[];
}

interface Generation {
  slot: string;
  variant: string;
  settings: EvalSettings;
  /** Prompt then generated ids. */
  ids: number[];
  promptLength: number;
  maxTokens: number;
  /** Keys (unrotated) and values of every token so far, and the model whose prefill made them. */
  cache: { kv: KvCache; model: LlamaModel } | null;
}

const generations = new Map<number, Generation>();
/** Settings from a retune that arrived while its generate still waited in the queue. */
const earlyRetunes = new Map<number, EvalSettings>();

/** Position mode, attention window and logit scale for a forward over T tokens, as an evaluation at length T uses. */
function forwardOptions(host: CompareHost, settings: EvalSettings, hasRope: boolean, T: number) {
  const trainContext = host.trainContext();
  const position = positionSetting(settings, hasRope);
  return {
    rope: position.kind !== 'none',
    forward: {
      positions: positionModeAt(position, T, { trainContext, maxPositionEmbeddings: trainContext }),
      window: attentionWindowOf(position, trainContext),
      beta: logitScale(settings.c, T, trainContext),
    },
  };
}

function argmax(logits: Float32Array): number {
  let best = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
  return best;
}

function finish(id: number): void {
  generations.get(id)?.cache?.kv.destroy();
  generations.delete(id);
}

async function step(host: CompareHost, id: number): Promise<void> {
  const g = generations.get(id);
  if (!g) return;
  try {
    if (host.isCancelled(id)) throw host.cancelledError();
    const { info, model } = host.variant(g.variant);
    const T = g.ids.length;
    const options = forwardOptions(host, g.settings, info.hasRope, T);
    let logits: Float32Array;
    if (g.cache?.model === model) {
      logits = await model.decode(g.cache.kv, [g.ids[T - 1]], options.forward);
    } else {
      // The first step, or the variant's weights were replaced: start over from the whole sequence.
      g.cache?.kv.destroy();
      g.cache = { kv: model.createKvCache(Math.min(MAX_GENERATION_LENGTH, g.promptLength + g.maxTokens)), model };
      logits = await model.prefill(g.cache.kv, g.ids, options.forward);
    }
    if (host.isCancelled(id)) throw host.cancelledError();
    g.ids.push(argmax(logits));
    const count = g.ids.length - g.promptLength;
    host.post({ type: 'token', id, slot: g.slot, count, text: host.tokenizer().decode(g.ids.slice(g.promptLength)), rope: options.rope });
    if (count >= g.maxTokens || g.ids.length >= MAX_GENERATION_LENGTH) {
      finish(id);
      host.post({ type: 'done', id });
      return;
    }
  } catch (error) {
    finish(id);
    throw error;
  }
  host.enqueue(id, () => step(host, id));
}

export function generate(host: CompareHost, command: Extract<Command, { type: 'generate' }>): void {
  host.enqueue(command.id, async () => {
    host.variant(command.variant); // fails early for an unknown variant
    const ids = host.tokenizer().encode(command.prompt);
    if (ids.length === 0) throw new Error('the prompt is empty: type a few words to continue');
    if (ids.length >= MAX_GENERATION_LENGTH)
      throw new Error(`the prompt has ${ids.length} tokens; at most ${MAX_GENERATION_LENGTH - 1} fit`);
    const maxTokens = Math.max(1, Math.floor(command.maxTokens));
    const settings = earlyRetunes.get(command.id) ?? command.settings;
    earlyRetunes.delete(command.id);
    generations.set(command.id, {
      slot: command.slot,
      variant: command.variant,
      settings,
      ids,
      promptLength: ids.length,
      maxTokens,
      cache: null,
    });
    await step(host, command.id);
  });
}

/** A control command: the running generation's next forward uses these settings. */
export function retune(command: Extract<Command, { type: 'retune' }>): void {
  const g = generations.get(command.target);
  if (g) g.settings = command.settings;
  else earlyRetunes.set(command.target, command.settings);
}

export function tokenLoss(host: CompareHost, command: Extract<Command, { type: 'tokenLoss' }>): void {
  host.enqueue(command.id, async () => {
    const { info, model } = host.variant(command.variant);
    const validation = host.validation();
    const L = Math.floor(command.length);
    if (!(L >= 2)) throw new Error(`per-token loss needs at least 2 tokens, got ${command.length}`);
    if (validation.length < L) throw new Error(`the validation text has ${validation.length} tokens, fewer than ${L}`);
    // Into the prose, past the title page's short lines, when the text is long enough.
    const start = Math.max(0, Math.min(PASSAGE_START, validation.length - L));
    const ids = validation.slice(start, start + L);
    const options = forwardOptions(host, command.settings, info.hasRope, L);
    const nll = await model.nll(ids, 1, L, options.forward);
    const tokenizer = host.tokenizer();
    host.post({ type: 'tokenLoss', id: command.id, start, tokens: ids.map((t) => tokenizer.decode([t])), losses: Array.from(nll) });
    host.post({ type: 'done', id: command.id });
  });
}
