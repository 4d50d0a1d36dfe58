// The variant store's logic that runs without a browser: record checks, keys, points merging, the
// in-memory ModelSource over stored bytes, and import validation (sorting dropped files, a
// corrupt or mismatched checkpoint refused with a message, F16 widened to F32). IndexedDB itself
// is exercised in a real browser by e2e/persistence.spec.ts.

import { describe, expect, it } from 'vitest';
import { CONFIG_FILE, expectedTensorShapes, loadCheckpoint, WEIGHTS_FILE } from '../../src/model/checkpoint.ts';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { parseSafetensors, writeSafetensors } from '../../src/model/safetensors.ts';
import { serializeCheckpoint } from '../../src/model/save.ts';
import {
  checkpointFileName,
  importSizeLimit,
  ImportError,
  readImportFiles,
  sortImportFiles,
  validateImport,
} from '../../src/ui/features/saved-variants/import-export.ts';
import {
  addPoint,
  checkStoredVariant,
  memorySource,
  newVariantKey,
  storedFiles,
  summarize,
  type StoredVariant,
} from '../../src/ui/features/saved-variants/variant-store.ts';

const CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 64,
  hidden_size: 32,
  intermediate_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 2,
  head_dim: 16,
  max_position_embeddings: 16,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
};

function files(rawConfig: Record<string, unknown> = CONFIG, dtype: 'F32' | 'F16' = 'F32', seed = 3) {
  const checkpoint = initializeCheckpoint(rawConfig, seed);
  return { checkpoint, files: serializeCheckpoint(rawConfig, checkpoint.tensors, expectedTensorShapes(checkpoint.config), dtype) };
}

function record(overrides: Partial<StoredVariant> = {}): StoredVariant {
  const { files: f } = files();
  return {
    key: newVariantKey(1000, () => 0.5),
    model: 'tiny',
    label: 'Recalibrated (3 steps, LR 1e-3)',
    detail: 'detail',
    origin: 'recalibrated',
    parent: 'RoPE dropped',
    settings: { steps: 3, lr: 1e-3, batch: 2, seed: 0 },
    created: 1000,
    config: new TextDecoder().decode(f.get(CONFIG_FILE)!),
    weights: f.get(WEIGHTS_FILE)!,
    ...overrides,
  };
}

describe('stored variant records', () => {
  it('keys sort by creation time and differ by their random part', () => {
    const a = newVariantKey(1_000, () => 0.99);
    const b = newVariantKey(2_000_000_000_000, () => 0);
    expect([b, a].sort()).toEqual([a, b]);
    expect(newVariantKey(5, () => 0.1)).not.toBe(newVariantKey(5, () => 0.2));
    expect(a).toMatch(/^[0-9a-z]{9}-[0-9a-z]{6}$/);
  });

  it('accepts a whole record and says what is wrong with a broken one', () => {
    const good = record();
    expect(checkStoredVariant(good)).toBe(good);
    expect(checkStoredVariant(null)).toBe('not an object');
    expect(checkStoredVariant({ ...good, label: 3 })).toMatch(/"label"/);
    expect(checkStoredVariant({ ...good, origin: 'other' })).toMatch(/"origin"/);
    expect(checkStoredVariant({ ...good, created: Number.NaN })).toMatch(/"created"/);
    expect(checkStoredVariant({ ...good, weights: new ArrayBuffer(100) })).toMatch(/"weights"/);
    expect(checkStoredVariant({ ...good, settings: null })).toMatch(/"settings"/);
    const summary = summarize(good);
    expect(summary).not.toHaveProperty('weights');
    expect(summary).not.toHaveProperty('config');
    expect(summary.label).toBe(good.label);
  });

  it('keeps an interrupted run resumable and lists it without its bytes', () => {
    const interrupted = { step: 2, steps: 6, trainerState: new Uint8Array([1, 2, 3]) };
    const run = record({ interrupted });
    expect(checkStoredVariant(run)).toBe(run);
    expect(checkStoredVariant({ ...run, interrupted: { step: 2, steps: 6 } })).toMatch(/"interrupted"/);
    expect(summarize(run).interrupted).toEqual({ step: 2, steps: 6 });
    expect(summarize(record()).interrupted).toBeUndefined();
  });

  it('merges measured points by series and length', () => {
    let points = { key: 'k', series: {} };
    points = addPoint(points, 'none|0.00', 'A', 32, 9);
    points = addPoint(points, 'none|0.00', 'A', 8, 7);
    points = addPoint(points, 'none|0.00', 'A', 32, 5);
    points = addPoint(points, 'none|0.30', 'A · c = 0.30', 8, 6);
    expect(points.series).toEqual({
      'none|0.00': {
        label: 'A',
        points: [
          { length: 8, ppl: 7 },
          { length: 32, ppl: 5 },
        ],
      },
      'none|0.30': { label: 'A · c = 0.30', points: [{ length: 8, ppl: 6 }] },
    });
  });

  it('loads back through loadCheckpoint from the stored bytes, tensor for tensor', async () => {
    const { checkpoint } = files();
    const stored = record();
    const loaded = await loadCheckpoint(memorySource(storedFiles(stored), 'stored'));
    expect(loaded.config.hiddenSize).toBe(32);
    for (const [name, data] of checkpoint.tensors) expect(loaded.tensors.get(name), name).toEqual(data);
    const source = memorySource(storedFiles(stored), 'stored');
    expect(await source.has('tokenizer.json')).toBe(false);
    await expect(source.readBytes('tokenizer.json')).rejects.toThrow('stored has no tokenizer.json');
  });
});

describe('importing checkpoint files', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it('recognizes the file names, also as download folders rename them', () => {
    expect(checkpointFileName('config.json')).toBe(CONFIG_FILE);
    expect(checkpointFileName('config (1).json')).toBe(CONFIG_FILE);
    expect(checkpointFileName('model (2).safetensors')).toBe(WEIGHTS_FILE);
    expect(checkpointFileName('tokenizer.json')).toBe('tokenizer.json');
    expect(checkpointFileName('eval.json')).toBeNull();
  });

  it('asks for both files and refuses strangers and duplicates', () => {
    expect(() => sortImportFiles([{ name: 'config.json', bytes: bytes('{}') }])).toThrow(/missing model\.safetensors/);
    expect(() => sortImportFiles([{ name: 'notes.txt', bytes: bytes('') }])).toThrow(/notes\.txt is not a checkpoint file/);
    expect(() =>
      sortImportFiles([
        { name: 'config.json', bytes: bytes('{}') },
        { name: 'config (1).json', bytes: bytes('{}') },
      ]),
    ).toThrow(/two files are config\.json/);
  });

  it('accepts a matching checkpoint and widens F16 to F32', async () => {
    const { checkpoint, files: f16 } = files(CONFIG, 'F16');
    const result = await validateImport(f16, checkpoint.config);
    const st = parseSafetensors(result.weights, 'saved');
    expect([...st.tensors.values()].every((t) => t.dtype === 'F32')).toBe(true);
    expect(JSON.parse(result.config).torch_dtype).toBe('float32');
    // F16 keeps about 3 decimal digits of these small initial weights.
    const name = 'model.layers.0.mlp.up_proj.weight';
    const original = checkpoint.tensors.get(name)!;
    const widened = st.getF32(name);
    for (let i = 0; i < original.length; i++)
      expect(Math.abs(widened[i] - original[i])).toBeLessThanOrEqual(Math.abs(original[i]) * 1e-3 + 1e-7);
  });

  it('refuses corrupt weights, bad JSON and another architecture, with a message', async () => {
    const { checkpoint, files: good } = files();
    const corrupt = new Map(good);
    corrupt.set(WEIGHTS_FILE, good.get(WEIGHTS_FILE)!.slice(0, 100));
    await expect(validateImport(corrupt, checkpoint.config)).rejects.toThrow(ImportError);
    const badJson = new Map(good);
    badJson.set(CONFIG_FILE, bytes('{ not json'));
    await expect(validateImport(badJson, checkpoint.config)).rejects.toThrow(/config\.json is not valid JSON/);
    const badTokenizer = new Map(good);
    badTokenizer.set('tokenizer.json', bytes('nope'));
    await expect(validateImport(badTokenizer, checkpoint.config)).rejects.toThrow(/tokenizer\.json is not valid JSON/);
    const { files: wider } = files({ ...CONFIG, hidden_size: 64, head_dim: 32 });
    await expect(validateImport(wider, checkpoint.config)).rejects.toThrow(/does not fit the loaded model/);
  });

  it('checks each file against its size limit before reading it', async () => {
    const { checkpoint, files: good } = files();
    const limit = importSizeLimit(WEIGHTS_FILE, checkpoint.config);
    const file = (name: string, size: number, bytes?: Uint8Array) => ({
      name,
      size,
      arrayBuffer: async () => {
        if (!bytes) throw new Error(`${name} must not be read`);
        return bytes.slice().buffer;
      },
    });
    await expect(
      readImportFiles([file('config.json', 10, good.get(CONFIG_FILE)), file('model.safetensors', limit + 1)], checkpoint.config),
    ).rejects.toThrow(/model\.safetensors is .*, more than a model\.safetensors of the loaded model can be/);
    await expect(readImportFiles([file('config.json', 2 ** 30), file('model.safetensors', 10)], checkpoint.config)).rejects.toThrow(
      /config\.json is 1\.0 GB, more than a config\.json of the loaded model can be \(128 MB\)/,
    );
    const read = await readImportFiles(
      [...good].map(([name, bytes]) => file(name, bytes.byteLength, bytes)),
      checkpoint.config,
    );
    expect([...read.keys()].sort()).toEqual([CONFIG_FILE, WEIGHTS_FILE]);
    expect(read.get(WEIGHTS_FILE)).toEqual(good.get(WEIGHTS_FILE));
  });

  it('refuses integer weights, a config past the limits and a header that lies', async () => {
    const { checkpoint, files: good } = files();
    const shapes = expectedTensorShapes(checkpoint.config);
    const ints = new Map(good);
    ints.set(
      WEIGHTS_FILE,
      writeSafetensors(
        Object.fromEntries(
          [...shapes].map(([name, shape]) => [name, { dtype: 'I32', shape, data: new Int32Array(shape.reduce((a, b) => a * b, 1)) }]),
        ),
      ),
    );
    await expect(validateImport(ints, checkpoint.config)).rejects.toThrow(/has dtype I32, expected a floating-point dtype/);
    const huge = new Map(good);
    huge.set(CONFIG_FILE, bytes(JSON.stringify({ ...CONFIG, num_hidden_layers: 1_000_000 })));
    await expect(validateImport(huge, checkpoint.config)).rejects.toThrow(/"num_hidden_layers" is 1000000, more than the 1024/);
    const trailing = new Map(good);
    trailing.set(WEIGHTS_FILE, new Uint8Array([...good.get(WEIGHTS_FILE)!, 1, 2, 3]));
    await expect(validateImport(trailing, checkpoint.config)).rejects.toThrow(/3 bytes follow them that no tensor holds/);
  });
});
