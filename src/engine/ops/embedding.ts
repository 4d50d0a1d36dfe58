// Token embedding lookup (shaders/embedding.wgsl): out[r, :] = table[ids[r], :].
// The table may be f16 (half-precision pairs along C, unpacked in the kernel); out is an f32 or
// f16 activation.
//
// Glossary: R rows (B*T tokens), C channels, V vocabulary size.

import type { Engine } from '../engine.ts';
import { activationPrecision, ceilDiv } from '../kernel.ts';
import { numel, shapeString, type Tensor } from '../tensor.ts';
import { u32 } from '../uniforms.ts';

const WG = 64;

/** Splits a [..., C] shape into rows (the flattened leading dims) and C. */
function rowsAndWidth(shape: readonly number[]): { rows: number; C: number } {
  const C = shape[shape.length - 1];
  return { rows: numel(shape) / C, C };
}

/**
 * out[R, C] = table[ids[r], :] for each of the R ids (u32 [R]; leading dims of out and ids are
 * flattened). The table [V, C] is f32 or f16 (C even); out is f32 or f16. The model must check ids
 * < V before upload; an id >= V yields a zero row, never an out-of-bounds read.
 */
export function embeddingForward(engine: Engine, out: Tensor, ids: Tensor, table: Tensor): void {
  if (table.shape.length !== 2) throw new Error(`embedding: table ${shapeString(table.shape)} must be [V, C]`);
  const [V, C] = table.shape;
  const { rows, C: outC } = rowsAndWidth(out.shape);
  if (outC !== C) throw new Error(`embedding: out ${shapeString(out.shape)} does not match table ${shapeString(table.shape)}`);
  if (numel(ids.shape) !== rows) {
    throw new Error(`embedding: ids ${shapeString(ids.shape)} do not match ${rows} rows of out ${shapeString(out.shape)}`);
  }
  if (ids.dtype !== 'u32') throw new Error(`embedding: ids must be u32, got ${ids.dtype}`);
  if (table.dtype !== 'f32' && table.dtype !== 'f16') throw new Error(`embedding: table must be f32 or f16, got ${table.dtype}`);
  if (table.dtype === 'f16' && C % 2 !== 0) {
    throw new Error(`embedding: the f16 table ${shapeString(table.shape)} packs pairs along C = ${C}, which must be even`);
  }
  const n = rows * C;
  engine.run({
    shader: 'embedding',
    entryPoint: 'forward',
    precision: activationPrecision('embedding', [out]),
    constants: { WG, TABLE_F16: table.dtype === 'f16' ? 1 : 0 },
    outputs: [out],
    inputs: [ids, table],
    uniforms: { n: u32(n), C: u32(C), V: u32(V) },
    workgroups: [ceilDiv(n, WG)],
  });
}

/**
 * The gradient of embeddingForward: dtable[V, C] = scatter-sum of dout[R, C] by ids[R] (rows with
 * the same id add up), overwriting dtable, or adding to it with `accumulate: true` (so the tied LM
 * head's gradient, computed by matmul into the same buffer, and the embedding's share sum).
 * Deterministic, no atomics: each id's rows are summed in row order by one invocation per channel.
 * Ids >= V add nothing. Leading dims of dout and ids are flattened.
 */
export function embeddingBackward(engine: Engine, dtable: Tensor, dout: Tensor, ids: Tensor, options: { accumulate?: boolean } = {}): void {
  if (dtable.shape.length !== 2) throw new Error(`embedding: dtable ${shapeString(dtable.shape)} must be [V, C]`);
  const [V, C] = dtable.shape;
  const { rows, C: outC } = rowsAndWidth(dout.shape);
  if (outC !== C) throw new Error(`embedding: dout ${shapeString(dout.shape)} does not match dtable ${shapeString(dtable.shape)}`);
  if (numel(ids.shape) !== rows) {
    throw new Error(`embedding: ids ${shapeString(ids.shape)} do not match ${rows} rows of dout ${shapeString(dout.shape)}`);
  }
  if (ids.dtype !== 'u32') throw new Error(`embedding: ids must be u32, got ${ids.dtype}`);
  if (dtable.dtype !== 'f32' || dout.dtype !== 'f32') throw new Error('embedding: dtable and dout must be f32');
  // Checked before backward_zero clears dtable: Engine.run would refuse only the later call.
  if (dtable.buffer === dout.buffer) throw new Error('embedding: dtable must not alias dout');
  // The links keep bit 31 for a flag (see backward_links).
  if (rows >= 2 ** 31) throw new Error(`embedding: ${rows} rows are too many for one backward call`);
  if (!options.accumulate) {
    const n = V * C;
    engine.run({
      shader: 'embedding',
      entryPoint: 'backward_zero',
      constants: { WG },
      outputs: [dtable],
      inputs: [],
      uniforms: { n: u32(n) },
      workgroups: [ceilDiv(n, WG)],
    });
  }
  const tLinks = engine.scratch('embedding.links', rows, 'u32');
  engine.run({
    shader: 'embedding',
    entryPoint: 'backward_links',
    constants: { WG },
    outputs: [tLinks],
    inputs: [ids],
    uniforms: { R: u32(rows) },
    workgroups: [ceilDiv(rows, WG)],
  });
  const n = rows * C;
  engine.run({
    shader: 'embedding',
    entryPoint: 'backward',
    constants: { WG },
    outputs: [dtable],
    inputs: [dout, ids, tLinks],
    uniforms: { n: u32(n), R: u32(rows), C: u32(C), V: u32(V) },
    workgroups: [ceilDiv(n, WG)],
  });
}
