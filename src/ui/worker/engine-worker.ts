/// <reference lib="webworker" />
// The engine worker: owns the WebGPU device (Engine.create(navigator.gpu)), the loaded weights and
// every variant made from them, the tokenizer and the token arrays. The page sends commands and
// gets events (protocol.ts); nothing here touches the DOM, and the page never touches the GPU, so
// evaluation and training never block a frame.
//
// GPU work runs one request at a time, in arrival order (a promise chain). Control commands
// (cancel, pause, resume, stop) act at once: they set flags that the running loop checks between
// batches or optimizer steps.
//
// This file only dispatches. The state and the plumbing every request uses are in host.ts
// (WorkerHost); the requests are in models.ts (init, loadModel, loadVariant), measure.ts
// (evaluate, needle, retrieval, fitC, attentionMap), variants.ts (dropRope, recalibrate,
// restoreVariants, forgetVariant) and ../compare/compare-worker.ts (generate, retune, tokenLoss).

import type { Command } from './protocol.ts';
import { generate, retune, tokenLoss } from '../features/side-by-side/compare-worker.ts';
import { messageOf, WorkerHost } from './host.ts';
import { init, loadModel, loadVariant } from './models.ts';
import { attentionMap, evaluate, fitC, needle, retrieval } from './measure.ts';
import { dropRope, forgetVariant, recalibrate, restoreVariants } from './variants.ts';

declare const self: DedicatedWorkerGlobalScope;

const host = new WorkerHost((event) => self.postMessage(event));

self.onmessage = (event: MessageEvent<Command>) => {
  const command = event.data;
  switch (command.type) {
    case 'cancel':
      host.cancel(command.target);
      return;
    case 'pause':
      host.control(command.target).paused = true;
      return;
    case 'resume': {
      const c = host.control(command.target);
      c.paused = false;
      c.resume?.();
      return;
    }
    case 'loseDevice':
      // Tests only: a real loss, now, whatever runs (see protocol.ts). The engine reports it.
      host.engine?.device.destroy();
      return;
    case 'stop': {
      const c = host.control(command.target);
      c.stopped = true;
      c.paused = false;
      c.resume?.();
      return;
    }
    case 'init':
      return host.enqueue(command.id, () => init(host, command.id));
    case 'loadModel':
      return host.enqueue(command.id, () => loadModel(host, command));
    case 'evaluate':
      return host.enqueue(command.id, () => evaluate(host, command));
    case 'countTokens':
      // No GPU work: answered at once, with the tokenizer loaded now.
      try {
        host.post({ type: 'tokenCount', id: command.id, tokens: host.tokenizeText(command.text).length });
        host.post({ type: 'done', id: command.id });
      } catch (error) {
        host.post({ type: 'error', id: command.id, message: messageOf(error) });
      }
      return;
    case 'needle':
      return host.enqueue(command.id, () => needle(host, command));
    case 'retrieval':
      return host.enqueue(command.id, () => retrieval(host, command));
    case 'fitC':
      return host.enqueue(command.id, () => fitC(host, command));
    case 'dropRope':
      return host.enqueue(command.id, async () => dropRope(host, command));
    case 'recalibrate':
      return host.enqueue(command.id, () => recalibrate(host, command));
    case 'restoreVariants':
      return host.enqueue(command.id, () => restoreVariants(host, command));
    case 'forgetVariant':
      return host.enqueue(command.id, async () => forgetVariant(host, command));
    case 'loadVariant':
      return host.enqueue(command.id, () => loadVariant(host, command));
    case 'generate':
      return generate(host, command);
    case 'retune':
      return retune(command);
    case 'tokenLoss':
      return tokenLoss(host, command);
    case 'attentionMap':
      return host.enqueue(command.id, () => attentionMap(host, command));
  }
};
