// The app shell: opens the engine on navigator.gpu and reports which adapter it got, or how to get
// one. The playground controls (positions, evaluation, charts) build on this page later.
//
// Only serializable values go into React state; the Engine (and its GPUDevice) stays in the effect
// that owns it, so a lost device never leaves a dead GPU object in UI state.

import { useEffect, useState } from 'react';
import { Engine, EngineError } from '../engine/engine.ts';

type GpuStatus =
  | { kind: 'connecting' }
  | { kind: 'ready'; adapterName: string; software: boolean; maxBufferSize: number; maxStorageBinding: number }
  | { kind: 'unavailable'; reason: string }
  | { kind: 'failed'; message: string };

/** Opens an Engine on navigator.gpu for as long as the component is mounted. */
function useGpuStatus(): GpuStatus {
  const [status, setStatus] = useState<GpuStatus>({ kind: 'connecting' });
  useEffect(() => {
    let engine: Engine | null = null;
    let cancelled = false;
    let stopListening = () => {};
    Engine.create(navigator.gpu).then(
      (created) => {
        // StrictMode (dev) mounts, unmounts and mounts again: drop a device whose effect is gone.
        if (cancelled) {
          created.destroy();
          return;
        }
        engine = created;
        stopListening = created.onFailure((message) => setStatus({ kind: 'failed', message }));
        setStatus({
          kind: 'ready',
          adapterName: created.adapterName,
          software: created.adapter.software,
          maxBufferSize: created.limits.maxBufferSize,
          maxStorageBinding: created.limits.maxStorageBufferBindingSize,
        });
      },
      (error: unknown) => {
        if (cancelled) return;
        if (error instanceof EngineError) setStatus({ kind: 'unavailable', reason: unavailableReason() });
        else setStatus({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
      },
    );
    return () => {
      cancelled = true;
      stopListening();
      engine?.destroy();
    };
  }, []);
  return status;
}

/** Why there is no adapter, as far as the page can tell. */
function unavailableReason(): string {
  if (!window.isSecureContext) {
    return 'This page is not a secure context, and browsers expose WebGPU only over https or on localhost.';
  }
  if (!navigator.gpu) return 'This browser does not expose WebGPU (navigator.gpu is missing).';
  return 'This browser supports WebGPU but offered no adapter: the GPU may be blocklisted, or hardware acceleration is off.';
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

function GpuPanel({ status }: { status: GpuStatus }) {
  switch (status.kind) {
    case 'connecting':
      return (
        <p className="muted" role="status">
          Connecting to WebGPU…
        </p>
      );
    case 'ready':
      return (
        <dl className="facts" aria-label="WebGPU adapter">
          <dt>Adapter</dt>
          <dd data-testid="adapter-name">{status.adapterName}</dd>
          <dt>Type</dt>
          <dd data-testid="adapter-type">
            {status.software ? 'Software (runs on the CPU, so expect it to be slow)' : 'Hardware GPU'}
          </dd>
          <dt>Largest buffer</dt>
          <dd>
            {formatBytes(status.maxBufferSize)} (storage binding {formatBytes(status.maxStorageBinding)})
          </dd>
        </dl>
      );
    case 'unavailable':
      return (
        <div className="alert" role="alert">
          <h3>WebGPU is not available</h3>
          <p>{status.reason}</p>
          <p>The playground runs its model on the GPU through WebGPU. To enable it:</p>
          <ul>
            <li>Use a recent Chrome or Edge (113 or later), Safari 26 or later, or Firefox 141 or later on Windows.</li>
            <li>
              On Linux, or where WebGPU is still behind a flag, start Chromium with{' '}
              <code>--enable-unsafe-webgpu</code> and <code>--enable-features=Vulkan</code>.
            </li>
            <li>Check that hardware acceleration is on (chrome://settings/system) and see chrome://gpu for details.</li>
            <li>
              Open the page on <code>localhost</code> or over https: WebGPU needs a secure context.
            </li>
          </ul>
        </div>
      );
    case 'failed':
      return (
        <div className="alert" role="alert">
          <h3>WebGPU failed</h3>
          <p>{status.message}</p>
          <p>Reload the page to start again.</p>
        </div>
      );
  }
}

export function App() {
  const status = useGpuStatus();
  return (
    <main className="page">
      <header>
        <h1>DroPE Playground</h1>
        <p className="muted">
          RoPE, scaled RoPE and DroPE (dropped positional embeddings) side by side, on a Llama-architecture language
          model that runs on hand-written WGSL kernels in your browser.
        </p>
      </header>
      <section className="card" aria-labelledby="gpu-heading">
        <h2 id="gpu-heading">GPU</h2>
        <GpuPanel status={status} />
      </section>
    </main>
  );
}
