// Saving a checkpoint in Hugging Face layout: the bytes of config.json and model.safetensors, as
// transformers' save_pretrained writes them, so the saved directory loads back here
// (loadCheckpoint) and in Python (LlamaForCausalLM.from_pretrained).
//
// This module only builds bytes and runs anywhere (browser downloads, the worker, Node);
// src/model/save-node.ts writes them to a directory atomically.
//
// Weights keep their Hugging Face names. F16 and BF16 are rounded to nearest, ties to even
// (src/model/safetensors.ts), the same rounding torch's .to(dtype) does. `torch_dtype` in
// config.json records the stored dtype, as save_pretrained does.

import { numel, shapeString } from '../engine/tensor.ts';
import { CONFIG_FILE, WEIGHTS_FILE, WEIGHTS_INDEX_FILE } from './checkpoint.ts';
import { DTYPE_BYTES, writeSafetensors, type WritableTensor } from './safetensors.ts';

export type SaveDType = 'F32' | 'F16' | 'BF16';

/** config.json's name for each stored dtype (torch's dtype names without "torch."). */
export const TORCH_DTYPE: Record<SaveDType, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/**
 * The files of a checkpoint: `config.json` (pretty JSON, `torch_dtype` set to the stored dtype) and
 * `model.safetensors` (every tensor of `tensors`, with its shape from `shapes`, stored as `dtype`,
 * `__metadata__` {format: 'pt'} as transformers writes it). With `shards` > 1 the weights are split,
 * in the order of `shapes`, into that many files of about equal size named as save_pretrained names
 * them (model-00001-of-00003.safetensors, …) and listed in model.safetensors.index.json. Throws,
 * naming the tensor, when a tensor has no shape, a shape has no tensor, or the element counts disagree.
 */
export function serializeCheckpoint(
  rawConfig: Record<string, unknown>,
  tensors: Map<string, Float32Array>,
  shapes: Map<string, number[]>,
  dtype: SaveDType = 'F32',
  shards = 1,
): Map<string, Uint8Array> {
  if (!(dtype in TORCH_DTYPE)) throw new Error(`cannot save a checkpoint as ${String(dtype)} (F32, F16 or BF16)`);
  const entries: Record<string, WritableTensor> = {};
  for (const [name, data] of tensors) {
    const shape = shapes.get(name);
    if (!shape) throw new Error(`cannot save tensor ${name}: no shape given for it`);
    if (numel(shape) !== data.length) {
      throw new Error(
        `cannot save tensor ${name}: shape ${shapeString(shape)} has ${numel(shape)} elements but the data has ${data.length}`,
      );
    }
    entries[name] = { dtype, shape: [...shape], data };
  }
  for (const name of shapes.keys()) {
    if (!tensors.has(name)) throw new Error(`cannot save tensor ${name}: a shape is given but no data`);
  }

  const names = [...shapes.keys()];
  if (!Number.isSafeInteger(shards) || shards < 1 || shards > names.length) {
    throw new Error(`cannot split ${names.length} tensors into ${shards} shards (1 to ${names.length})`);
  }
  const config = { ...rawConfig, torch_dtype: TORCH_DTYPE[dtype] };
  const files = new Map<string, Uint8Array>();
  files.set(CONFIG_FILE, new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
  if (shards === 1) {
    files.set(WEIGHTS_FILE, writeSafetensors(entries, { format: 'pt' }));
    return files;
  }
  // Consecutive runs of tensors of about total/shards bytes each; each shard gets at least one tensor.
  const bytes = (name: string) => numel(shapes.get(name)!) * DTYPE_BYTES[dtype];
  const total = names.reduce((sum, name) => sum + bytes(name), 0);
  const groups: string[][] = Array.from({ length: shards }, () => []);
  let before = 0;
  let current = 0;
  for (const [i, name] of names.entries()) {
    const byBytes = Math.floor((before * shards) / total);
    // No shard is skipped (at most one step on), and the tensors left must still fill the shards left.
    const atLeast = shards - (names.length - i);
    if (i > 0) current = Math.max(atLeast, Math.min(current + 1, Math.max(current, byBytes)));
    groups[current].push(name);
    before += bytes(name);
  }
  const width = (n: number) => String(n).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  for (const [i, group] of groups.entries()) {
    const file = `model-${width(i + 1)}-of-${width(shards)}.safetensors`;
    files.set(file, writeSafetensors(Object.fromEntries(group.map((name) => [name, entries[name]])), { format: 'pt' }));
    for (const name of group) weightMap[name] = file;
  }
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  files.set(WEIGHTS_INDEX_FILE, new TextEncoder().encode(`${JSON.stringify(index, null, 2)}\n`));
  return files;
}
