// The page's one way to talk to the engine worker. `request(command, onProgress)` numbers the
// command, sends it, hands its progress events to `onProgress` and returns a promise of the event
// that ends it (protocol.ts FINAL_EVENTS, or cancelled, or error): no caller decides for itself
// which event ends which command. Control commands (cancel, stop, retune…) go through `control`.
//
// Events are applied in batches, at most every `batchMs`: one task per batch, so React renders once
// per batch however fast points, progress and training steps arrive. `stop()` ends the worker and
// the requests still open (as cancelled); `start()` then makes a fresh one (after a lost device).

import {
  FINAL_EVENTS,
  type Command,
  type ControlBody,
  type FinalEvent,
  type ProgressEvent,
  type RequestBody,
  type WorkerEvent,
} from './protocol.ts';

/** What the client needs of a Worker (the page's module worker; a scripted stand-in in unit tests). */
export interface WorkerPort {
  postMessage(command: Command): void;
  terminate(): void;
  onmessage: ((event: MessageEvent<WorkerEvent>) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
}

export interface WorkerClientOptions {
  /** A fresh worker: at each start. */
  create: () => WorkerPort;
  /** A lost device, or a GPU error no request caught (the worker's `gpuFailure`, request id 0). */
  onGpuFailure: (event: Extract<WorkerEvent, { type: 'gpuFailure' }>) => void;
  /** The worker itself failed (it could not start, or threw outside any request). */
  onWorkerError: (message: string) => void;
  /** Events are applied at most this often (0: each one as it arrives). */
  batchMs: number;
}

/** A request on its way: its id (what control commands name) and its final event. */
export interface PendingRequest<T extends RequestBody['type']> {
  readonly id: number;
  readonly result: Promise<FinalEvent<T>>;
}

interface Open {
  type: RequestBody['type'];
  onProgress?: (event: WorkerEvent) => void;
  settle: (event: WorkerEvent) => void;
}

export class WorkerClient {
  private readonly options: WorkerClientOptions;
  private worker: WorkerPort | null = null;
  private nextId = 1;
  private readonly open = new Map<number, Open>();
  private queued: WorkerEvent[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private lastFlush = -Infinity;

  constructor(options: WorkerClientOptions) {
    this.options = options;
  }

  /** Starts a worker, unless one runs (after `stop`, a fresh one). */
  start(): void {
    if (this.worker) return;
    const worker = this.options.create();
    worker.onmessage = (event) => this.receive(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.options.onWorkerError(event.message || 'it could not start');
    };
    this.worker = worker;
  }

  request<C extends RequestBody>(command: C, onProgress?: (event: ProgressEvent<C['type']>) => void): PendingRequest<C['type']> {
    const id = this.nextId++;
    const result = new Promise<FinalEvent<C['type']>>((resolve) => {
      this.open.set(id, {
        type: command.type,
        onProgress: onProgress as ((event: WorkerEvent) => void) | undefined,
        settle: resolve as (event: WorkerEvent) => void,
      });
    });
    this.post({ ...command, id } as Command);
    return { id, result };
  }

  control(command: ControlBody): void {
    this.post({ ...command, id: this.nextId++ } as Command);
  }

  /** Ends the worker; the open requests end as cancelled (the worker that would answer them is gone), their queued events are dropped. */
  stop(): void {
    this.worker?.terminate();
    this.worker = null;
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.queued = [];
    const open = [...this.open];
    this.open.clear();
    for (const [id, request] of open) request.settle({ type: 'cancelled', id });
  }

  private post(command: Command): void {
    this.worker?.postMessage(command);
  }

  private receive(event: WorkerEvent): void {
    if (this.options.batchMs <= 0) return this.apply(event);
    this.queued.push(event);
    if (this.flushTimer !== null) return;
    const wait = Math.max(0, this.lastFlush + this.options.batchMs - performance.now());
    this.flushTimer = setTimeout(() => this.flush(), wait);
  }

  /** Applies every queued event in one task. */
  private flush(): void {
    this.flushTimer = null;
    this.lastFlush = performance.now();
    const events = this.queued;
    this.queued = [];
    for (const event of events) this.apply(event);
  }

  private apply(event: WorkerEvent): void {
    if (event.type === 'gpuFailure') return this.options.onGpuFailure(event);
    const request = this.open.get(event.id);
    // A request that ended already (its events after a restart, say): nothing listens.
    if (!request) return;
    const final =
      event.type === 'cancelled' || event.type === 'error' || (FINAL_EVENTS[request.type] as readonly string[]).includes(event.type);
    if (!final) return request.onProgress?.(event);
    this.open.delete(event.id);
    request.settle(event);
  }
}
