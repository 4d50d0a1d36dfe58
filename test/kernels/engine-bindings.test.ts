// Engine.run refuses a call that binds an output twice (as an input or as another output), for
// every kernel, naming the tensors, before anything is recorded: the engine goes on working.

import { describe, expect, it } from 'vitest';
import { EngineError } from '../../src/engine/engine.ts';
import { swigluBackward } from '../../src/engine/ops/swiglu.ts';
import type { Tensor } from '../../src/engine/tensor.ts';
import { u32 } from '../../src/engine/uniforms.ts';
import { testEngine } from '../helpers/gpu.ts';

describe('Engine.run bindings', () => {
  it('rejects an output that is also an input or another output, and records nothing', async () => {
    const engine = await testEngine();
    const x = engine.upload(new Float32Array([1, 2, 3]), [3], 'x');
    const y = engine.upload(new Float32Array([10, 20, 30]), [3], 'y');
    const call = {
      shader: 'residual',
      entryPoint: 'add_in_place',
      constants: { WG: 64 },
      uniforms: { n: u32(3) },
      workgroups: [1],
    } as const;
    expect(() => engine.run({ ...call, outputs: [x], inputs: [x] })).toThrow(EngineError);
    expect(() => engine.run({ ...call, outputs: [x], inputs: [x] })).toThrow(
      /residual\.add_in_place: the output x must not alias the input x$/,
    );
    const view: Tensor = { ...x, label: 'x view' }; // another tensor over the same buffer
    expect(() => engine.run({ ...call, outputs: [x], inputs: [view] })).toThrow(/the output x must not alias the input x view$/);
    const [g, u, d] = ['gate', 'up', 'dout'].map((name) => engine.upload(new Float32Array([1, 2, 3]), [3], name));
    const dgate = engine.tensor([3], 'dgate');
    expect(() => swigluBackward(engine, dgate, dgate, d, g, u)).toThrow(
      /swiglu\.backward: the output dgate must not alias the output dgate$/,
    );
    expect(() => swigluBackward(engine, dgate, g, d, g, u)).toThrow(/the output gate must not alias the input gate$/);
    // Nothing of the refused calls ran: x is unchanged, and a valid call still works.
    engine.run({ ...call, outputs: [x], inputs: [y] });
    expect(Array.from(await engine.read(x))).toEqual([11, 22, 33]);
  });
});
