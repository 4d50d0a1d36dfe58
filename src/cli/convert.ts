// `convert`: a checkpoint re-saved with its weights in another dtype (F32, F16 or BF16), with its
// tokenizer and training log, for shipping a trained model at half the size.

import { expectedTensorShapes, loadCheckpoint } from '../model/checkpoint.ts';
import { serializeCheckpoint, TORCH_DTYPE, type SaveDType } from '../model/save.ts';
import { saveCheckpointDirectory } from '../model/save-node.ts';
import { modelSource, required, UsageError, type Args } from './args.ts';

const CARRIED_FILES = ['tokenizer.json', 'tokenizer_config.json', 'train_log.json', 'eval.json'];

export async function convert(args: Args): Promise<void> {
  const source = modelSource(required(args, 'model'));
  const out = required(args, 'out');
  const dtype = (args.dtype ?? 'F16').toUpperCase();
  if (!(dtype in TORCH_DTYPE)) throw new UsageError(`--dtype must be F32, F16 or BF16, got "${args.dtype}"`);
  const checkpoint = await loadCheckpoint(source);
  const files = serializeCheckpoint(checkpoint.config.raw, checkpoint.tensors, expectedTensorShapes(checkpoint.config), dtype as SaveDType);
  const extra: Record<string, Uint8Array> = {};
  for (const name of CARRIED_FILES) if (await source.has(name)) extra[name] = await source.readBytes(name);
  await saveCheckpointDirectory(out, files, extra);
  console.log(JSON.stringify({ out, dtype, files: [...files.keys(), ...Object.keys(extra)] }));
}
