import { describe, expect, it } from 'vitest';
import { adamwStep, clipScale, globalGradNorm, sumOfSquares, type AdamWHyperparameters } from '../../src/engine/ops/adamw.ts';
import { Rng } from '../../src/engine/random.ts';
import { expectClose, maxAbs } from '../helpers/compare.ts';
import { testEngine } from '../helpers/gpu.ts';

interface State {
  param: Float64Array;
  m: Float64Array;
  v: Float64Array;
}

/**
 * CPU reference in float64 of torch.optim.AdamW's _single_tensor_adamw (amsgrad=False), with the
 * gradient first multiplied by gradScale as clip_grad_norm_ does:
 *   param.mul_(1 - lr * weight_decay)
 *   exp_avg.lerp_(grad, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
 *   step_size = lr / (1 - beta1 ** step)
 *   denom = (exp_avg_sq.sqrt() / sqrt(1 - beta2 ** step)).add_(eps)
 *   param.addcdiv_(exp_avg, denom, value=-step_size)
 */
function adamwReference(state: State, grad: Float32Array, hp: AdamWHyperparameters): void {
  const { lr, beta1, beta2, eps, weightDecay, step, gradScale } = hp;
  const stepSize = lr / (1 - beta1 ** step);
  const sqrtBias2 = Math.sqrt(1 - beta2 ** step);
  for (let i = 0; i < grad.length; i++) {
    const g = grad[i] * gradScale;
    state.param[i] *= 1 - lr * weightDecay;
    state.m[i] += (1 - beta1) * (g - state.m[i]);
    state.v[i] = beta2 * state.v[i] + (1 - beta2) * g * g;
    state.param[i] -= (stepSize * state.m[i]) / (Math.sqrt(state.v[i]) / sqrtBias2 + eps);
  }
}

/** Gradients of mixed sizes: mostly normal, some exact zeros, some near eps (where eps's placement shows). */
function randomGrad(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => {
    const u = rng.next();
    if (u < 0.1) return 0;
    if (u < 0.3) return rng.normal() * 1e-8;
    if (u < 0.4) return rng.normal() * 100;
    return rng.normal();
  });
}

describe('adamw.step', () => {
  const rng = new Rng(3141);
  const steps = 5;

  const cases: { n: number; weightDecay: number; gradScale: number; beta1: number; beta2: number; eps: number }[] = [
    { n: 1, weightDecay: 0, gradScale: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    { n: 1000, weightDecay: 0, gradScale: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    { n: 777, weightDecay: 0.1, gradScale: 1, beta1: 0.9, beta2: 0.95, eps: 1e-8 },
    { n: 257, weightDecay: 0.1, gradScale: 0.37, beta1: 0.8, beta2: 0.99, eps: 1e-6 },
    { n: 3000, weightDecay: 0, gradScale: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
  ];

  for (const { n, weightDecay, gradScale, beta1, beta2, eps } of cases) {
    it(`n=${n} weightDecay=${weightDecay} gradScale=${gradScale} betas=(${beta1}, ${beta2}) eps=${eps}, ${steps} steps`, async () => {
      const engine = await testEngine();
      const lr = 1e-2;
      const param0 = rng.normals(n, 2);
      const ref: State = { param: Float64Array.from(param0), m: new Float64Array(n), v: new Float64Array(n) };
      const tp = engine.upload(param0, [n], 'param');
      const tm = engine.tensor([n], 'm');
      const tv = engine.tensor([n], 'v');
      const tg = engine.tensor([n], 'grad');
      for (let step = 1; step <= steps; step++) {
        const grad = randomGrad(rng, n);
        const hp = { lr, beta1, beta2, eps, weightDecay, step, gradScale };
        engine.write(tg, grad);
        adamwStep(engine, tp, tg, tm, tv, hp);
        adamwReference(ref, grad, hp);
      }
      const [param, m, v] = [await engine.read(tp), await engine.read(tm), await engine.read(tv)];
      const what = `after ${steps} steps, n=${n}`;
      // param ~ 2-8 in size: each step rounds it to f32 (half an ulp, ~1e-7 relative) and adds an
      // update with a few ulp of relative error: ~1e-6 of the scale after 5 steps.
      expectClose(param, ref.param, { tolerance: 2e-6, what: `param ${what}` });
      // The change itself, ~steps * lr = 0.05 in size, is where a wrong formula shows: a missing
      // bias correction or eps inside the sqrt moves it by O(1) relative (eps by ~lr for the 1e-8
      // gradients). Its error is the param's rounding above, ~1e-6 absolute: 1e-4 of the scale.
      const delta = param.map((p, i) => p - param0[i]);
      const refDelta = ref.param.map((p, i) => p - param0[i]);
      expectClose(delta, refDelta, { tolerance: 1e-4, what: `param - param0 ${what}` });
      // The moments are a few f32 multiply-adds per step: ~1e-7 relative each.
      expectClose(m, ref.m, { tolerance: 1e-5, what: `m ${what}` });
      expectClose(v, ref.v, { tolerance: 1e-5, what: `v ${what}` });
      engine.release(tp, tm, tv, tg);
    });
  }

  it('with weightDecay 0 leaves a param whose gradient is always 0 unchanged (bit for bit)', async () => {
    const engine = await testEngine();
    const n = 300;
    const param0 = rng.normals(n);
    const tp = engine.upload(param0, [n], 'param');
    const [tm, tv, tg] = [engine.tensor([n], 'm'), engine.tensor([n], 'v'), engine.tensor([n], 'grad')];
    for (let step = 1; step <= 3; step++) {
      adamwStep(engine, tp, tg, tm, tv, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step, gradScale: 1 });
    }
    expect(Array.from(await engine.read(tp))).toEqual(Array.from(param0));
    engine.release(tp, tm, tv, tg);
  });

  it('rejects bad hyperparameters and mismatched or aliased tensors', async () => {
    const engine = await testEngine();
    const t = (n = 8) => engine.tensor([n], 't');
    const hp: AdamWHyperparameters = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1, gradScale: 1 };
    const [p, g, m, v] = [t(), t(), t(), t()];
    expect(() => adamwStep(engine, p, t(7), m, v, hp)).toThrow(/does not match/);
    expect(() => adamwStep(engine, p, g, m, m, hp)).toThrow(/different buffers/);
    expect(() => adamwStep(engine, p, g, m, v, { ...hp, step: 0 })).toThrow(/step/);
    expect(() => adamwStep(engine, p, g, m, v, { ...hp, step: 1.5 })).toThrow(/step/);
    expect(() => adamwStep(engine, p, g, m, v, { ...hp, beta2: 1 })).toThrow(/betas/);
    expect(() => adamwStep(engine, p, g, m, v, { ...hp, gradScale: NaN })).toThrow(/gradScale/);
  });
});

describe('adamw.sum_squares', () => {
  const rng = new Rng(2718);

  const sumSquares64 = (x: Float32Array) => x.reduce((s, xi) => s + xi * xi, 0);

  // n = 1, around the workgroup size (256), around one workgroup's share (256 * 8 = 2048), many
  // partials, and past the 256-partial cap (256 * 2048 = 524288), where invocations take more.
  const sizes = [1, 255, 256, 257, 2048, 2049, 70001, 600000];
  // Each invocation sums >= 8 squares in order, then two trees of depth 8: the f32 result carries
  // ~(8 + n / 65536 + 16) ulp of relative error at worst, ~1e-6 for these n. 1e-5 leaves a margin;
  // a dropped element or workgroup changes the sum by >= 1 / n of it, detectable for the small n,
  // and by whole partials (>= 1e-3) for the large ones.
  it(`matches a float64 sum for n in ${sizes.join(', ')}`, async () => {
    const engine = await testEngine();
    const squares = engine.tensor([sizes.length], 'squares');
    const xs = sizes.map((n) => rng.normals(n, 3));
    const tensors = xs.map((x, i) => engine.upload(x, [x.length], `x${i}`));
    tensors.forEach((t, slot) => sumOfSquares(engine, squares, t, slot));
    const got = await engine.read(squares);
    xs.forEach((x, i) => expectClose([got[i]], [sumSquares64(x)], { tolerance: 1e-5, what: `sum of squares of ${x.length} values` }));
    engine.release(squares, ...tensors);
  });

  it('accumulates several tensors into one slot, leaves other slots alone, and is bit-reproducible', async () => {
    const engine = await testEngine();
    const xs = [5, 3000, 1, 40000].map((n) => rng.normals(n));
    const tensors = xs.map((x, i) => engine.upload(x, [x.length], `g${i}`));
    const start = Float32Array.from([7, -1, 9]);
    const run = async () => {
      const squares = engine.upload(start, [3], 'squares');
      sumOfSquares(engine, squares, tensors[0], 1);
      for (const t of tensors.slice(1)) sumOfSquares(engine, squares, t, 1, { accumulate: true });
      const got = await engine.read(squares);
      engine.release(squares);
      return got;
    };
    const a = await run();
    expect(a[0]).toBe(7);
    expect(a[2]).toBe(9);
    const want = xs.reduce((s, x) => s + sumSquares64(x), 0);
    expectClose([a[1]], [want], { tolerance: 1e-5, what: 'accumulated sum of squares' });
    const b = await run();
    expect(Array.from(b)).toEqual(Array.from(a));
    engine.release(...tensors);
  });

  it('makes the slot non-finite for a NaN or Inf gradient', async () => {
    const engine = await testEngine();
    const squares = engine.tensor([3], 'squares');
    const withNaN = rng.normals(1000);
    withNaN[517] = NaN;
    const withInf = rng.normals(1000);
    withInf[3] = -Infinity;
    const big = rng.normals(1000);
    big[999] = 1e30; // its square overflows f32
    const tensors = [withNaN, withInf, big].map((x, i) => engine.upload(x, [x.length], `bad${i}`));
    tensors.forEach((t, slot) => sumOfSquares(engine, squares, t, slot));
    const got = await engine.read(squares);
    for (let i = 0; i < 3; i++) expect(Number.isFinite(got[i]), `slot ${i} = ${got[i]}`).toBe(false);
    expect(Number.isFinite(globalGradNorm(got))).toBe(false);
    expect(clipScale(globalGradNorm(got), 1)).toBeNaN();
    engine.release(squares, ...tensors);
  });

  it('rejects a slot outside the buffer', async () => {
    const engine = await testEngine();
    const squares = engine.tensor([2], 'squares');
    expect(() => sumOfSquares(engine, squares, engine.tensor([4], 'x'), 2)).toThrow(/slot/);
    expect(() => sumOfSquares(engine, squares, squares, 0)).toThrow(/alias/);
  });
});

describe('gradient clipping helpers', () => {
  it('globalGradNorm and clipScale follow clip_grad_norm_', () => {
    expect(globalGradNorm([9, 16])).toBe(5);
    // clip_coef = max_norm / (total_norm + 1e-6), clamped to at most 1.
    expect(clipScale(5, 1)).toBe(1 / (5 + 1e-6));
    expect(clipScale(0.5, 1)).toBe(1);
    expect(clipScale(0, 1)).toBe(1);
    expect(clipScale(Infinity, 1)).toBeNaN();
    expect(maxAbs([clipScale(1, 1) - 1 / (1 + 1e-6)])).toBe(0);
  });
});
