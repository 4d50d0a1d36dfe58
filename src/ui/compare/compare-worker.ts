// The engine worker's side of "Side by side" (protocol.ts: generate, retune, tokenLoss). Kept out of
// engine-worker.ts, which hands in what it owns (the request queue, the variants, the tokenizer, the
// validation tokens) through a CompareHost.
//
// Generation is greedy and has no KV cache: each new token re-runs the forward over the whole
// sequence (prompt + tokens so far), which costs little at these model sizes and keeps one code
// path. Each step is its own job on the worker's queue, so two slots generating at once interleave
// token by token, and a cancel or retune lands between two tokens.
//
// Drop RoPE mid-generation (retune with rope off): the next step's forward runs without rotary
// embeddings. Because we recompute the whole sequence, every key of every earlier token is also
// recomputed unrotated, and so is every hidden state of the prefix in every layer: after the switch
// the continuation is exactly what the dropped model gives for that prefix. A KV-cached decoder (as
// in the DroPE code) cannot recompute the prefix, which is why it keeps keys *before* rotation (an
// unrotated-key cache) so that it can stop applying RoPE to them; its cached keys and values of
// layers past the first were still computed from RoPE-era attention outputs, so a cached switch
// is a mix of the two models for the old tokens, where ours is the dropped model throughout.

import { logitScale } from '../../eval/perplexity.ts';
import type { LlamaModel } from '../../model/model.ts';
import type { TextTokenizer } from '../../model/tokenizer.ts';
import { attentionWindowOf, effectiveMode, positionModeAt, type EvalSettings, type VariantInfo } from '../settings.ts';
import type { Command, WorkerEvent } from '../worker/protocol.ts';

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
}

const generations = new Map<number, Generation>();
/** Settings from a retune that arrived while its generate still waited in the queue. */
const earlyRetunes = new Map<number, EvalSettings>();

/** Position mode, attention window and logit scale for a forward over T tokens, as an evaluation at length T uses. */
function forwardOptions(host: CompareHost, settings: EvalSettings, hasRope: boolean, T: number) {
  const trainContext = host.trainContext();
  const mode = effectiveMode(settings, hasRope);
  return {
    rope: mode !== 'none',
    forward: {
      positions: positionModeAt(mode, T, { trainContext, maxPositionEmbeddings: trainContext }),
      window: attentionWindowOf(mode, trainContext),
      beta: logitScale(settings.c, T, trainContext),
    },
  };
}

function argmaxLastRow(logits: Float32Array, T: number, V: number): number {
  let best = 0;
  const start = (T - 1) * V;
  for (let v = 1; v < V; v++) if (logits[start + v] > logits[start + best]) best = v;
  return best;
}

async function step(host: CompareHost, id: number): Promise<void> {
  const g = generations.get(id);
  if (!g) return;
  try {
    if (host.isCancelled(id)) throw host.cancelledError();
    const { info, model } = host.variant(g.variant);
    const T = g.ids.length;
    const options = forwardOptions(host, g.settings, info.hasRope, T);
    const logits = await model.logits(g.ids, 1, T, options.forward);
    if (host.isCancelled(id)) throw host.cancelledError();
    g.ids.push(argmaxLastRow(logits, T, logits.length / T));
    const count = g.ids.length - g.promptLength;
    host.post({ type: 'token', id, slot: g.slot, count, text: host.tokenizer().decode(g.ids.slice(g.promptLength)), rope: options.rope });
    if (count >= g.maxTokens || g.ids.length >= MAX_GENERATION_LENGTH) {
      generations.delete(id);
      host.post({ type: 'done', id });
      return;
    }
  } catch (error) {
    generations.delete(id);
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
    generations.set(command.id, { slot: command.slot, variant: command.variant, settings, ids, promptLength: ids.length, maxTokens });
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
