import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/random.ts';
import { expectedTensorShapes, loadCheckpoint } from '../../src/model/checkpoint.ts';
import { parseConfig } from '../../src/model/config.ts';
import { parseSafetensors, writeSafetensors, type WritableTensor } from '../../src/model/safetensors.ts';
import { directorySource } from '../../src/model/source-node.ts';
import { urlSource } from '../../src/model/source-url.ts';
import { FIXTURES, warnIfNoFixtures } from '../helpers/fixtures.ts';
import { describeWithFixtures } from '../helpers/describe-fixtures.ts';

warnIfNoFixtures('the Hugging Face fixture checkpoint tests');

const scratch = mkdtempSync(join(tmpdir(), 'checkpoint-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let scratchCount = 0;
function scratchDir(): string {
  const dir = join(scratch, String(scratchCount++));
  mkdirSync(dir);
  return dir;
}

/**
 * Reads every F32 tensor of a safetensors file without the parser under test: the header with
 * JSON.parse, the data with a DataView.
 */
function independentRead(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const bytes = readFileSync(path);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__' || entry.dtype !== 'F32') continue;
    const [begin, end] = entry.data_offsets;
    const data = new Float32Array((end - begin) / 4);
    for (let i = 0; i < data.length; i++) data[i] = dv.getFloat32(8 + n + begin + 4 * i, true);
    out.set(name, { shape: entry.shape, data });
  }
  return out;
}

function expectSameTensors(actual: Map<string, Float32Array>, expected: Map<string, Float32Array>) {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [name, want] of expected) {
    const got = actual.get(name)!;
    expect(got.length, name).toBe(want.length);
    for (let i = 0; i < want.length; i++) {
      if (!Object.is(got[i], want[i])) expect.fail(`${name}[${i}]: got ${got[i]}, want ${want[i]}`);
    }
  }
}

/** A tiny random config and matching tensors (16-wide heads, GQA), written as a checkpoint by `writeCheckpoint`. */
const tinyConfig = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  vocab_size: 11,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 16,
  max_position_embeddings: 32,
  tie_word_embeddings: false,
};

function randomTensors(raw: Record<string, unknown>, seed = 1): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const tensors = new Map<string, Float32Array>();
  for (const [name, shape] of expectedTensorShapes(parseConfig(raw))) {
    tensors.set(name, rng.normals(shape.reduce((a, b) => a * b, 1)));
  }
  return tensors;
}

/** Writes config.json and the weights, as one file or as `shards` shards with an index. */
function writeCheckpoint(
  dir: string,
  raw: Record<string, unknown>,
  tensors: Map<string, Float32Array>,
  options: { shards?: number; shapes?: Map<string, number[]>; extra?: Record<string, WritableTensor> } = {},
) {
  writeFileSync(join(dir, 'config.json'), JSON.stringify(raw, null, 2));
  const shapes = options.shapes ?? expectedTensorShapes(parseConfig(raw));
  const entries: [string, WritableTensor][] = [...tensors].map(([name, data]) => [
    name,
    { dtype: 'F32', shape: shapes.get(name) ?? [data.length], data },
  ]);
  entries.push(...Object.entries(options.extra ?? {}));
  if (!options.shards) {
    writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(Object.fromEntries(entries), { format: 'pt' }));
    return;
  }
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < options.shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(options.shards).padStart(5, '0')}.safetensors`;
    const mine = entries.filter((_, i) => i % options.shards! === s);
    for (const [name] of mine) weightMap[name] = file;
    writeFileSync(join(dir, file), writeSafetensors(Object.fromEntries(mine), { format: 'pt' }));
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }, null, 2));
}

describeWithFixtures('loadCheckpoint on the Hugging Face fixtures', () => {
  for (const name of ['llama-rope', 'llama-nope']) {
    it(`${name}: config, every tensor present and equal to the file's bytes`, async () => {
      const dir = join(FIXTURES, name);
      const checkpoint = await loadCheckpoint(directorySource(dir));
      expect(checkpoint.config).toMatchObject({
        vocabSize: 97,
        hiddenSize: 64,
        intermediateSize: 176,
        numLayers: 2,
        numHeads: 4,
        numKvHeads: 2,
        headDim: 16,
        maxPositionEmbeddings: 64,
        rmsNormEps: 1e-5,
        ropeTheta: 10000,
        tieWordEmbeddings: true,
        attentionType: name === 'llama-rope' ? 'rope' : 'nope',
        qkNorm: false,
      });
      // Tied embeddings: 2 layers × 9 tensors + embed_tokens + norm, no lm_head.
      expect(checkpoint.tensors.size).toBe(20);
      expect(checkpoint.tensors.has('lm_head.weight')).toBe(false);
      const reference = independentRead(join(dir, 'model.safetensors'));
      expectSameTensors(checkpoint.tensors, new Map([...reference].map(([k, v]) => [k, v.data])));
      for (const [tensor, shape] of expectedTensorShapes(checkpoint.config)) {
        expect(reference.get(tensor)!.shape, tensor).toEqual(shape);
      }
    });

    it(`${name}: expected.safetensors holds I32 input ids within the vocabulary and matching logits`, () => {
      const path = join(FIXTURES, name, 'expected.safetensors');
      const file = parseSafetensors(new Uint8Array(readFileSync(path)), path);
      for (const T of [48, 160]) {
        expect(file.info(`T${T}.input_ids`)).toMatchObject({ dtype: 'I32', shape: [2, T] });
        const ids = file.getI32(`T${T}.input_ids`);
        expect(ids.length).toBe(2 * T);
        expect(ids.every((id) => id >= 0 && id < 97)).toBe(true);
        expect(file.info(`T${T}.logits`).shape).toEqual([2, T, 97]);
        expect(file.getF32(`T${T}.nll`).length).toBe(2 * (T - 1));
      }
      expect(file.info('T48.grad.model.embed_tokens.weight').shape).toEqual([97, 64]);
    });
  }

  it('a sharded copy written with writeSafetensors loads identically (unused tensors ignored)', async () => {
    const dir = join(FIXTURES, 'llama-rope');
    const single = await loadCheckpoint(directorySource(dir));
    const sharded = scratchDir();
    writeCheckpoint(sharded, JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), single.tensors, {
      shards: 3,
      extra: { 'model.layers.0.self_attn.rotary_emb.inv_freq': { dtype: 'F32', shape: [8], data: new Float32Array(8) } },
    });
    const loaded = await loadCheckpoint(directorySource(sharded));
    expect(loaded.config).toEqual(single.config);
    expectSameTensors(loaded.tensors, single.tensors);
  });

  describe('over HTTP with urlSource', () => {
    let server: Server;
    let base = '';
    beforeAll(async () => {
      // Serves FIXTURES read-only; "/spa/..." answers everything with an HTML page, as a dev server's fallback does.
      server = createServer((request, response) => {
        const path = decodeURIComponent(new URL(request.url!, 'http://x').pathname);
        if (path.startsWith('/spa/')) {
          response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
          return;
        }
        const file = join(FIXTURES, path);
        if (path.includes('..') || !existsSync(file) || path.endsWith('/')) {
          response.writeHead(404, 'Not Found').end();
          return;
        }
        const body = readFileSync(file);
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.byteLength });
        response.end(request.method === 'HEAD' ? undefined : body);
      });
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      base = `http://127.0.0.1:${address.port}`;
    });
    afterAll(() => new Promise<void>((done) => server.close(() => done())));

    it('loads the same checkpoint as from the directory', async () => {
      const fromDisk = await loadCheckpoint(directorySource(join(FIXTURES, 'llama-nope')));
      const fromUrl = await loadCheckpoint(urlSource(`${base}/llama-nope`));
      expect(fromUrl.config).toEqual(fromDisk.config);
      expectSameTensors(fromUrl.tensors, fromDisk.tensors);
    });

    it('reports HTTP errors with their status and URL, and has() is false for 404', async () => {
      const source = urlSource(`${base}/no-such-model/`);
      expect(await source.has('config.json')).toBe(false);
      await expect(source.readText('config.json')).rejects.toThrow(`HTTP 404 Not Found fetching ${base}/no-such-model/config.json`);
      await expect(loadCheckpoint(source)).rejects.toThrow(/HTTP 404/);
    });

    it('treats an HTML fallback page as a missing file', async () => {
      const source = urlSource(`${base}/spa/model`);
      expect(await source.has('model.safetensors')).toBe(false);
      await expect(source.readBytes('model.safetensors')).rejects.toThrow(/returned an HTML page, not the file/);
    });

    it('names the URL when the server cannot be reached', async () => {
      await expect(urlSource('http://127.0.0.1:9/m').readText('config.json')).rejects.toThrow(
        /could not fetch http:\/\/127\.0\.0\.1:9\/m\/config\.json/,
      );
    });
  });
});

describe('loadCheckpoint on written checkpoints', () => {
  it('loads an untied checkpoint with lm_head, one file or sharded, identically', async () => {
    const tensors = randomTensors(tinyConfig);
    expect(tensors.has('lm_head.weight')).toBe(true);
    const one = scratchDir();
    writeCheckpoint(one, tinyConfig, tensors);
    const two = scratchDir();
    writeCheckpoint(two, tinyConfig, tensors, { shards: 2 });
    const a = await loadCheckpoint(directorySource(one));
    const b = await loadCheckpoint(directorySource(two));
    expectSameTensors(a.tensors, tensors);
    expectSameTensors(b.tensors, tensors);
  });

  it('loads F16 and BF16 weights, decoded to f32', async () => {
    const tensors = randomTensors(tinyConfig, 5);
    const dir = scratchDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify(tinyConfig));
    const shapes = expectedTensorShapes(parseConfig(tinyConfig));
    const entries = [...tensors].map(([name, data], i): [string, WritableTensor] => [
      name,
      { dtype: i % 2 ? 'F16' : 'BF16', shape: shapes.get(name)!, data },
    ]);
    const bytes = writeSafetensors(Object.fromEntries(entries));
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    const loaded = await loadCheckpoint(directorySource(dir));
    const file = parseSafetensors(bytes, 'half');
    expectSameTensors(loaded.tensors, new Map([...tensors.keys()].map((name) => [name, file.getF32(name)])));
    // Rounded to 16 bits, not garbage: within bf16's relative precision (2^-8) of the originals.
    for (const [name, want] of tensors) {
      const got = loaded.tensors.get(name)!;
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(Math.abs(want[i]) * 2 ** -8 + 1e-7);
    }
  });

  it('loads qk_norm_nope checkpoints with q_norm and k_norm', async () => {
    const raw = { ...tinyConfig, model_type: 'llama_drope', architectures: ['DroPELlamaForCausalLM'], attention_type: 'qk_norm_nope' };
    const shapes = expectedTensorShapes(parseConfig(raw));
    expect(shapes.get('model.layers.1.self_attn.q_norm.weight')).toEqual([32]); // heads × head_dim;
    expect(shapes.get('model.layers.1.self_attn.k_norm.weight')).toEqual([16]); // kv heads × head_dim;
    const tensors = randomTensors(raw);
    const dir = scratchDir();
    writeCheckpoint(dir, raw, tensors);
    const loaded = await loadCheckpoint(directorySource(dir));
    expect(loaded.config.qkNorm).toBe(true);
    expectSameTensors(loaded.tensors, tensors);

    const missing = scratchDir();
    const without = new Map(tensors);
    without.delete('model.layers.0.self_attn.k_norm.weight');
    writeCheckpoint(missing, raw, without);
    await expect(loadCheckpoint(directorySource(missing))).rejects.toThrow(
      /missing tensor model\.layers\.0\.self_attn\.k_norm\.weight \(expected shape \[16\]\) in model\.safetensors/,
    );
  });

  it('ignores lm_head.weight when embeddings are tied', async () => {
    const raw = { ...tinyConfig, tie_word_embeddings: true };
    const tensors = randomTensors(raw);
    const dir = scratchDir();
    writeCheckpoint(dir, raw, tensors, { extra: { 'lm_head.weight': { dtype: 'F32', shape: [11, 16], data: new Float32Array(176) } } });
    const loaded = await loadCheckpoint(directorySource(dir));
    expect(loaded.tensors.has('lm_head.weight')).toBe(false);
    expectSameTensors(loaded.tensors, tensors);
  });

  it('names the path of a missing directory or file', async () => {
    const gone = join(scratch, 'does-not-exist');
    expect(() => directorySource(gone)).toThrow(`checkpoint directory not found: ${gone}`);
    const file = join(scratchDir(), 'a-file');
    writeFileSync(file, 'x');
    expect(() => directorySource(file)).toThrow(`checkpoint path is not a directory: ${file}`);
    const empty = scratchDir();
    await expect(loadCheckpoint(directorySource(empty))).rejects.toThrow(`file not found: ${join(empty, 'config.json')}`);
  });

  it('says so when there are no weights', async () => {
    const dir = scratchDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify(tinyConfig));
    await expect(loadCheckpoint(directorySource(dir))).rejects.toThrow(
      `${dir} has no weights: expected model.safetensors or model.safetensors.index.json`,
    );
  });

  it('names the file for an invalid or unsupported config.json', async () => {
    const dir = scratchDir();
    writeFileSync(join(dir, 'config.json'), '{ "model_type": ');
    await expect(loadCheckpoint(directorySource(dir))).rejects.toThrow(`${dir}/config.json is not valid JSON`);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...tinyConfig, hidden_act: 'gelu' }));
    await expect(loadCheckpoint(directorySource(dir))).rejects.toThrow(`${dir}/config.json: unsupported config: hidden_act "gelu"`);
  });

  it('names tensor, expected and actual shape on a shape mismatch', async () => {
    const tensors = randomTensors(tinyConfig);
    const shapes = expectedTensorShapes(parseConfig(tinyConfig));
    shapes.set('model.layers.1.mlp.down_proj.weight', [24, 16]); // transposed
    const dir = scratchDir();
    writeCheckpoint(dir, tinyConfig, tensors, { shapes });
    await expect(loadCheckpoint(directorySource(dir))).rejects.toThrow(
      'tensor model.layers.1.mlp.down_proj.weight in model.safetensors has shape [24, 16], expected [16, 24]',
    );
  });

  it('lists every missing tensor (an untied checkpoint without lm_head)', async () => {
    const tensors = randomTensors(tinyConfig);
    tensors.delete('lm_head.weight');
    tensors.delete('model.norm.weight');
    const dir = scratchDir();
    writeCheckpoint(dir, tinyConfig, tensors);
    const error = await loadCheckpoint(directorySource(dir)).then(
      () => null,
      (e: Error) => e,
    );
    expect(error?.message).toContain(`checkpoint ${dir} does not match its config.json`);
    expect(error?.message).toContain('missing tensor model.norm.weight (expected shape [16]) in model.safetensors');
    expect(error?.message).toContain('missing tensor lm_head.weight (expected shape [11, 16]) in model.safetensors');
  });

  it('rejects integer weights', async () => {
    const tensors = randomTensors(tinyConfig);
    tensors.delete('model.norm.weight');
    const dir = scratchDir();
    writeCheckpoint(dir, tinyConfig, tensors, { extra: { 'model.norm.weight': { dtype: 'I32', shape: [16], data: new Int32Array(16) } } });
    await expect(loadCheckpoint(directorySource(dir))).rejects.toThrow(/tensor model\.norm\.weight in model\.safetensors has dtype I32/);
  });

  it('reports broken shard indexes: a missing shard, a tensor not in the map or not in its shard, an escaping name', async () => {
    const tensors = randomTensors(tinyConfig);
    const dir = scratchDir();
    writeCheckpoint(dir, tinyConfig, tensors, { shards: 2 });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map: Record<string, string> };
    const write = (weightMap: Record<string, string>) => writeFileSync(indexPath, JSON.stringify({ weight_map: weightMap }));

    write({ ...index.weight_map, 'model.norm.weight': 'model-00003-of-00003.safetensors' });
    await expect(loadCheckpoint(directorySource(dir))).rejects.toThrow(`file not found: ${join(dir, 'model-00003-of-00003.safetensors')}`);

    const { 'model.embed_tokens.weight': _, ...withoutEmbed } = index.weight_map;
    write(withoutEmbed);
    await expect(loadCheckpoint(directorySource(dir))).rejects.toThrow(
      /missing tensor model\.embed_tokens\.weight \(expected shape \[11, 16\]\): not in model\.safetensors\.index\.json's weight_map/,
    );

    const other =
      index.weight_map['model.norm.weight'] === 'model-00001-of-00002.safetensors'
        ? 'model-00002-of-00002.safetensors'
        : 'model-00001-of-00002.safetensors';
    write({ ...index.weight_map, 'model.norm.weight': other });
    await expect(loadCheckpoint(directorySource(dir))).rejects.toThrow(
      `missing tensor model.norm.weight (expected shape [16]) in ${other}`,
    );

    write({ ...index.weight_map, 'model.norm.weight': '../outside.safetensors' });
    await expect(loadCheckpoint(directorySource(dir))).rejects.toThrow(
      /shard file name "\.\.\/outside\.safetensors" must be a relative path inside the checkpoint/,
    );

    writeFileSync(indexPath, '{"weight_map": 3}');
    await expect(loadCheckpoint(directorySource(dir))).rejects.toThrow(`${dir}/model.safetensors.index.json has no "weight_map" object`);
  });

  it('names the file of a corrupt safetensors', async () => {
    const dir = scratchDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify(tinyConfig));
    writeFileSync(join(dir, 'model.safetensors'), new Uint8Array([1, 2, 3]));
    await expect(loadCheckpoint(directorySource(dir))).rejects.toThrow(
      `safetensors file ${dir}/model.safetensors: the file is 3 bytes long`,
    );
  });
});
