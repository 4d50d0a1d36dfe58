// Matmul benchmark: our tiled `matmul.forward`, our `matmul.naive` baseline, and
// @tensorflow/tfjs-backend-webgpu's tf.matMul, on the model's projection shapes, on the same
// WebGPU adapter in the same process. Each figure is GFLOP/s = 2·M·N·K per product.
//
// Timing (see `time`): warm-up products, then batches of products each followed by one wait for the
// GPU (ours: engine.sync(); tfjs: reading the last product back, which waits for all of them), the
// fastest batch counting. Per-product submit overheads are inside the figure for both.
//
// Usage: `await benchMatmul(engine)` from the CLI's bench command, or directly:
//   node --import tsx --import ./src/cli/register-raw.mjs --input-type=module -e "
//     import { Engine } from './src/engine/engine.ts'; import { nodeGpu } from './src/engine/node-gpu.ts';
//     import { benchMatmul } from './src/cli/bench/matmul.ts';
//     const e = await Engine.create(nodeGpu()); console.log(JSON.stringify(await benchMatmul(e), null, 2));
//     e.destroy(); process.exit(0);"

import { createRequire } from 'node:module';
import type { Engine } from '../../engine/engine.ts';
import { matmul, matmulNaive, type MatmulOptions } from '../../engine/ops/matmul.ts';
import { nodeGpu } from '../../engine/node-gpu.ts';
import { Rng } from '../../engine/random.ts';

export interface BenchMatmulOptions {
  /** Seconds each measurement should last (after its warm-up). */
  minSeconds?: number;
  /** Fewest products in a measurement. */
  minIterations?: number;
  /** Leave out tfjs (e.g. where its package cannot load). */
  skipTfjs?: boolean;
}

interface Shape {
  name: string;
  M: number;
  N: number;
  K: number;
  transB: boolean;
}

// The model's projections with R = 1024 rows (B*T): y[R, out] = x[R, in] · W[out, in]^T as nn.Linear
// computes it (transB), for the model's (in, out) pairs; then a plain square product; then one row
// against a SmolLM-sized weight, as decoding a token does.
const R = 1024;
const SHAPES: Shape[] = [
  ...[
    [128, 128],
    [128, 352],
    [352, 128],
    [128, 256],
  ].map(([inF, outF]) => ({ name: `linear R=${R} in=${inF} out=${outF}`, M: R, N: outF, K: inF, transB: true })),
  { name: '256x256x256', M: 256, N: 256, K: 256, transB: false },
  // Decoding one token at SmolLM-360M's width (hidden 960, MLP 2560): one row against the weight.
  ...[
    [960, 2560],
    [2560, 960],
  ].map(([inF, outF]) => ({ name: `linear R=1 in=${inF} out=${outF} (decode)`, M: 1, N: outF, K: inF, transB: true })),
];

interface Timing {
  gflops: number;
  /** GFLOP per second of this process's CPU time: on a software adapter (SwiftShader) the work runs
   * on this process's threads, and this figure barely moves when other processes share the cores. */
  gflopsPerCpuSecond: number;
  msPerProduct: number;
  iterations: number;
}

const now = () => performance.now();
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

type Settings = Required<Omit<BenchMatmulOptions, 'skipTfjs'>>;

/**
 * Times `product()`: two warm-up products (the first compiles the pipeline), then BATCHES batches of
 * products, each ending in `wait()`, sized together to last about `minSeconds`. The fastest batch
 * counts: on a shared machine the slow ones measure the neighbours.
 */
const BATCHES = 3;
async function time(flop: number, product: () => void, wait: () => Promise<void>, settings: Settings): Promise<Timing> {
  let single = Infinity;
  for (let i = 0; i < 2; i++) {
    const start = now();
    product();
    await wait();
    single = Math.min(single, (now() - start) / 1000);
  }
  const perBatch = Math.max(Math.ceil(settings.minIterations / BATCHES), Math.ceil(settings.minSeconds / BATCHES / Math.max(single, 1e-4)));
  let bestMs = Infinity;
  let bestCpuMs = Infinity;
  for (let batch = 0; batch < BATCHES; batch++) {
    const cpuStart = cpuMs();
    const start = now();
    for (let i = 0; i < perBatch; i++) product();
    await wait();
    bestMs = Math.min(bestMs, now() - start);
    bestCpuMs = Math.min(bestCpuMs, cpuMs() - cpuStart);
  }
  return {
    gflops: (flop * perBatch) / (bestMs / 1000) / 1e9,
    gflopsPerCpuSecond: (flop * perBatch) / (bestCpuMs / 1000) / 1e9,
    msPerProduct: bestMs / perBatch,
    iterations: perBatch * BATCHES,
  };
}

type Tf = typeof import('@tensorflow/tfjs-core');

/** tfjs-core with the WebGPU backend on the same `GPU` object as our engine. */
async function loadTfjs(): Promise<{ tf: Tf; version: string; adapter: string }> {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  // tfjs-backend-webgpu registers itself at import time only if navigator.gpu exists; Node 20 has no
  // navigator, and Node 21+ has one without `gpu`.
  if (!g.navigator?.gpu) {
    const gpu = nodeGpu();
    if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
  await tf.ready();
  const info = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
  // The backend exports no version; its package.json has it.
  const backendVersion = (createRequire(import.meta.url)('@tensorflow/tfjs-backend-webgpu/package.json') as { version: string }).version;
  const version = `tfjs-core ${tf.version_core}, tfjs-backend-webgpu ${backendVersion}`;
  return { tf, version, adapter: [info?.vendor, info?.architecture].filter(Boolean).join(' / ') || 'unknown' };
}

/** Measures every shape with ours, naive and tfjs; returns JSON-ready figures. */
export async function benchMatmul(engine: Engine, options: BenchMatmulOptions = {}): Promise<object> {
  const settings: Settings = { minSeconds: options.minSeconds ?? 1, minIterations: options.minIterations ?? 3 };
  let tfjs: Awaited<ReturnType<typeof loadTfjs>> | null = null;
  let tfjsError: string | undefined;
  if (!options.skipTfjs) {
    try {
      tfjs = await loadTfjs();
    } catch (e) {
      tfjsError = e instanceof Error ? e.message : String(e);
    }
  }

  const software = engine.adapter.software;
  const rng = new Rng(1);
  const results = [];
  for (const shape of SHAPES) {
    const { M, N, K, transB } = shape;
    const flop = 2 * M * N * K;
    const mmOptions: MatmulOptions = { transB };
    const a = rng.normals(M * K);
    const b = rng.normals(K * N);
    const ta = engine.upload(a, [M, K], 'a');
    const tb = engine.upload(b, transB ? [N, K] : [K, N], 'b');
    const tc = engine.tensor([M, N], 'c');
    const wait = () => engine.sync();
    const ours = await time(flop, () => matmul(engine, tc, ta, tb, mmOptions), wait, settings);
    const naive = await time(flop, () => matmulNaive(engine, tc, ta, tb, mmOptions), wait, settings);
    engine.release(ta, tb, tc);

    let tf: Timing | null = null;
    if (tfjs) {
      const t = tfjs.tf;
      const xa = t.tensor2d(a, [M, K]);
      const xb = t.tensor2d(b, transB ? [N, K] : [K, N]);
      const pending: import('@tensorflow/tfjs-core').Tensor[] = [];
      tf = await time(
        flop,
        () => pending.push(t.matMul(xa, xb, false, transB)),
        async () => {
          await pending[pending.length - 1].data();
          for (const r of pending.splice(0)) r.dispose();
        },
        settings,
      );
      xa.dispose();
      xb.dispose();
    }
    const round = (x: number, digits = 3) => Number(x.toPrecision(digits));
    results.push({
      shape: shape.name,
      M,
      N,
      K,
      transB,
      gflops: { ours: round(ours.gflops), naive: round(naive.gflops), tfjs: tf ? round(tf.gflops) : null },
      ...(software && {
        gflopsPerCpuSecond: {
          ours: round(ours.gflopsPerCpuSecond),
          naive: round(naive.gflopsPerCpuSecond),
          tfjs: tf ? round(tf.gflopsPerCpuSecond) : null,
        },
      }),
      msPerProduct: { ours: round(ours.msPerProduct), naive: round(naive.msPerProduct), tfjs: tf ? round(tf.msPerProduct) : null },
      ratio: { oursOverTfjs: tf ? round(ours.gflops / tf.gflops) : null, oursOverNaive: round(ours.gflops / naive.gflops) },
    });
  }
  const ratios = results.map((r) => r.ratio.oursOverTfjs).filter((x): x is number => x !== null);
  return {
    benchmark: 'matmul',
    adapter: engine.adapterName,
    tfjs: tfjs ? { version: tfjs.version, adapter: tfjs.adapter } : { error: tfjsError ?? 'skipped' },
    results,
    minOursOverTfjs: ratios.length ? Math.min(...ratios) : null,
    minOursOverNaive: Math.min(...results.map((r) => r.ratio.oursOverNaive)),
  };
}
