// What every request handler of the engine worker shares: the WorkerHost owns the worker's state
// (the Engine, the loaded model and its variants, the request queue, cancelled ids, recalibration
// controls, the pasted-text token cache) and the plumbing to report events and run GPU work. It is
// also the CompareHost the side-by-side requests (src/ui/features/side-by-side/compare-worker.ts) run on.

import type { Engine } from '../../engine/engine.ts';
import type { ModelSource } from '../../model/checkpoint.ts';
import type { ModelConfig } from '../../model/config.ts';
import type { LlamaModel } from '../../model/model.ts';
import type { TextTokenizer } from '../../model/tokenizer.ts';
import type { TokenStream } from '../../train/data.ts';
import type { VariantInfo } from '../settings.ts';
import type { CompareHost } from '../features/side-by-side/compare-worker.ts';
import type { WorkerEvent } from './protocol.ts';

/** Progress events at most this often (the last one of a request always goes out). */
const PROGRESS_INTERVAL_MS = 100;

export interface Variant {
  info: VariantInfo;
  /** A dropped variant shares its parent's LlamaModel: same weights, evaluated without RoPE. */
  model: LlamaModel;
  /** Its key in the variant store (src/ui/features/saved-variants/variant-store.ts), when it is kept there. */
  stored?: string;
}

export interface Loaded {
  name: string;
  config: ModelConfig;
  tokenizer: TextTokenizer;
  /** persuasion.txt, tokenized: [N] */
  validation: number[];
  variants: Map<string, Variant>;
  /** The training text, tokenized once per model on the first recalibration. */
  training: { key: string; stream: TokenStream } | null;
  made: number;
  /**
   * Where its files are, without download events: a Hub model put beside it (loadVariant with
   * `hub`) reads its tokenizer.json from here to compare (Cache Storage for a Hub model).
   */
  files: ModelSource;
  /** Its tokenizer.json, parsed, once a Hub model was compared with it. */
  tokenizerJson: Promise<unknown> | null;
}

export interface RecalibrationControl {
  paused: boolean;
  stopped: boolean;
  resume: (() => void) | null;
}

export class CancelledError extends Error {}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function fetchText(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} fetching ${url}`);
  if ((response.headers.get('content-type') ?? '').includes('text/html')) {
    throw new Error(`fetching ${url} returned an HTML page, not the text (is the file missing?)`);
  }
  return response.text();
}

export class WorkerHost implements CompareHost {
  /** Set by the first init that finds WebGPU. */
  engine: Engine | null = null;
  /** Set by loadModel, cleared by unload. */
  loaded: Loaded | null = null;
  /** Pause, resume and stop of each recalibration, by request id. */
  readonly controls = new Map<number, RecalibrationControl>();
  private queue: Promise<void> = Promise.resolve();
  private readonly cancelled = new Set<number>();
  /** The last text tokenized for the page (Long context): counting it and then evaluating it tokenizes once. */
  private textCache: { model: string; text: string; ids: number[] } | null = null;

  /** `post` sends an event to the page (the worker's postMessage). */
  constructor(readonly post: (event: WorkerEvent) => void) {}

  /** Runs a GPU request after the ones before it; its errors become events, never a dead queue. */
  enqueue(id: number, job: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (this.cancelled.has(id)) {
        this.post({ type: 'cancelled', id });
        return;
      }
      try {
        await job();
      } catch (error) {
        if (error instanceof CancelledError || this.cancelled.has(id)) this.post({ type: 'cancelled', id });
        else this.post({ type: 'error', id, message: messageOf(error) });
      } finally {
        this.cancelled.delete(id);
        this.controls.delete(id);
      }
    });
  }

  cancel(target: number): void {
    this.cancelled.add(target);
  }

  isCancelled(id: number): boolean {
    return this.cancelled.has(id);
  }

  cancelledError(): Error {
    return new CancelledError();
  }

  control(target: number): RecalibrationControl {
    let c = this.controls.get(target);
    if (!c) {
      // A control for a request still in the queue: it starts in that state.
      c = { paused: false, stopped: false, resume: null };
      this.controls.set(target, c);
    }
    return c;
  }

  throttledProgress(id: number) {
    let last = -Infinity;
    return (done: number, total: number, length: number) => {
      const now = performance.now();
      if (done < total && now - last < PROGRESS_INTERVAL_MS) return;
      last = now;
      this.post({ type: 'progress', id, done, total, length });
    };
  }

  requireEngine(): Engine {
    if (!this.engine) throw new Error('WebGPU is not ready (init has not succeeded)');
    return this.engine;
  }

  requireModel(): Loaded {
    if (!this.loaded) throw new Error('no model is loaded');
    return this.loaded;
  }

  variant(id: string): Variant {
    const variant = this.requireModel().variants.get(id);
    if (!variant) throw new Error(`no variant "${id}" in the worker (was the model reloaded?)`);
    return variant;
  }

  tokenizer(): TextTokenizer {
    return this.requireModel().tokenizer;
  }

  trainContext(): number {
    return this.requireModel().config.maxPositionEmbeddings;
  }

  validation(): number[] {
    return this.requireModel().validation;
  }

  /** A text the user pasted, tokenized by the loaded model's tokenizer. */
  tokenizeText(text: string): number[] {
    const model = this.requireModel();
    if (this.textCache?.model !== model.name || this.textCache.text !== text)
      this.textCache = { model: model.name, text, ids: model.tokenizer.encode(text) };
    return this.textCache.ids;
  }
}
