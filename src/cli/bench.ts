// `npm run bench`: throughput of our kernels against baselines run in the same process on the
// same adapter, printed as one JSON object (also written to .bench/latest.json).

import { mkdir } from 'node:fs/promises';
import { Engine } from '../engine/engine.ts';
import { nodeGpu } from '../engine/node-gpu.ts';
import { writeFileAtomic } from '../model/save-node.ts';
import { UsageError } from './args.ts';
import { benchAttention } from './bench/attention.ts';
import { benchDecode } from './bench/decode.ts';
import { benchMatmul } from './bench/matmul.ts';
import { benchProfile } from './bench/profile.ts';
import { benchRealSize } from './bench/real-size.ts';
import { benchForward, benchPrecision, benchTraining } from './bench/model.ts';

const SECTIONS = {
  matmul: benchMatmul,
  attention: benchAttention,
  forward: benchForward,
  training: benchTraining,
  precision: benchPrecision,
  decode: benchDecode,
  smollm: benchRealSize,
  profile: benchProfile,
} as const;

/** Sections a plain `npm run bench` leaves out: minutes even on a GPU, hours on a CPU adapter. Name them to run them. */
const ON_REQUEST = new Set(['smollm', 'profile']);

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((name) => !(name in SECTIONS));
  if (unknown.length > 0)
    throw new UsageError(`unknown section ${unknown.join(', ')}; the sections are ${Object.keys(SECTIONS).join(', ')}`);
  const engine = await Engine.create(nodeGpu());
  const { maxStorageBufferBindingSize, maxBufferSize, maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup } = engine.limits;
  const figures: Record<string, unknown> = {
    adapter: engine.adapterName,
    limits: { maxStorageBufferBindingSize, maxBufferSize, maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup },
    date: new Date().toISOString(),
  };
  for (const [name, bench] of Object.entries(SECTIONS)) {
    if (only.length > 0 ? !only.includes(name) : ON_REQUEST.has(name)) continue;
    process.stderr.write(`bench: ${name}...\n`);
    figures[name] = await bench(engine);
  }
  engine.destroy();
  const json = JSON.stringify(figures, null, 2);
  console.log(json);
  await mkdir('.bench', { recursive: true });
  await writeFileAtomic('.bench/latest.json', `${json}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
