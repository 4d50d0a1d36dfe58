// A controller whose worker is scripted by the test: the real WorkerClient (numbering, progress
// and final events, restarts) over a port that records what the page sends, with events applied
// as they arrive (no batching). The test answers a request with `emit`; a request's final event
// reaches its caller through a promise, so `await settle()` before looking at what it did.

import type { Controller } from '../../../src/ui/controller.ts';
import { WorkerClient, type WorkerPort } from '../../../src/ui/worker/client.ts';
import { FINAL_EVENTS, type Command, type ControlBody, type RequestBody, type WorkerEvent } from '../../../src/ui/worker/protocol.ts';

/** A worker event without its request id (emit adds it). */
export type EventBody = WorkerEvent extends infer E ? (E extends unknown ? Omit<E, 'id'> : never) : never;

export function scriptedController() {
  const requests: { id: number; command: RequestBody }[] = [];
  const controls: ControlBody[] = [];
  const gpuFailures: string[] = [];
  const ports: WorkerPort[] = [];
  const client = new WorkerClient({
    create: () => {
      const port: WorkerPort = {
        postMessage: (command: Command) => {
          const { id, ...body } = command;
          if (command.type in FINAL_EVENTS) requests.push({ id, command: body as RequestBody });
          else controls.push(body as ControlBody);
        },
        terminate: () => undefined,
        onmessage: null,
        onerror: null,
      };
      ports.push(port);
      return port;
    },
    onGpuFailure: (event) => gpuFailures.push(event.message),
    onWorkerError: () => undefined,
    batchMs: 0,
  });
  client.start();
  /** The worker's answer to requests[index]. */
  const emit = (index: number, event: EventBody) =>
    ports.at(-1)!.onmessage!({ data: { ...event, id: requests[index].id } as WorkerEvent } as MessageEvent<WorkerEvent>);
  const controller = { worker: client } as unknown as Controller;
  return { controller, client, requests, controls, gpuFailures, ports, emit };
}

/** Lets the promises of ended requests run their callbacks. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
