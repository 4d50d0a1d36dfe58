// Which WebGPU adapter runs the model (and whether it is a software one), or how to get WebGPU,
// or what went wrong with it.

import type { Controller } from '../../controller.ts';
import { formatBytes } from '../../../model/format-bytes.ts';
import { useApp } from '../../store/store.ts';

/** The adapter line of the header. */
export function AdapterFacts() {
  const gpu = useApp((s) => s.gpu);
  if (gpu.kind === 'checking') {
    return (
      <p className="muted adapter" role="status">
        Connecting to WebGPU…
      </p>
    );
  }
  if (gpu.kind !== 'ready') {
    return <p className="muted adapter">{gpu.kind === 'unavailable' ? 'No WebGPU: recorded curves only' : 'WebGPU stopped'}</p>;
  }
  const { adapter } = gpu;
  return (
    <dl className="facts adapter" aria-label="WebGPU adapter">
      <dt>Adapter</dt>
      <dd data-testid="adapter-name">{adapter.name}</dd>
      <dt>Type</dt>
      <dd
        data-testid="adapter-type"
        title={`Largest buffer ${formatBytes(adapter.maxBufferSize)}, storage binding ${formatBytes(adapter.maxStorageBinding)}`}
      >
        {adapter.software ? 'Software (runs on the CPU, so expect it to be slow)' : 'Hardware GPU'}
      </dd>
    </dl>
  );
}

/** A banner when WebGPU is missing or failed; nothing otherwise. */
export function GpuAlert({ controller }: { controller: Controller }) {
  const gpu = useApp((s) => s.gpu);
  // A recalibration the lost device cut short: what is kept, and resuming from it.
  const lostRun = useApp((s) => (s.recalibration?.lostAt !== undefined ? s.recalibration : null));
  if (gpu.kind === 'unavailable') {
    return (
      <div className="alert" role="alert">
        <h2>WebGPU is not available</h2>
        <p>{gpu.reason}</p>
        <p>The recorded curves below still show. To run the model here, the page needs WebGPU:</p>
        <ul>
          <li>Use a recent Chrome or Edge (113 or later), Safari 26 or later, or Firefox 141 or later on Windows.</li>
          <li>
            On Linux, or where WebGPU is still behind a flag, start Chromium with <code>--enable-unsafe-webgpu</code> and{' '}
            <code>--enable-features=Vulkan</code>.
          </li>
          <li>Check that hardware acceleration is on (chrome://settings/system) and see chrome://gpu for details.</li>
          <li>
            Open the page on <code>localhost</code> or over https: WebGPU needs a secure context.
          </li>
        </ul>
      </div>
    );
  }
  if (gpu.kind === 'failed') {
    return (
      <div className="alert" role="alert">
        <h2>The GPU stopped</h2>
        <p>{gpu.message}</p>
        {lostRun && <p data-testid="device-loss-summary">{lostRun.message}</p>}
        <p>Measured curves stay on the chart. Restarting opens a new device and reloads the model; variants made in this page are lost.</p>
        <div className="actions">
          {lostRun?.kept && (
            // Not "Resume" alone: that is the Pause toggle's name while a run is paused.
            <button type="button" className="primary" onClick={() => controller.recalibration.resumeAfterLoss()}>
              Resume recalibration
            </button>
          )}
          <button type="button" onClick={() => controller.restart()}>
            Restart the engine
          </button>
        </div>
      </div>
    );
  }
  return null;
}
