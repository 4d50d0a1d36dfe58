// The engine worker's requests that bring weights in: init (the WebGPU device), loadModel (a
// shipped model or a Hub model, with its tokenizer and validation text) and loadVariant (another
// shipped or Hub model beside the loaded one, for side by side).

import { Engine, EngineError } from '../../engine/engine.ts';
import { expectedTensorShapes, loadCheckpoint, loadConfig, type ModelSource } from '../../model/checkpoint.ts';
import { LlamaModel } from '../../model/model.ts';
import { urlSource } from '../../model/source-url.ts';
import { hubSource } from '../../model/source-hub.ts';
import { cacheStorageByteCache } from '../features/model/hub-cache.ts';
import { loadTokenizer, TOKENIZER_FILE } from '../../model/tokenizer.ts';
import { BASE_VARIANT, type VariantInfo } from '../settings.ts';
import type { Command } from './protocol.ts';
import { shippedVariantId } from '../features/side-by-side/shipped-variants.ts';
import {
  hubVariantId,
  hubVariantInfo,
  incompatible,
  tokenizerDifference,
  vocabSizeDifference,
} from '../features/side-by-side/hub-variants.ts';
import { fetchText, messageOf, type WorkerHost } from './host.ts';
import { sameShapes } from './variants.ts';

export async function init(host: WorkerHost, id: number): Promise<void> {
  if (!host.engine) {
    try {
      host.engine = await Engine.create(navigator.gpu);
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      const reason = navigator.gpu
        ? 'This browser supports WebGPU but offered no adapter: the GPU may be blocklisted, or hardware acceleration is off.'
        : 'This browser does not expose WebGPU to workers (navigator.gpu is missing there).';
      host.post({ type: 'noWebGPU', id, reason });
      return;
    }
    host.engine.onFailure((message, lost) => {
      host.post({ type: 'gpuFailure', id: 0, message, lost });
      // A paused recalibration waits for no GPU work: wake it, so it ends with the loss as its error.
      if (lost) for (const c of host.controls.values()) c.resume?.();
    });
  }
  const engine = host.engine;
  host.post({
    type: 'ready',
    id,
    adapter: {
      name: engine.adapterName,
      software: engine.adapter.software,
      maxBufferSize: engine.limits.maxBufferSize,
      maxStorageBinding: engine.limits.maxStorageBufferBindingSize,
      shaderF16: engine.supportsF16,
    },
  });
}

/** Frees the loaded model and every variant made from it. */
export function unload(host: WorkerHost): void {
  if (!host.loaded) return;
  const models = new Set([...host.loaded.variants.values()].map((v) => v.model));
  for (const model of models) model.destroy();
  host.loaded = null;
}

/** A Hub model through the Cache Storage cache, with `download` events at most every 100 ms per file (and at each file's end). */
function hubModelSource(host: WorkerHost, id: number, hub: { id: string; endpoint: string }) {
  let last = 0;
  return hubSource(hub.id, {
    endpoint: hub.endpoint,
    cache: cacheStorageByteCache(),
    onProgress: (file, loaded, total) => {
      const now = performance.now();
      const complete = total !== undefined && loaded === total;
      if (!complete && loaded !== 0 && now - last < 100) return;
      last = now;
      host.post({ type: 'download', id, file, loaded, total });
    },
  });
}

export async function loadModel(host: WorkerHost, command: Extract<Command, { type: 'loadModel' }>): Promise<void> {
  const gpu = host.requireEngine();
  unload(host);
  const source = command.hub ? hubModelSource(host, command.id, command.hub) : urlSource(command.baseUrl);
  const [checkpoint, tokenizer, text] = await Promise.all([
    loadCheckpoint(source),
    loadTokenizer(source),
    fetchText(command.validationUrl),
  ]);
  const validation = tokenizer.encode(text);
  const model = LlamaModel.fromCheckpoint(gpu, checkpoint, { weights: command.weights, activations: command.activations });
  const config = checkpoint.config;
  const hasRope = model.defaultPositions.kind !== 'none';
  const base: VariantInfo = { id: BASE_VARIANT, label: hasRope ? 'RoPE' : 'No RoPE', kind: 'base', hasRope, detail: 'As trained' };
  const files = command.hub ? hubSource(command.hub.id, { endpoint: command.hub.endpoint, cache: cacheStorageByteCache() }) : source;
  host.loaded = {
    name: command.name,
    config,
    tokenizer,
    validation,
    variants: new Map([[BASE_VARIANT, { info: base, model }]]),
    training: null,
    made: 0,
    files,
    tokenizerJson: null,
  };
  let parameters = 0;
  for (const data of checkpoint.tensors.values()) parameters += data.length;
  host.post({
    type: 'modelLoaded',
    id: command.id,
    summary: { name: command.name, trainContext: config.maxPositionEmbeddings, parameters, validationTokens: validation.length },
  });
}

/**
 * Side by side: another shipped model of the loaded one's tensor shapes as a variant, read as
 * loadModel reads a model (checkpoint.ts through urlSource) and checked as a restored variant is.
 * Loaded once; it goes with every other variant at the next loadModel (unload).
 */
export async function loadVariant(host: WorkerHost, command: Extract<Command, { type: 'loadVariant' }>): Promise<void> {
  if (command.hub) return loadHubVariant(host, command, command.hub);
  const gpu = host.requireEngine();
  const loadedModel = host.requireModel();
  const id = shippedVariantId(command.name);
  let variant = loadedModel.variants.get(id);
  if (!variant) {
    const checkpoint = await loadCheckpoint(urlSource(command.baseUrl));
    if (!sameShapes(expectedTensorShapes(checkpoint.config), expectedTensorShapes(loadedModel.config))) {
      throw new Error(`${command.name}'s tensor shapes differ from ${loadedModel.name}'s`);
    }
    const model = LlamaModel.fromCheckpoint(gpu, checkpoint);
    // attention_type "nope" in its config.json: no rotary embeddings (src/model/positions.ts).
    const hasRope = model.defaultPositions.kind !== 'none';
    variant = { info: { id, label: command.name, kind: 'base', hasRope, detail: `${command.name}, as trained` }, model };
    loadedModel.variants.set(id, variant);
  }
  host.post({ type: 'variant', id: command.id, variant: variant.info });
  host.post({ type: 'done', id: command.id });
}

/** A tokenizer.json, parsed; `where` names the model in errors. */
async function readTokenizerJson(source: ModelSource, where: string): Promise<unknown> {
  if (!(await source.has(TOKENIZER_FILE)))
    throw new Error(`${where} has no ${TOKENIZER_FILE}, so it cannot be checked against the current model's tokenizer`);
  const text = await source.readText(TOKENIZER_FILE);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${TOKENIZER_FILE} of ${where} is not valid JSON: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * Side by side: a Hub model beside the loaded one, as the variant "hub:ORG/NAME" (protocol.ts).
 * What generation needs is checked before the weights are fetched: config.json's vocab_size, then
 * tokenizer.json against the loaded model's (hub-variants.ts tokenizerDifference: vocab map,
 * merges and added tokens, not the file's bytes). Its tensors are checked by loadCheckpoint against
 * its own config.json, not against the loaded model's shapes (SmolLM-360M-DroPE has q_norm/k_norm
 * where SmolLM-360M has none). Loaded once; it goes with every other variant at the next loadModel.
 */
async function loadHubVariant(
  host: WorkerHost,
  command: Extract<Command, { type: 'loadVariant' }>,
  hub: { id: string; endpoint: string },
): Promise<void> {
  const gpu = host.requireEngine();
  if (!host.loaded) throw new Error(`cannot put ${hub.id} beside the current model: no model is loaded yet (load one first, then compare)`);
  const loadedModel = host.loaded;
  const id = hubVariantId(hub.id);
  let variant = loadedModel.variants.get(id);
  if (!variant) {
    const names = { a: loadedModel.name, b: hub.id };
    const source = hubModelSource(host, command.id, hub);
    const config = await loadConfig(source);
    const sizes = vocabSizeDifference(loadedModel.config.vocabSize, config.vocabSize, names);
    if (sizes) throw new Error(incompatible(names, sizes));
    loadedModel.tokenizerJson ??= readTokenizerJson(loadedModel.files, loadedModel.name);
    // A failed read is not kept: the next try reads again.
    const current = await loadedModel.tokenizerJson.catch((error: unknown) => {
      loadedModel.tokenizerJson = null;
      throw error;
    });
    const tokenizers = tokenizerDifference(current, await readTokenizerJson(source, hub.id), names);
    if (tokenizers) throw new Error(incompatible(names, tokenizers));
    const checkpoint = await loadCheckpoint(source);
    const model = LlamaModel.fromCheckpoint(gpu, checkpoint, { weights: command.weights, activations: command.activations });
    // Its own config.json decides its positions: attention_type nope / qk_norm_nope, no rotary embeddings.
    variant = { info: hubVariantInfo(hub.id, model.defaultPositions.kind !== 'none'), model };
    loadedModel.variants.set(id, variant);
  }
  host.post({ type: 'variant', id: command.id, variant: variant.info });
  host.post({ type: 'done', id: command.id });
}
