import { describe, expect, it } from 'vitest';
import { swigluBackward, swigluForward } from '../../src/engine/ops/swiglu.ts';
import { Rng } from '../../src/engine/random.ts';
import { expectClose } from '../helpers/compare.ts';
import { finiteDifferences } from '../helpers/finite-differences.ts';
import { testEngine } from '../helpers/gpu.ts';
import { swigluReference } from '../reference/swiglu.ts';

const WG = 64; // the kernel's workgroup size (src/engine/ops/swiglu.ts)

describe('swiglu.forward', () => {
  const rng = new Rng(99);
  // A single element, widths that are not multiples of the workgroup size, and random shapes.
  const cases = [
    { R: 1, I: 1 },
    { R: 3, I: 17 },
    { R: 1, I: 65 },
    { R: 50, I: 130 },
    ...Array.from({ length: 4 }, () => ({ R: rng.int(1, 80), I: rng.int(1, 300) })),
  ];

  async function run(gate: Float32Array, up: Float32Array, shape: number[]): Promise<Float32Array> {
    const engine = await testEngine();
    const tg = engine.upload(gate, shape, 'gate');
    const tu = engine.upload(up, shape, 'up');
    const to = engine.tensor(shape, 'out');
    swigluForward(engine, to, tg, tu);
    const out = await engine.read(to);
    engine.release(tg, tu, to);
    return out;
  }

  // exp and the division carry a few ulp each (WGSL allows exp 3 + 2|x| ulp, ~1e-6 relative for
  // |x| < 10), so 1e-5 of the output's scale leaves a 10x margin while a wrong formula (e.g. a
  // missing factor or sigmoid instead of silu) is off by far more.
  for (const { R, I } of cases) {
    it(`R=${R} I=${I}`, async () => {
      const gate = rng.normals(R * I, 3);
      const up = rng.normals(R * I);
      expectClose(await run(gate, up, [R, I]), swigluReference(gate, up), { tolerance: 1e-5, what: `out [${R}, ${I}]` });
    });
  }

  it('folds a dispatch of more than maxComputeWorkgroupsPerDimension workgroups', async () => {
    const engine = await testEngine();
    const n = engine.limits.maxComputeWorkgroupsPerDimension * WG + 777;
    const gate = rng.normals(n, 3);
    const up = rng.normals(n);
    expectClose(await run(gate, up, [n]), swigluReference(gate, up), { tolerance: 1e-5, what: `out [${n}]` });
  });

  it('stays finite and accurate for large |gate| (no exp overflow)', async () => {
    const specials = [100, -100, 1000, -1000, 88, -88, 89, -89, 20, -20, 10, -10, 1, -1, 0, 1e-30, -1e-30, 3e38, -3e38];
    const gate = Float32Array.from([...specials, ...specials]);
    const up = Float32Array.from([...specials.map(() => 1), ...specials.map(() => -0.5)]);
    const got = await run(gate, up, [2, specials.length]);
    const want = swigluReference(gate, up);
    for (let i = 0; i < gate.length; i++) {
      expect(Number.isFinite(got[i]), `silu(${gate[i]}) * ${up[i]} = ${got[i]}`).toBe(true);
      // Each element against its own magnitude: the tails (silu(-100) ~ -4e-42) are below f32's
      // normal range and may flush to zero, which the 1e-6 absolute floor accepts.
      expectClose([got[i]], [want[i]], { tolerance: 1e-5, what: `silu(${gate[i]}) * ${up[i]}` });
    }
  });

  it('rejects mismatched shapes and aliasing', async () => {
    const engine = await testEngine();
    const g = engine.tensor([4, 8], 'gate');
    const u = engine.tensor([4, 8], 'up');
    expect(() => swigluForward(engine, engine.tensor([4, 7], 'out'), g, u)).toThrow(/shapes differ/);
    expect(() => swigluForward(engine, g, g, u)).toThrow(/alias/);
  });
});

/**
 * CPU reference of the backward in float64, by the product rule on silu(g) * up with
 * silu'(g) = s + g * s * (1 - s), s = 1 / (1 + exp(-g)) (exp overflows to Infinity in float64 for
 * g < -709, which gives s = 0 and silu' = 0 as the limit requires).
 */
function swigluBackwardReference(dout: Float32Array, gate: Float32Array, up: Float32Array) {
  const dgate = new Float64Array(gate.length);
  const dup = new Float64Array(gate.length);
  gate.forEach((g, i) => {
    const s = 1 / (1 + Math.exp(-g));
    dgate[i] = dout[i] * up[i] * (s + g * s * (1 - s));
    dup[i] = dout[i] * g * s;
  });
  return { dgate, dup };
}

describe('swiglu.backward', () => {
  const rng = new Rng(199);

  async function runBackward(dout: Float32Array, gate: Float32Array, up: Float32Array, shape: number[]) {
    const engine = await testEngine();
    const td = engine.upload(dout, shape, 'dout');
    const tg = engine.upload(gate, shape, 'gate');
    const tu = engine.upload(up, shape, 'up');
    const tdg = engine.tensor(shape, 'dgate');
    const tdu = engine.tensor(shape, 'dup');
    swigluBackward(engine, tdg, tdu, td, tg, tu);
    const out = { dgate: await engine.read(tdg), dup: await engine.read(tdu) };
    engine.release(td, tg, tu, tdg, tdu);
    return out;
  }

  const cases = [
    { R: 1, I: 1 },
    { R: 3, I: 17 },
    { R: 1, I: 65 },
    { R: 50, I: 130 },
    ...Array.from({ length: 3 }, () => ({ R: rng.int(1, 80), I: rng.int(1, 300) })),
  ];
  // As for forward: a few ulp from exp and the divisions in sigmoid, ~1e-6 relative for |g| < 10;
  // 1e-5 of the scale leaves a margin, while a wrong derivative (e.g. s*(1-s) alone) is off by O(1).
  for (const { R, I } of cases) {
    it(`R=${R} I=${I}`, async () => {
      const gate = rng.normals(R * I, 3);
      const up = rng.normals(R * I);
      const dout = rng.normals(R * I);
      const want = swigluBackwardReference(dout, gate, up);
      const got = await runBackward(dout, gate, up, [R, I]);
      expectClose(got.dgate, want.dgate, { tolerance: 1e-5, what: `dgate [${R}, ${I}]` });
      expectClose(got.dup, want.dup, { tolerance: 1e-5, what: `dup [${R}, ${I}]` });
    });
  }

  it('stays finite and accurate for large |gate| (no exp overflow)', async () => {
    const specials = [100, -100, 1000, -1000, 88, -88, 89, -89, 20, -20, 17, -17, 10, -10, 1, -1, 0, 1e-30, -1e-30, 3e38, -3e38];
    const gate = Float32Array.from([...specials, ...specials]);
    const up = Float32Array.from([...specials.map(() => 1), ...specials.map(() => -0.5)]);
    const dout = Float32Array.from([...specials.map(() => -0.75), ...specials.map(() => 1)]);
    const got = await runBackward(dout, gate, up, [2, specials.length]);
    const want = swigluBackwardReference(dout, gate, up);
    for (let i = 0; i < gate.length; i++) {
      const what = `gate ${gate[i]}, up ${up[i]}, dout ${dout[i]}`;
      expect(Number.isFinite(got.dgate[i]), `dgate at ${what} = ${got.dgate[i]}`).toBe(true);
      expect(Number.isFinite(got.dup[i]), `dup at ${what} = ${got.dup[i]}`).toBe(true);
      // Each element against its own magnitude; tails like silu'(-100) ~ -4e-42 are subnormal and
      // may flush to zero, which the 1e-6 absolute floor accepts.
      expectClose([got.dgate[i]], [want.dgate[i]], { tolerance: 1e-5, what: `dgate at ${what}` });
      expectClose([got.dup[i]], [want.dup[i]], { tolerance: 1e-5, what: `dup at ${what}` });
    }
  });

  it('matches finite differences of the float64 forward', async () => {
    const [R, I] = [3, 7];
    const gate = rng.normals(R * I, 3);
    const up = rng.normals(R * I);
    const w = rng.normals(R * I); // dL/dout for L = sum(out * w)
    const got = await runBackward(w, gate, up, [R, I]);
    const g64 = Float64Array.from(gate);
    const u64 = Float64Array.from(up);
    const loss = (g: Float64Array, u: Float64Array) => swigluReference(g, u).reduce((l, out, i) => l + out * w[i], 0);
    // h = 1e-4 in float64: truncation O(h^2) ~ 1e-8 and rounding ~ 1e-16 / h, far below the f32
    // gradient's ~1e-6 relative error; 1e-4 of the scale is a safe bound that a wrong formula misses.
    expectClose(
      got.dgate,
      finiteDifferences((v) => loss(v, u64), g64, 1e-4),
      { tolerance: 1e-4, what: 'dgate vs finite differences' },
    );
    expectClose(
      got.dup,
      finiteDifferences((v) => loss(g64, v), u64, 1e-4),
      { tolerance: 1e-4, what: 'dup vs finite differences' },
    );
  });

  it('rejects mismatched shapes and aliasing', async () => {
    const engine = await testEngine();
    const t = () => engine.tensor([4, 8], 'x');
    const [dout, g, u] = [t(), t(), t()];
    expect(() => swigluBackward(engine, engine.tensor([4, 7], 'dgate'), t(), dout, g, u)).toThrow(/shapes differ/);
    expect(() => swigluBackward(engine, g, t(), dout, g, u)).toThrow(/alias/);
    const d = t();
    expect(() => swigluBackward(engine, d, d, dout, g, u)).toThrow(/must not alias the output/);
  });
});
