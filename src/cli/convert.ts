// `convert`: a checkpoint re-saved with its weights in another dtype (F32, F16 or BF16), with its
// tokenizer and training log, for shipping a trained model at half the size.
//
// --out is never one of the model's files or inside its folder, and a folder that holds anything
// is replaced only with --force. Then the files of the checkpoint there that do not belong to the
// new weights (an eval.json measured on other weights, a trainer state, a shard index) are
// removed, so the folder ends up holding exactly the converted checkpoint and what it carries.

import { expectedTensorShapes, WEIGHTS_INDEX_FILE } from '../model/checkpoint.ts';
import { serializeCheckpoint, TORCH_DTYPE, type SaveDType } from '../model/save.ts';
import { saveCheckpointDirectory } from '../model/save-node.ts';
import { TRAINER_STATE_FILE } from '../train/trainer-state.ts';
import { loadModelCheckpoint, modelSource, required, UsageError, type Args } from './args.ts';
import { checkDirectoryOutput, folderEntries, modelInput } from './output.ts';

const CARRIED_FILES = ['tokenizer.json', 'tokenizer_config.json', 'train_log.json', 'eval.json'];
/** Files of a checkpoint that belong to its weights: removed from --out unless written anew. */
const REPLACED_FILES = [...CARRIED_FILES, TRAINER_STATE_FILE, WEIGHTS_INDEX_FILE];

export async function convert(args: Args): Promise<void> {
  const spec = required(args, 'model');
  const source = modelSource(spec);
  const dtype = (args.dtype ?? 'F16').toUpperCase();
  if (!(dtype in TORCH_DTYPE)) throw new UsageError(`--dtype must be F32, F16 or BF16, got "${args.dtype}"`);
  const out = await checkDirectoryOutput(required(args, 'out'), [modelInput(spec)]);
  if (folderEntries(out).length > 0 && !args.force) {
    throw new UsageError(`--out ${args.out} is not empty: add --force to replace the checkpoint in it`);
  }
  const checkpoint = await loadModelCheckpoint(source);
  const files = serializeCheckpoint(checkpoint.config.raw, checkpoint.tensors, expectedTensorShapes(checkpoint.config), dtype as SaveDType);
  const extra: Record<string, Uint8Array> = {};
  for (const name of CARRIED_FILES) if (await source.has(name)) extra[name] = await source.readBytes(name);
  await saveCheckpointDirectory(out, files, extra, { remove: REPLACED_FILES });
  console.log(JSON.stringify({ out: args.out, dtype, files: [...files.keys(), ...Object.keys(extra)] }));
}
