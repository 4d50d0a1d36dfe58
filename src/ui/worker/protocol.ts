// The messages between the page and the engine worker: typed discriminated unions, each command
// carrying a request id that every event it causes repeats. The worker owns the GPU device, the
// weights, the tokenizer and the token arrays; only serializable values cross.
//
//   init         → ready {adapter} | noWebGPU {reason}
//   loadModel    → modelLoaded {summary} | error (the base variant has id 'base')
//   evaluate     → progress* (throttled), point* (one per length, as each finishes), done | cancelled | error
//                  (on the validation text, or on `text` when given: a text the user pasted, tokenized here)
//   countTokens  → tokenCount {tokens}, done | error (answered at once, not queued behind GPU work)
//   needle       → progress* (one step per trial), needlePoint* (one per length; tooShort when four needles
//                  and the question do not fit), done | cancelled | error   (src/eval/needle.ts)
//   retrieval    → progress* (one step per trial), retrievalPoint* (one per length), done | cancelled | error
//                  (the records test, src/eval/records.ts, on the validation text)
//   fitC         → progress*, fitted {c, scores} | cancelled | error
//   dropRope     → variant {a new variant "RoPE dropped": same weights, no rotary embedding}
//   recalibrate  → status {preparing}, step* {loss}, checkpointed*, paused/resumed, variant + done | cancelled | error
//   restoreVariants → variant* {stored} (each stored variant of the loaded model, loaded), done | error
//   forgetVariant    → done
//   loadVariant  → variant {another shipped model of the loaded one's shapes, id "shipped:NAME"}, done | error
//                  (side by side; loaded once, then answered from memory; gone with the next loadModel);
//                  with `hub`: download* (as loadModel's), variant {a Hub model with the loaded one's
//                  vocabulary and tokenizer, id "hub:ORG/NAME"}, done | error
//   pause, resume, stop, cancel   name the request they act on in `target`
//   generate     → token* (one per new token), done | cancelled | error;  retune names a generate in `target`
//   tokenLoss    → tokenLoss {tokens, losses}, done | error
//   attentionMap → attentionMap {tokens, probs [T*T], layer, head}, done | error   (one head's attention
//                  pattern over the first `length` tokens of the validation text: the heatmap)
// A lost device, or a GPU error no request caught, is one `gpuFailure` event (id 0).
//   loseDevice   (tests only) destroys the worker's GPU device at once, mid-request: a real loss

import type { RetrievalPoint } from '../../eval/records.ts';
import type { EvalSettings, VariantInfo } from '../settings.ts';

export interface AdapterInfo {
  /** The engine's adapter name, "(software)" appended for CPU implementations. */
  name: string;
  software: boolean;
  maxBufferSize: number;
  maxStorageBinding: number;
  /** The device has shader-f16 (Engine.supportsF16): f16 activations can run here. */
  shaderF16: boolean;
}

/** What the worker reports about loaded weights. */
export interface ModelSummary {
  name: string;
  trainContext: number;
  parameters: number;
  /** Tokens of the validation text (persuasion.txt) after tokenizing. */
  validationTokens: number;
}

export type Command =
  | { type: 'init'; id: number }
  | {
      type: 'loadModel';
      id: number;
      name: string;
      baseUrl: string;
      validationUrl: string;
      /** A Hugging Face Hub model instead of baseUrl: its id (ORG/NAME) and the Hub's base URL; files go through the Cache Storage cache. */
      hub?: { id: string; endpoint: string };
      /**
       * How the model is stored (src/model/precision.ts StorageFormat, LlamaModel's options); both
       * default to 'f32'. 'f16' weights: weight matrices in half precision (any adapter); 'f16'
       * activations: needs shader-f16. Either one makes the model inference only.
       */
      weights?: 'f32' | 'f16';
      activations?: 'f32' | 'f16';
    }
  | {
      type: 'evaluate';
      id: number;
      variant: string;
      settings: EvalSettings;
      lengths: number[];
      tokens: number;
      /** Evaluate on this text (tokenized in the worker) instead of the validation text. */
      text?: string;
    }
  /** How many tokens the loaded model's tokenizer makes of `text`. */
  | { type: 'countTokens'; id: number; text: string }
  /**
   * The multi-key needle-in-a-haystack test at each length, `trials` prompts per length (trial t
   * uses seed + t); the filler is `text` when given, else the validation text.
   */
  | { type: 'needle'; id: number; variant: string; settings: EvalSettings; lengths: number[]; trials: number; seed: number; text?: string }
  /**
   * The records test at each length (src/eval/records.ts retrievalByLength: format lookup, four
   * records per prompt, greedy exact match), `trials` prompts per length from `seed`, built from
   * the validation text; inside / outside split at C_train.
   */
  | { type: 'retrieval'; id: number; variant: string; settings: EvalSettings; lengths: number[]; trials: number; seed: number }
  | { type: 'fitC'; id: number; variant: string; settings: EvalSettings; lengths: number[]; tokens: number; grid: number[] }
  | { type: 'dropRope'; id: number; from: string }
  | {
      type: 'recalibrate';
      id: number;
      from: string;
      steps: number;
      lr: number;
      batch: number;
      seed: number;
      /** The training text's files, fetched and tokenized once per model. */
      trainUrls: string[];
      /** Continue the interrupted recalibration kept under this variant-store key (same steps, lr, batch, seed). */
      resume?: string;
    }
  | { type: 'pause'; id: number; target: number }
  | { type: 'resume'; id: number; target: number }
  | { type: 'stop'; id: number; target: number }
  | { type: 'cancel'; id: number; target: number }
  /**
   * Tests only (the page sends it only through `window.__playgroundTest`, see controller.ts):
   * `device.destroy()` on the worker's device, acted on at once like a control command, so a
   * driver reset can be reproduced in the middle of a request. No events of its own.
   */
  | { type: 'loseDevice'; id: number }
  /** Loads stored variants (src/ui/features/saved-variants/variant-store.ts) of the loaded model: all, or those `keys`. */
  | { type: 'restoreVariants'; id: number; keys?: string[] }
  /** Frees a variant's weights (the page deletes its stored record). */
  | { type: 'forgetVariant'; id: number; variant: string }
  /**
   * Side by side: the shipped model `name` (its folder at `baseUrl`, same tensor shapes as the
   * loaded model's) as a variant: kind 'base' (as trained), id "shipped:NAME", hasRope from its
   * config.json's attention_type. Never listed among the page's variants (src/ui/features/side-by-side/shipped-variants.ts).
   *
   * With `hub` (then `name` is the Hub id and baseUrl is ignored): the Hub model ORG/NAME through
   * the Cache Storage cache, with `download` events, stored as `weights`/`activations` (as
   * loadModel's), as the variant id "hub:ORG/NAME", label "ORG/NAME", positions from its own
   * config.json. It must share the loaded model's vocab_size and tokenizer (tokenizer.json's
   * vocab, merges and added tokens; src/ui/features/side-by-side/hub-variants.ts), not its tensor shapes: a
   * DroPE checkpoint with q_norm/k_norm goes beside its RoPE original. Errors when no model is
   * loaded, or naming both models and what differs.
   */
  | {
      type: 'loadVariant';
      id: number;
      name: string;
      baseUrl: string;
      hub?: { id: string; endpoint: string };
      weights?: 'f32' | 'f16';
      activations?: 'f32' | 'f16';
    }
  // Side by side (src/ui/features/side-by-side): greedy continuation of a prompt, one `token` event per token,
  // cancellable; `retune` changes a running generation's settings for the tokens that follow (Drop
  // RoPE mid-generation); `tokenLoss` is the next-token loss of each token of a validation passage.
  | { type: 'generate'; id: number; slot: string; variant: string; prompt: string; maxTokens: number; settings: EvalSettings }
  | { type: 'retune'; id: number; target: number; settings: EvalSettings }
  | { type: 'tokenLoss'; id: number; variant: string; settings: EvalSettings; length: number }
  /** Attention pattern of query head `head` in layer `layer` (0-based) on the first `length` validation tokens (default: the training context, at most 64). */
  | { type: 'attentionMap'; id: number; variant: string; settings: EvalSettings; layer: number; head: number; length?: number };

export type WorkerEvent =
  | { type: 'ready'; id: number; adapter: AdapterInfo }
  | { type: 'noWebGPU'; id: number; reason: string }
  | { type: 'modelLoaded'; id: number; summary: ModelSummary }
  | { type: 'progress'; id: number; done: number; total: number; length: number }
  | { type: 'point'; id: number; length: number; ppl: number }
  | { type: 'tokenCount'; id: number; tokens: number }
  /** needle: one length's result; tooShort (successes 0) when a prompt of `length` cannot hold four needles and the question. */
  | { type: 'needlePoint'; id: number; length: number; successes: number; trials: number; tooShort?: boolean }
  /** retrieval: one length's result. */
  | { type: 'retrievalPoint'; id: number; length: number; point: RetrievalPoint }
  | { type: 'fitted'; id: number; c: number; lengths: number[]; scores: { c: number; score: number }[] }
  | {
      type: 'variant';
      id: number;
      variant: VariantInfo;
      /** Its key in the variant store, when it is kept there (survives a reload). */
      stored?: string;
      /** Why it could not be stored, when that failed (it still works until the page reloads). */
      storeProblem?: string;
    }
  /** recalibrate: what it does now; `phase` says whether optimizer steps have begun (the message is for people). */
  | { type: 'status'; id: number; phase: 'preparing' | 'training'; message: string }
  | { type: 'step'; id: number; step: number; steps: number; loss: number; lr: number }
  /** A recalibration's weights and trainer state were kept at this step (resumable after a reload). */
  | { type: 'checkpointed'; id: number; step: number; /** Its variant-store key: what `recalibrate.resume` names. */ key: string }
  | { type: 'paused'; id: number }
  | { type: 'resumed'; id: number }
  | { type: 'done'; id: number }
  | { type: 'cancelled'; id: number }
  | { type: 'error'; id: number; message: string }
  | {
      type: 'gpuFailure';
      id: 0;
      message: string;
      /** True for a lost device (every request after it fails too); false for an uncaught GPU error. */ lost: boolean;
    }
  /** loadModel or loadVariant from the Hub: download progress of one file (throttled; loaded === total when it is complete). */
  | { type: 'download'; id: number; file: string; loaded: number; total?: number }
  /** generate: the continuation so far (decoded as a whole), after `count` new tokens; then done | cancelled | error. */
  | { type: 'token'; id: number; slot: string; count: number; text: string; rope: boolean }
  /** tokenLoss: tokens [L] as text from token `start` of the text, losses [L-1] in nats (losses[t]: token t+1 predicted at t); then done. */
  | { type: 'tokenLoss'; id: number; start: number; tokens: string[]; losses: number[] }
  /**
   * attentionMap: tokens [T] as text, probs [T*T] row-major (query row t, key column j; 0 for j > t),
   * the layer and head shown (0 for one past the model's), and the model's layer and head counts; then done.
   */
  | { type: 'attentionMap'; id: number; tokens: string[]; probs: number[]; layer: number; head: number; layers: number; heads: number };

/** Command without its id: what callers pass; the client numbers it. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type CommandBody = DistributiveOmit<Command, 'id'>;

type EventOfType<K extends WorkerEvent['type']> = Extract<WorkerEvent, { type: K }>;

/**
 * Each request's events: those it reports on the way (`progress`) and the one that ends it
 * (`final`). Any request may also end in `cancelled` or `error` instead. The commands not listed
 * here are control commands: they act on an earlier request and have no events of their own.
 */
export interface RequestEvents {
  init: { progress: never; final: 'ready' | 'noWebGPU' };
  loadModel: { progress: 'download'; final: 'modelLoaded' };
  evaluate: { progress: 'progress' | 'point'; final: 'done' };
  countTokens: { progress: 'tokenCount'; final: 'done' };
  needle: { progress: 'progress' | 'needlePoint'; final: 'done' };
  retrieval: { progress: 'progress' | 'retrievalPoint'; final: 'done' };
  fitC: { progress: 'progress'; final: 'fitted' };
  dropRope: { progress: 'variant'; final: 'done' };
  recalibrate: { progress: 'status' | 'step' | 'checkpointed' | 'paused' | 'resumed' | 'variant'; final: 'done' };
  restoreVariants: { progress: 'variant'; final: 'done' };
  forgetVariant: { progress: never; final: 'done' };
  loadVariant: { progress: 'download' | 'variant'; final: 'done' };
  generate: { progress: 'token'; final: 'done' };
  tokenLoss: { progress: 'tokenLoss'; final: 'done' };
  attentionMap: { progress: 'attentionMap'; final: 'done' };
}

export type RequestType = keyof RequestEvents;
export type RequestBody = Extract<CommandBody, { type: RequestType }>;
/** pause, resume, stop, cancel, retune, loseDevice: each names the request it acts on (or none). */
export type ControlBody = Extract<CommandBody, { type: Exclude<Command['type'], RequestType> }>;
export type ProgressEvent<T extends RequestType> = EventOfType<RequestEvents[T]['progress']>;
export type FinalEvent<T extends RequestType> = EventOfType<RequestEvents[T]['final'] | 'cancelled' | 'error'>;

/** The events that end each request, besides `cancelled` and `error`: what the client waits for. */
export const FINAL_EVENTS: { readonly [T in RequestType]: readonly RequestEvents[T]['final'][] } = {
  init: ['ready', 'noWebGPU'],
  loadModel: ['modelLoaded'],
  evaluate: ['done'],
  countTokens: ['done'],
  needle: ['done'],
  retrieval: ['done'],
  fitC: ['fitted'],
  dropRope: ['done'],
  recalibrate: ['done'],
  restoreVariants: ['done'],
  forgetVariant: ['done'],
  loadVariant: ['done'],
  generate: ['done'],
  tokenLoss: ['done'],
  attentionMap: ['done'],
};
