// Attention benchmark: tokens/s of our online-softmax `attention.forward` against the
// straightforward `attention.naive`, causal, at T = 128 .. 4096 on one model-like head shape, on
// the same WebGPU adapter in the same process; plus the bytes a T = 4096 pass allocates, to show
// that memory grows linearly in T (no T x T score buffer).
//
// Timing: one warm-up call of each kernel (the pipeline compiles there), then per T and kernel
// calls each followed by `engine.sync()`, repeated until `minSeconds` have passed (at least once);
// the fastest call counts, since on a shared machine the slow ones measure the neighbours.
// Tokens/s counts query tokens: B*T per call.
//
// Usage: `await benchAttention(engine)` from `npm run bench`, or directly:
//   node --import tsx --import ./src/cli/register-raw.mjs --input-type=module -e "
//     import { Engine } from './src/engine/engine.ts'; import { nodeGpu } from './src/engine/node-gpu.ts';
//     import { benchAttention } from './src/cli/bench/attention.ts';
//     const e = await Engine.create(nodeGpu()); console.log(JSON.stringify(await benchAttention(e), null, 2));
//     e.destroy(); process.exit(0);"

import type { Engine } from '../../engine/engine.ts';
import { attentionForward, attentionNaive, forwardTiles, type AttentionShape } from '../../engine/ops/attention.ts';
import { Rng } from '../../engine/random.ts';
import type { Tensor } from '../../engine/tensor.ts';

export interface BenchAttentionOptions {
  /** Sequence lengths to time. */
  lengths?: number[];
  /** Seconds each (T, kernel) measurement may repeat calls for; a slower call runs once. */
  minSeconds?: number;
  /** Head shape: query heads, key/value heads, head dim. */
  heads?: { H: number; KVH: number; D: number };
}

// A model-like head shape: 4 query heads sharing 2 key/value heads (GQA), head dim 32.
const HEADS = { H: 4, KVH: 2, D: 32 };
const LENGTHS = [128, 256, 512, 1024, 2048, 4096];
const B = 1;

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

interface Timing {
  /** Wall-clock ms of the fastest call. */
  ms: number;
  /** This process's CPU ms for that call: on a software adapter the GPU work runs on this process's
   * threads, so this figure barely moves when other processes share the cores. */
  cpuMs: number;
  calls: number;
}

async function time(call: () => void, engine: Engine, minSeconds: number): Promise<Timing> {
  let best: Timing = { ms: Infinity, cpuMs: Infinity, calls: 0 };
  const start = performance.now();
  do {
    const cpuStart = cpuMs();
    const callStart = performance.now();
    call();
    await engine.sync();
    const ms = performance.now() - callStart;
    const cpu = cpuMs() - cpuStart;
    best = { ms: Math.min(best.ms, ms), cpuMs: Math.min(best.cpuMs, cpu), calls: best.calls + 1 };
  } while (performance.now() - start < minSeconds * 1000);
  return best;
}

interface Buffers {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  out: Tensor;
  lse: Tensor;
  naiveOut: Tensor;
  /** engine.bytesAllocated grew by this much for the pass's tensors. */
  bytes: number;
}

function allocate(engine: Engine, shape: AttentionShape, rng: Rng): Buffers {
  const { T, H, KVH, D } = shape;
  const before = engine.bytesAllocated;
  const q = engine.upload(rng.normals(B * T * H * D), [B * T, H * D], 'bench.q');
  const k = engine.upload(rng.normals(B * T * KVH * D), [B * T, KVH * D], 'bench.k');
  const v = engine.upload(rng.normals(B * T * KVH * D), [B * T, KVH * D], 'bench.v');
  const out = engine.tensor([B * T, H * D], 'bench.out');
  const lse = engine.tensor([B, H, T], 'bench.lse');
  const bytes = engine.bytesAllocated - before;
  const naiveOut = engine.tensor([B * T, H * D], 'bench.naive_out');
  return { q, k, v, out, lse, naiveOut, bytes };
}

export async function benchAttention(engine: Engine, options: BenchAttentionOptions = {}): Promise<object> {
  const { lengths = LENGTHS, minSeconds = 1, heads = HEADS } = options;
  const { H, KVH, D } = heads;
  const rng = new Rng(11);
  const round = (x: number, digits = 3) => Number(x.toPrecision(digits));

  // Warm-up: compile both pipelines on the shortest length.
  {
    const shape = { B, T: lengths[0], H, KVH, D };
    const t = allocate(engine, shape, rng);
    attentionForward(engine, t.out, t.lse, t.q, t.k, t.v, shape);
    attentionNaive(engine, t.naiveOut, t.q, t.k, t.v, shape);
    await engine.sync();
    engine.release(t.q, t.k, t.v, t.out, t.lse, t.naiveOut);
  }

  const results = [];
  for (const T of lengths) {
    const shape = { B, T, H, KVH, D };
    const t = allocate(engine, shape, rng);
    const forward = await time(() => attentionForward(engine, t.out, t.lse, t.q, t.k, t.v, shape), engine, minSeconds);
    const naive = await time(() => attentionNaive(engine, t.naiveOut, t.q, t.k, t.v, shape), engine, minSeconds);
    // The two kernels must agree, or the speed means nothing.
    const [a, b] = [await engine.read(t.out), await engine.read(t.naiveOut)];
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    engine.release(t.q, t.k, t.v, t.out, t.lse, t.naiveOut);

    const tokens = B * T;
    results.push({
      T,
      tokensPerSecond: { forward: Math.round(tokens / (forward.ms / 1000)), naive: Math.round(tokens / (naive.ms / 1000)) },
      ...(engine.adapter.software && {
        tokensPerCpuSecond: { forward: Math.round(tokens / (forward.cpuMs / 1000)), naive: Math.round(tokens / (naive.cpuMs / 1000)) },
      }),
      msPerPass: { forward: round(forward.ms), naive: round(naive.ms) },
      calls: { forward: forward.calls, naive: naive.calls },
      forwardOverNaive: round(naive.ms / forward.ms),
      ...(engine.adapter.software && { forwardOverNaiveCpu: round(naive.cpuMs / forward.cpuMs) }),
      bytesAllocated: t.bytes,
      maxAbsDiffForwardVsNaive: Number(maxDiff.toExponential(2)),
    });
  }

  const longest = results[results.length - 1];
  const Tmax = longest.T;
  return {
    benchmark: 'attention',
    adapter: engine.adapterName,
    shape: `causal GQA, B=${B}, H=${H} query heads, KVH=${KVH} kv heads, head dim D=${D}`,
    forwardTiles: forwardTiles(D),
    results,
    memory: {
      T: Tmax,
      // q, k, v, out and lse: all linear in T (bytesAllocated / T is the same at every length).
      bytesAllocated: longest.bytesAllocated,
      bytesPerToken: round(longest.bytesAllocated / Tmax),
      // What one f32 T x T score matrix per head would add, for comparison.
      scoreMatrixWouldNeed: B * H * Tmax * Tmax * 4,
    },
    forwardOverNaiveAt1024: results.find((r) => r.T === 1024)?.forwardOverNaive ?? null,
  };
}
