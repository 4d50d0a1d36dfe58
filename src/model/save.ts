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
import { CONFIG_FILE, WEIGHTS_FILE } from './checkpoint.ts';
import { writeSafetensors, type WritableTensor } from './safetensors.ts';

export type SaveDType = 'F32' | 'F16' | 'BF16';

/** config.json's name for each stored dtype (torch's dtype names without "torch."). */
export const TORCH_DTYPE: Record<SaveDType, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/**
 * The files of a checkpoint: `config.json` (pretty JSON, `torch_dtype` set to the stored dtype) and
 * `model.safetensors` (every tensor of `tensors`, with its shape from `shapes`, stored as `dtype`,
 * `__metadata__` {format: 'pt'} as transformers writes it). Throws, naming the tensor, when a
 * tensor has no shape, a shape has no tensor, or the element counts disagree.
 */
export function serializeCheckpoint(
  rawConfig: Record<string, unknown>,
  tensors: Map<string, Float32Array>,
  shapes: Map<string, number[]>,
  dtype: SaveDType = 'F32',
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

  const config = { ...rawConfig, torch_dtype: TORCH_DTYPE[dtype] };
  const files = new Map<string, Uint8Array>();
  files.set(CONFIG_FILE, new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
  files.set(WEIGHTS_FILE, writeSafetensors(entries, { format: 'pt' }));
  return files;
}
