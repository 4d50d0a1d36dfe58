// Saving checkpoints: serializeCheckpoint + saveCheckpointDirectory, read back by the loader the
// app uses (loadCheckpoint over directorySource), in each stored dtype; and the one way every file
// is written (writeFileAtomic) with the removal of a killed run's temporaries. Full disks and kills
// of the real CLI are test/faults/files.test.ts.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectedTensorShapes, loadCheckpoint } from '../../src/model/checkpoint.ts';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { f16BitsToF32, f32ToBF16Bits, f32ToF16Bits } from '../../src/engine/f16.ts';
import { parseSafetensors } from '../../src/model/safetensors.ts';
import { serializeCheckpoint, type SaveDType } from '../../src/model/save.ts';
import { removeStaleTemporaries, saveCheckpointDirectory, writeFileAtomic } from '../../src/model/save-node.ts';
import { directorySource } from '../../src/model/source-node.ts';

const RAW_CONFIG = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  vocab_size: 19,
  hidden_size: 32,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 32,
  // Untied, so lm_head.weight is saved and loaded as well.
  tie_word_embeddings: false,
  torch_dtype: 'float32',
  initializer_range: 0.5,
};

const work = mkdtempSync(join(tmpdir(), 'save-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What a stored value reads back as: the dtype's own rounding, computed independently of the writer's path. */
const roundTrip: Record<SaveDType, (x: number) => number> = {
  F32: (x) => Math.fround(x),
  F16: (x) => f16BitsToF32(f32ToF16Bits(x)),
  BF16: (x) => new Float32Array(new Uint32Array([f32ToBF16Bits(x) << 16]).buffer)[0],
};

function checkpointFiles(dtype: SaveDType, seed: number) {
  const { config, tensors } = initializeCheckpoint(RAW_CONFIG, seed);
  // Norm gains are initialized to 1; make them varied so their rounding is exercised too.
  for (const [name, data] of tensors) if (name.endsWith('norm.weight')) data.forEach((_, i) => (data[i] = 1 + 0.37 * Math.sin(i + 1)));
  return { tensors, files: serializeCheckpoint(RAW_CONFIG, tensors, expectedTensorShapes(config), dtype) };
}

describe('serializeCheckpoint + saveCheckpointDirectory', () => {
  for (const [dtype, torchDtype] of [
    ['F32', 'float32'],
    ['F16', 'float16'],
    ['BF16', 'bfloat16'],
  ] as const) {
    it(`round-trips through loadCheckpoint as ${dtype}`, async () => {
      const { tensors, files } = checkpointFiles(dtype, 7);
      expect([...files.keys()].sort()).toEqual(['config.json', 'model.safetensors']);
      const dir = join(work, `ckpt-${dtype}`);
      await saveCheckpointDirectory(dir, files, { 'tokenizer.json': '{"x": 1}\n' });

      const configText = readFileSync(join(dir, 'config.json'), 'utf8');
      expect(configText).toContain('\n  "'); // pretty-printed
      const savedConfig = JSON.parse(configText);
      expect(savedConfig.torch_dtype).toBe(torchDtype);
      expect({ ...savedConfig, torch_dtype: 'float32' }).toEqual(RAW_CONFIG);
      expect(readFileSync(join(dir, 'tokenizer.json'), 'utf8')).toBe('{"x": 1}\n');
      const st = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'saved');
      expect(st.metadata).toEqual({ format: 'pt' });
      for (const info of st.tensors.values()) expect(info.dtype).toBe(dtype);

      const loaded = await loadCheckpoint(directorySource(dir));
      expect(loaded.config.vocabSize).toBe(19);
      expect([...loaded.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
      expect(loaded.tensors.has('lm_head.weight')).toBe(true);
      for (const [name, data] of tensors) {
        const got = loaded.tensors.get(name)!;
        const want = Float32Array.from(data, roundTrip[dtype]);
        // Exact: F16/BF16 widen to f32 without loss, so the only change is the one rounding on save.
        expect(got, `${name} (${dtype})`).toEqual(want);
        if (dtype !== 'F32') expect(got, `${name} is actually rounded to ${dtype}`).not.toEqual(data);
      }
      // Nothing temporary left behind, beside or inside the checkpoint.
      expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
      expect(readdirSync(work).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });
  }

  it('replaces an existing checkpoint, keeping unrelated files and leaving no temporary files', async () => {
    const dir = join(work, 'overwrite');
    await saveCheckpointDirectory(dir, checkpointFiles('F32', 1).files);
    writeFileSync(join(dir, 'notes.txt'), 'keep me');
    const second = checkpointFiles('F32', 2);
    await saveCheckpointDirectory(dir, second.files);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'notes.txt']);
    const loaded = await loadCheckpoint(directorySource(dir));
    expect(loaded.tensors.get('model.embed_tokens.weight')).toEqual(second.tensors.get('model.embed_tokens.weight'));
  });

  it('leaves the old checkpoint untouched when a save fails', async () => {
    const dir = join(work, 'failing');
    const first = checkpointFiles('F32', 3);
    await saveCheckpointDirectory(dir, first.files);
    const before = readFileSync(join(dir, 'model.safetensors'));
    await expect(saveCheckpointDirectory(dir, checkpointFiles('F32', 4).files, { 'sub/evil.json': '{}' })).rejects.toThrow(
      /plain file name/,
    );
    // config.json is staged last, so this fails after the new model.safetensors is already staged.
    const bad = new Map(checkpointFiles('F32', 4).files);
    bad.set('config.json', undefined as unknown as Uint8Array);
    await expect(saveCheckpointDirectory(dir, bad)).rejects.toThrow(/cannot save checkpoint/);
    expect(readFileSync(join(dir, 'model.safetensors')).equals(before)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    // A new directory appears complete or not at all.
    await expect(saveCheckpointDirectory(join(work, 'never'), bad)).rejects.toThrow(/cannot save checkpoint/);
    expect(readdirSync(work).filter((f) => f.includes('never'))).toEqual([]);
  });

  it('rejects tensors and shapes that do not match', () => {
    const tensors = new Map([['a', new Float32Array(6)]]);
    expect(() => serializeCheckpoint({}, tensors, new Map([['a', [2, 4]]]))).toThrow(
      /tensor a: shape \[2, 4\] has 8 elements but the data has 6/,
    );
    expect(() => serializeCheckpoint({}, tensors, new Map())).toThrow(/tensor a: no shape/);
    expect(() =>
      serializeCheckpoint(
        {},
        tensors,
        new Map([
          ['a', [6]],
          ['b', [1]],
        ]),
      ),
    ).toThrow(/tensor b: a shape is given but no data/);
  });
});

describe('sharded checkpoints', () => {
  /** Saves `files` into a new folder under the scratch directory; returns the folder. */
  async function written(name: string, files: Map<string, Uint8Array>): Promise<string> {
    const dir = join(work, name);
    await saveCheckpointDirectory(dir, files);
    return dir;
  }

  it('splits the weights into the asked number of shards with an index, and loads back identical', async () => {
    const { config, tensors } = initializeCheckpoint(RAW_CONFIG, 4);
    const shapes = expectedTensorShapes(config);
    const whole = await loadCheckpoint(directorySource(await written('whole', serializeCheckpoint(RAW_CONFIG, tensors, shapes, 'BF16'))));
    for (const shards of [2, 3, shapes.size]) {
      const files = serializeCheckpoint(RAW_CONFIG, tensors, shapes, 'BF16', shards);
      const width = (n: number) => String(n).padStart(5, '0');
      const names = Array.from({ length: shards }, (_, i) => `model-${width(i + 1)}-of-${width(shards)}.safetensors`);
      expect([...files.keys()].sort()).toEqual(['config.json', ...names, 'model.safetensors.index.json'].sort());
      const index = JSON.parse(new TextDecoder().decode(files.get('model.safetensors.index.json')));
      expect(Object.keys(index.weight_map).sort()).toEqual([...shapes.keys()].sort());
      // Every shard holds something; total_size counts the tensors' bytes.
      for (const name of names) expect(Object.values(index.weight_map)).toContain(name);
      const bytes = [...shapes.values()].reduce((sum, shape) => sum + 2 * shape.reduce((a, b) => a * b, 1), 0);
      expect(index.metadata.total_size).toBe(bytes);
      const loaded = await loadCheckpoint(directorySource(await written(`shards-${shards}`, files)));
      for (const [name, data] of whole.tensors) expect(loaded.tensors.get(name), name).toEqual(data);
    }
  });

  it('leaves no shard empty when one tensor outweighs the rest, and refuses more shards than tensors', () => {
    const shapes = new Map([
      ['a', [1]],
      ['b', [1]],
      ['huge', [1000]],
      ['c', [1]],
      ['d', [1]],
    ]);
    const tensors = new Map([...shapes].map(([name, shape]) => [name, new Float32Array(shape[0])]));
    for (const shards of [2, 3, 4, 5]) {
      const files = serializeCheckpoint({}, tensors, shapes, 'F32', shards);
      const index = JSON.parse(new TextDecoder().decode(files.get('model.safetensors.index.json')));
      expect(new Set(Object.values(index.weight_map)).size, `${shards} shards`).toBe(shards);
    }
    expect(() => serializeCheckpoint({}, tensors, shapes, 'F32', 6)).toThrow(/cannot split 5 tensors into 6 shards/);
    expect(() => serializeCheckpoint({}, tensors, shapes, 'F32', 0)).toThrow(/cannot split 5 tensors into 0 shards/);
  });
});

describe('writeFileAtomic and stale temporaries', () => {
  it('replaces a file whole, leaving no temporary; a failed write leaves the old file', async () => {
    const dir = join(work, 'atomic');
    mkdirSync(dir);
    const path = join(dir, 'out.json');
    writeFileSync(path, 'old');
    await writeFileAtomic(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    // A folder where the file should go: the rename fails, after the temporary was written.
    mkdirSync(join(dir, 'taken'));
    writeFileSync(join(dir, 'taken', 'inside'), 'x');
    await expect(writeFileAtomic(join(dir, 'taken'), 'bytes')).rejects.toThrow(/^cannot write .*taken: /);
    await expect(writeFileAtomic(join(dir, 'missing', 'x.json'), 'bytes')).rejects.toThrow(/^cannot write .*missing.*ENOENT/);
    expect(readdirSync(dir).sort()).toEqual(['out.json', 'taken']);
    expect(readFileSync(path, 'utf8')).toBe('new');
  });

  it('removes the temporaries of processes that are gone, not those of live ones nor other files', async () => {
    const dir = join(work, 'stale');
    mkdirSync(dir);
    // PID 2^22 + 1 is above Linux's largest PID: no such process.
    const dead = `.model.safetensors.${2 ** 22 + 1}-0123abcd.tmp`;
    const live = `.model.safetensors.${process.pid}-0123abcd.tmp`;
    const staging = `.run.${2 ** 22 + 1}-89abcdef.tmp`;
    writeFileSync(join(dir, dead), 'half');
    writeFileSync(join(dir, live), 'being written');
    mkdirSync(join(dir, staging));
    writeFileSync(join(dir, staging, 'config.json'), '{}');
    writeFileSync(join(dir, '.notes.tmp'), 'mine');
    writeFileSync(join(dir, 'model.safetensors'), 'weights');
    expect((await removeStaleTemporaries(dir)).sort()).toEqual([dead, staging].sort());
    expect(readdirSync(dir).sort()).toEqual([live, '.notes.tmp', 'model.safetensors'].sort());
    // The next write into the folder does the same.
    writeFileSync(join(dir, dead), 'half again');
    await writeFileAtomic(join(dir, 'out.json'), '{}');
    expect(readdirSync(dir)).not.toContain(dead);
  });

  it('a checkpoint saved with `remove` over another drops the files of the old weights', async () => {
    const dir = join(work, 'replace');
    await saveCheckpointDirectory(dir, checkpointFiles('F32', 5).files, { 'eval.json': '{}', 'tokenizer.json': '{}' });
    writeFileSync(join(dir, 'notes.txt'), 'keep me');
    await saveCheckpointDirectory(
      dir,
      checkpointFiles('F16', 6).files,
      { 'tokenizer.json': '{"new": 1}' },
      { remove: ['eval.json', 'tokenizer.json'] },
    );
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'notes.txt', 'tokenizer.json']);
    expect(readFileSync(join(dir, 'tokenizer.json'), 'utf8')).toBe('{"new": 1}');
  });
});
