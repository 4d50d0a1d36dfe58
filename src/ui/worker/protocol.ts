// The messages between the page and the engine worker: typed discriminated unions, each command
// carrying a request id that every event it causes repeats. The worker owns the GPU device, the
// weights, the tokenizer and the token arrays; only serializable values cross.
//
//   init         → ready {adapter} | noWebGPU {reason}
//   loadModel    → modelLoaded {summary} | error (the base variant has id 'base')
//   evaluate     → progress* (throttled), point* (one per length, as each finishes), done | cancelled | error
//   fitC         → progress*, fitted {c, scores} | cancelled | error
//   dropRope     → variant {a new variant "RoPE dropped": same weights, no rotary embedding}
//   recalibrate  → status {preparing}, step* {loss}, paused/resumed, variant + done | cancelled | error
//   pause, resume, stop, cancel   name the request they act on in `target`
// A lost device, or a GPU error no request caught, is one `gpuFailure` event (id 0).

import type { EvalSettings, VariantInfo } from '../settings.ts';

export interface AdapterInfo {
  /** The engine's adapter name, "(software)" appended for CPU implementations. */
  name: string;
  software: boolean;
  maxBufferSize: number;
  maxStorageBinding: number;
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
  | { type: 'loadModel'; id: number; name: string; baseUrl: string; validationUrl: string }
  | { type: 'evaluate'; id: number; variant: string; settings: EvalSettings; lengths: number[]; tokens: number }
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
    }
  | { type: 'pause'; id: number; target: number }
  | { type: 'resume'; id: number; target: number }
  | { type: 'stop'; id: number; target: number }
  | { type: 'cancel'; id: number; target: number };

export type WorkerEvent =
  | { type: 'ready'; id: number; adapter: AdapterInfo }
  | { type: 'noWebGPU'; id: number; reason: string }
  | { type: 'modelLoaded'; id: number; summary: ModelSummary }
  | { type: 'progress'; id: number; done: number; total: number; length: number }
  | { type: 'point'; id: number; length: number; ppl: number }
  | { type: 'fitted'; id: number; c: number; lengths: number[]; scores: { c: number; score: number }[] }
  | { type: 'variant'; id: number; variant: VariantInfo }
  | { type: 'status'; id: number; message: string }
  | { type: 'step'; id: number; step: number; steps: number; loss: number; lr: number }
  | { type: 'paused'; id: number }
  | { type: 'resumed'; id: number }
  | { type: 'done'; id: number }
  | { type: 'cancelled'; id: number }
  | { type: 'error'; id: number; message: string }
  | { type: 'gpuFailure'; id: 0; message: string };

/** Command without its id: what callers pass; the client numbers it. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type CommandBody = DistributiveOmit<Command, 'id'>;
