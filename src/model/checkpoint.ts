// Loading a Hugging Face Llama checkpoint: config.json plus safetensors weights, from any source
// (a directory in Node, a URL in the browser), decoded to f32 under the Hugging Face names.
//
// Dimensions: V vocab, C hidden size, I MLP intermediate size, L layers, H query heads,
// KVH key/value heads, D head dim.
//
// Weights come either as one `model.safetensors` or, for large models, as shards listed in
// `model.safetensors.index.json` ({ "weight_map": { "<tensor name>": "<shard file>" } }), as
// transformers' save_pretrained writes them. Every tensor the engine needs is checked against the
// shape config.json implies before anything reaches the GPU; tensors the engine does not use
// (rotary_emb.inv_freq in old checkpoints, an lm_head.weight next to tied embeddings) are ignored.

import { numel, shapeString } from '../engine/tensor.ts';
import { isRecord, parseConfig, type ModelConfig } from './config.ts';
import { formatBytes } from './format-bytes.ts';
import { positionModeFromConfig } from './positions.ts';
import { parseSafetensors, type SafetensorsFile } from './safetensors.ts';

/** Where checkpoint files come from; `file` is a name relative to the checkpoint's root. */
export interface ModelSource {
  /** The directory or URL, for error messages. */
  describe: string;
  readText(file: string): Promise<string>;
  readBytes(file: string): Promise<Uint8Array>;
  has(file: string): Promise<boolean>;
}

export interface Checkpoint {
  config: ModelConfig;
  /** Every tensor of `expectedTensorShapes(config)`, f32, row-major, under its Hugging Face name. */
  tensors: Map<string, Float32Array>;
}

export class CheckpointError extends Error {}

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';

/** At most this many problems are listed in one error. */
const MAX_LISTED_PROBLEMS = 12;

/**
 * The tensors the engine runs, by Hugging Face name, with their shapes (nn.Linear weights are
 * [out, in]). lm_head.weight only when the embeddings are not tied; q_norm/k_norm only for
 * qk_norm_nope.
 */
export function expectedTensorShapes(config: ModelConfig): Map<string, number[]> {
  const { vocabSize: V, hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: KVH, headDim: D } = config;
  const shapes = new Map<string, number[]>();
  shapes.set('model.embed_tokens.weight', [V, C]);
  for (let layer = 0; layer < config.numLayers; layer++) {
    const p = `model.layers.${layer}.`;
    shapes.set(`${p}input_layernorm.weight`, [C]);
    shapes.set(`${p}self_attn.q_proj.weight`, [H * D, C]);
    shapes.set(`${p}self_attn.k_proj.weight`, [KVH * D, C]);
    shapes.set(`${p}self_attn.v_proj.weight`, [KVH * D, C]);
    if (config.qkNorm) {
      shapes.set(`${p}self_attn.q_norm.weight`, [H * D]);
      shapes.set(`${p}self_attn.k_norm.weight`, [KVH * D]);
    }
    shapes.set(`${p}self_attn.o_proj.weight`, [C, H * D]);
    shapes.set(`${p}post_attention_layernorm.weight`, [C]);
    shapes.set(`${p}mlp.gate_proj.weight`, [I, C]);
    shapes.set(`${p}mlp.up_proj.weight`, [I, C]);
    shapes.set(`${p}mlp.down_proj.weight`, [C, I]);
  }
  shapes.set('model.norm.weight', [C]);
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [V, C]);
  return shapes;
}

/** How many parameters a checkpoint of `config` holds: every tensor of expectedTensorShapes. */
export function parameterCount(config: ModelConfig): number {
  let count = 0;
  for (const shape of expectedTensorShapes(config).values()) count += numel(shape);
  return count;
}

export interface LoadOptions {
  /**
   * The memory the weights may take: a config whose parameters, as f32, need more is refused before
   * any weight is read (the loader holds every tensor as f32, beside the file's bytes).
   */
  memoryBytes?: number;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(`${where} is not valid JSON: ${(error as Error).message}`);
  }
}

/** A shard name from an index must stay inside the checkpoint (no absolute paths, no "..", no URLs). */
function checkShardName(shard: string, where: string): void {
  const parts = shard.split(/[\\/]/);
  if (shard === '' || /^[a-z][a-z0-9+.-]*:/i.test(shard) || shard.startsWith('/') || shard.startsWith('\\') || parts.includes('..')) {
    throw new CheckpointError(`${where}: shard file name ${JSON.stringify(shard)} must be a relative path inside the checkpoint`);
  }
}

/** Reads and validates config.json, its position encoding (rope_scaling, …) included. */
export async function loadConfig(source: ModelSource): Promise<ModelConfig> {
  const where = `${source.describe}/${CONFIG_FILE}`;
  const text = await source.readText(CONFIG_FILE);
  try {
    const config = parseConfig(parseJson(text, where));
    // A bad rope_scaling fails here, before a weight is read, not when the model is built.
    positionModeFromConfig(config.raw);
    return config;
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    throw new CheckpointError(`${where}: ${(error as Error).message}`);
  }
}

/** Where each tensor lives: one file, or the shards of an index. Returns name → file holding it. */
async function weightFiles(source: ModelSource): Promise<Map<string, string> | string> {
  if (await source.has(WEIGHTS_FILE)) return WEIGHTS_FILE;
  if (!(await source.has(WEIGHTS_INDEX_FILE))) {
    throw new CheckpointError(
      `${source.describe} has no weights: expected ${WEIGHTS_FILE} or ${WEIGHTS_INDEX_FILE} with its shards ` +
        "(only the safetensors format is supported; convert pytorch_model.bin with transformers' save_pretrained)",
    );
  }
  const where = `${source.describe}/${WEIGHTS_INDEX_FILE}`;
  const index = parseJson(await source.readText(WEIGHTS_INDEX_FILE), where);
  const weightMap = isRecord(index) ? index.weight_map : undefined;
  if (!isRecord(weightMap)) {
    throw new CheckpointError(`${where} has no "weight_map" object`);
  }
  const files = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') throw new CheckpointError(`${where}: weight_map["${tensor}"] is not a file name`);
    checkShardName(shard, where);
    files.set(tensor, shard);
  }
  return files;
}

/** Loads config.json and the weights, checks every tensor the engine needs, and decodes them to f32. */
export async function loadCheckpoint(source: ModelSource, options: LoadOptions = {}): Promise<Checkpoint> {
  const config = await loadConfig(source);
  const expected = expectedTensorShapes(config);
  if (options.memoryBytes !== undefined) {
    const bytes = 4 * parameterCount(config);
    if (bytes > options.memoryBytes) {
      throw new CheckpointError(
        `${source.describe}/${CONFIG_FILE} describes ${(bytes / 4).toLocaleString('en-US')} parameters, ${formatBytes(bytes)} as f32: ` +
          `more than the ${formatBytes(options.memoryBytes)} of memory here`,
      );
    }
  }
  const layout = await weightFiles(source);

  // Read each file that holds a needed tensor, once.
  const fileOf = (tensor: string): string | undefined => (typeof layout === 'string' ? layout : layout.get(tensor));
  const needed = new Set<string>();
  for (const name of expected.keys()) {
    const file = fileOf(name);
    if (file !== undefined) needed.add(file);
  }
  const files = new Map<string, SafetensorsFile>();
  for (const file of [...needed].sort()) {
    const bytes = await source.readBytes(file);
    files.set(file, parseSafetensors(bytes, `${source.describe}/${file}`));
  }

  const problems: string[] = [];
  const tensors = new Map<string, Float32Array>();
  for (const [name, shape] of expected) {
    const file = fileOf(name);
    if (file === undefined) {
      problems.push(`missing tensor ${name} (expected shape ${shapeString(shape)}): not in ${WEIGHTS_INDEX_FILE}'s weight_map`);
      continue;
    }
    const st = files.get(file)!;
    const info = st.tensors.get(name);
    if (!info) {
      problems.push(`missing tensor ${name} (expected shape ${shapeString(shape)}) in ${file}`);
      continue;
    }
    if (!sameShape(info.shape, shape)) {
      problems.push(`tensor ${name} in ${file} has shape ${shapeString(info.shape)}, expected ${shapeString(shape)}`);
      continue;
    }
    if (!['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) {
      problems.push(`tensor ${name} in ${file} has dtype ${info.dtype}, expected a floating-point dtype (F32, F16, BF16)`);
      continue;
    }
    tensors.set(name, st.getF32(name));
  }
  if (problems.length > 0) {
    const listed = problems
      .slice(0, MAX_LISTED_PROBLEMS)
      .map((p) => `\n  - ${p}`)
      .join('');
    const more = problems.length > MAX_LISTED_PROBLEMS ? `\n  … and ${problems.length - MAX_LISTED_PROBLEMS} more` : '';
    throw new CheckpointError(
      `checkpoint ${source.describe} does not match its ${CONFIG_FILE} ` +
        `(${config.numLayers} layers, C=${config.hiddenSize}, attention_type ${config.attentionType}, ` +
        `tie_word_embeddings ${config.tieWordEmbeddings}):${listed}${more}`,
    );
  }
  return { config, tensors };
}
