// Importing and exporting variants as Hugging Face checkpoints, on the page.
//
// Export writes two downloads, `config.json` and `model.safetensors` (F32), exactly the files
// transformers' save_pretrained writes: put both in one folder and
// `AutoModelForCausalLM.from_pretrained(folder)` or our CLI (`--model folder`) loads it. Two plain
// files rather than an archive, so nothing needs unpacking and each file is usable as it lands.
//
// Import takes the same files (config.json + model.safetensors, tokenizer.json optional) from a
// file input or a drop. Everything is validated before anything is stored or sent to the worker:
// each file's size before it is read (no file larger than a checkpoint of the loaded model can
// be), then the config, whose shapes must match the loaded model's (variants are compared on its
// tokenizer and validation text), then loadCheckpoint checks every tensor. A bad file throws
// ImportError with a message that names it, and nothing kept changes.

import {
  CONFIG_FILE,
  expectedTensorShapes,
  loadCheckpoint,
  loadConfig,
  parameterCount,
  WEIGHTS_FILE,
  type Checkpoint,
} from '../../../model/checkpoint.ts';
import type { ModelConfig } from '../../../model/config.ts';
import { formatBytes } from '../../../model/format-bytes.ts';
import { serializeCheckpoint } from '../../../model/save.ts';
import { MAX_JSON_BYTES } from '../../../model/source-hub.ts';
import { shapeString } from '../../../engine/tensor.ts';
import { memorySource, type StoredVariant } from './variant-store.ts';

export class ImportError extends Error {}

const TOKENIZER_FILE = 'tokenizer.json';
const ACCEPTED = [CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE];

/** The file input's `accept`: by extension, since browsers know no MIME type for safetensors. */
export const IMPORT_ACCEPT = '.json,.safetensors';

/** A name as a user's download folder may have changed it ("config (1).json") → the checkpoint's name. */
export function checkpointFileName(name: string): string | null {
  const lower = name.toLowerCase();
  if (lower.endsWith('.safetensors')) return WEIGHTS_FILE;
  if (/^config( \(\d+\))?\.json$/.test(lower)) return CONFIG_FILE;
  if (/^tokenizer( \(\d+\))?\.json$/.test(lower)) return TOKENIZER_FILE;
  return null;
}

/** Sorts picked or dropped files (or their bytes) by checkpoint file name; throws ImportError for a missing or unknown file. */
export function sortImportFiles<T extends { name: string }>(files: T[]): Map<string, T> {
  const out = new Map<string, T>();
  for (const file of files) {
    const name = checkpointFileName(file.name);
    if (!name) throw new ImportError(`${file.name} is not a checkpoint file: expected ${ACCEPTED.join(', ')}`);
    if (out.has(name)) throw new ImportError(`two files are ${name}: import one checkpoint at a time`);
    out.set(name, file);
  }
  const missing = [CONFIG_FILE, WEIGHTS_FILE].filter((name) => !out.has(name));
  if (missing.length > 0) throw new ImportError(`missing ${missing.join(' and ')}: select config.json and model.safetensors together`);
  return out;
}

/**
 * The most bytes an imported file may have for the loaded model: JSON as the Hub download allows;
 * weights 8 bytes a parameter (F64, the widest float the loader reads), twice over for tensors the
 * loader ignores (an lm_head beside tied embeddings), plus 16 MB for the header.
 */
export function importSizeLimit(name: string, model: ModelConfig): number {
  return name === WEIGHTS_FILE ? 16 * parameterCount(model) + 16 * 2 ** 20 : MAX_JSON_BYTES;
}

/** Picked or dropped files, sorted and each checked against its size limit before a byte is read, then read. */
export async function readImportFiles(
  files: { name: string; size: number; arrayBuffer(): Promise<ArrayBuffer> }[],
  model: ModelConfig,
): Promise<Map<string, Uint8Array>> {
  const sorted = sortImportFiles(files);
  for (const [name, file] of sorted) {
    const limit = importSizeLimit(name, model);
    if (file.size > limit) {
      throw new ImportError(
        `${file.name} is ${formatBytes(file.size)}, more than a ${name} of the loaded model can be (${formatBytes(limit)})`,
      );
    }
  }
  const read = async ([name, file]: [string, (typeof files)[number]]) => [name, new Uint8Array(await file.arrayBuffer())] as const;
  return new Map(await Promise.all([...sorted].map(read)));
}

/**
 * Validates checkpoint files against the loaded model: the checkpoint (F32 tensors) and its files
 * re-saved as F32 (an F16/BF16 upload is widened; extra tensors are dropped).
 */
export async function validateImport(
  files: Map<string, Uint8Array>,
  model: ModelConfig,
): Promise<{ checkpoint: Checkpoint; config: string; weights: Uint8Array }> {
  const tokenizer = files.get(TOKENIZER_FILE);
  if (tokenizer) {
    try {
      JSON.parse(new TextDecoder().decode(tokenizer));
    } catch (error) {
      throw new ImportError(`tokenizer.json is not valid JSON: ${(error as Error).message}`);
    }
  }
  const source = memorySource(files, 'the imported files');
  // The config first: one that does not fit the loaded model is refused before any weight is decoded.
  let config: ModelConfig;
  try {
    config = await loadConfig(source);
  } catch (error) {
    throw new ImportError((error as Error).message);
  }
  const mine = expectedTensorShapes(config);
  const wanted = expectedTensorShapes(model);
  const differ: string[] = [];
  for (const [name, shape] of wanted) {
    const got = mine.get(name);
    if (!got) differ.push(`${name} is missing`);
    else if (shapeString(got) !== shapeString(shape))
      differ.push(`${name} is ${shapeString(got)}, the loaded model's is ${shapeString(shape)}`);
  }
  for (const name of mine.keys()) if (!wanted.has(name)) differ.push(`${name} is not in the loaded model`);
  if (differ.length > 0) {
    throw new ImportError(
      `this checkpoint does not fit the loaded model (a variant must share its shapes and tokenizer): ${differ.slice(0, 4).join('; ')}`,
    );
  }
  let checkpoint: Checkpoint;
  try {
    checkpoint = await loadCheckpoint(source);
  } catch (error) {
    throw new ImportError((error as Error).message);
  }
  const saved = serializeCheckpoint(checkpoint.config.raw, checkpoint.tensors, mine, 'F32');
  return { checkpoint, config: new TextDecoder().decode(saved.get(CONFIG_FILE)!), weights: saved.get(WEIGHTS_FILE)! };
}

/** Starts the two downloads of a stored variant. */
export function downloadVariant(record: StoredVariant): void {
  const save = (name: string, data: BlobPart, type: string) => {
    const url = URL.createObjectURL(new Blob([data], { type }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    a.style.display = 'none';
    document.body.append(a);
    a.click();
    a.remove();
    // The download has started by the time the click returns; keep the URL a little for slow browsers.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  };
  save(CONFIG_FILE, record.config, 'application/json');
  save(WEIGHTS_FILE, record.weights as Uint8Array<ArrayBuffer>, 'application/octet-stream');
}
