// `make-checkpoint --like SmolLM-135M|SmolLM-360M`: a checkpoint with a published model's
// config.json and seeded random weights at its init scale (N(0, initializer_range) matrices, unit
// norm gains), so the real-size path can be exercised without the Hub: the memory estimate against
// what is allocated, BF16 and sharded loading, `ppl` and `generate`, the page's Hub loader. Its
// tokenizer is the byte-level one of the shipped models (SmolLM's own cannot be fetched offline;
// byte ids fit its vocabulary), so any text runs through it.

import { ATTENTION_TYPES, type AttentionType } from '../model/config.ts';
import { isPublishedModel, PUBLISHED_CONFIGS, randomCheckpointFiles } from '../model/published-configs.ts';
import { TORCH_DTYPE, type SaveDType } from '../model/save.ts';
import { saveCheckpointDirectory } from '../model/save-node.ts';
import { integerIn, number, required, seedOption, UsageError, type Args } from './args.ts';
import { checkDirectoryOutput, folderEntries } from './output.ts';

export async function makeCheckpoint(args: Args): Promise<void> {
  const like = required(args, 'like');
  if (!isPublishedModel(like)) throw new UsageError(`--like must be one of ${Object.keys(PUBLISHED_CONFIGS).join(', ')}, got "${like}"`);
  const dtype = (args.dtype ?? 'BF16').toUpperCase();
  if (!(dtype in TORCH_DTYPE)) throw new UsageError(`--dtype must be F32, F16 or BF16, got "${args.dtype}"`);
  const attentionType = (args['attention-type'] ?? 'rope') as AttentionType;
  if (!ATTENTION_TYPES.includes(attentionType)) {
    throw new UsageError(`--attention-type must be one of ${ATTENTION_TYPES.join(', ')}, got "${args['attention-type']}"`);
  }
  const shards = number(args.shards, 'shards', 1, integerIn(1, 64));
  const seed = seedOption(args);
  const out = await checkDirectoryOutput(required(args, 'out'), []);
  if (folderEntries(out).length > 0) throw new UsageError(`--out ${args.out} is not empty: choose a new folder`);

  const { files, parameters } = randomCheckpointFiles(like, { dtype: dtype as SaveDType, shards, seed, attentionType });
  await saveCheckpointDirectory(out, files);
  console.log(
    JSON.stringify({
      out: args.out,
      like,
      attention_type: attentionType,
      dtype,
      seed,
      parameters,
      files: [...files.keys()],
    }),
  );
}
