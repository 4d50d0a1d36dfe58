// The engine worker's requests that make, keep and free variants of the loaded model: dropRope,
// recalibrate (kept in the variant store as it trains, resumable), restoreVariants (the stored
// ones, back on the GPU) and forgetVariant; and the variant-store helpers they share.

import { expectedTensorShapes, loadCheckpoint } from '../../model/checkpoint.ts';
import { LlamaModel } from '../../model/model.ts';
import { serializeCheckpoint } from '../../model/save.ts';
import { TokenStream } from '../../train/data.ts';
import { NonFiniteError, Trainer } from '../../train/trainer.ts';
import { BASE_VARIANT, type VariantInfo } from '../settings.ts';
import type { Command } from './protocol.ts';
import { memorySource, newVariantKey, storedFiles, VariantStore, type StoredVariant } from '../features/saved-variants/variant-store.ts';
import { CancelledError, fetchText, messageOf, type WorkerHost } from './host.ts';

export function dropRope(host: WorkerHost, command: Extract<Command, { type: 'dropRope' }>): void {
  const model = host.requireModel();
  const parent = host.variant(command.from);
  if (!parent.info.hasRope) throw new Error(`${parent.info.label} has no RoPE to drop`);
  const existing = [...model.variants.values()].find((v) => v.info.kind === 'dropped' && v.info.parent === parent.info.id);
  if (existing) {
    host.post({ type: 'variant', id: command.id, variant: existing.info });
    host.post({ type: 'done', id: command.id });
    return;
  }
  const info: VariantInfo = {
    id: `dropped-${++model.made}`,
    label: 'RoPE dropped',
    kind: 'dropped',
    hasRope: false,
    parent: parent.info.id,
    detail: `${parent.info.label}'s weights, rotary embeddings removed from every layer`,
  };
  model.variants.set(info.id, { info, model: parent.model });
  host.post({ type: 'variant', id: command.id, variant: info });
  host.post({ type: 'done', id: command.id });
}

async function trainingStream(host: WorkerHost, urls: string[]): Promise<TokenStream> {
  const model = host.requireModel();
  const key = urls.join('\n');
  if (model.training?.key === key) return model.training.stream;
  const texts = await Promise.all(urls.map(fetchText));
  // The CLI's `train` joins the novels the same way (src/cli/train.ts trainingTokens).
  const stream = new TokenStream(model.tokenizer.encode(texts.join('\n\n')));
  model.training = { key, stream };
  return stream;
}

/** 0.001 → "1e-3": how learning rates are usually written. */
function formatLr(lr: number): string {
  return lr.toExponential();
}

export async function recalibrate(host: WorkerHost, command: Extract<Command, { type: 'recalibrate' }>): Promise<void> {
  const { id, steps, lr, batch, seed } = command;
  const gpu = host.requireEngine();
  const loadedModel = host.requireModel();
  // Resuming an interrupted run: its kept weights and trainer state, instead of a parent's weights.
  const resumed = command.resume ? await readInterrupted(host, command.resume) : null;
  const parent = resumed ? null : host.variant(command.from);
  if (parent?.info.hasRope) throw new Error('recalibration trains a model without RoPE: drop RoPE first');
  // A half-precision model (a Hub model loaded as f16) is for inference: its f32 copy would need the
  // memory f16 was chosen to save, and would train from rounded weights.
  parent?.model.assertTrainable();
  const parentLabel = resumed?.record.parent ?? parent!.info.label;
  const key = command.resume ?? newVariantKey();
  const control = host.control(id);

  host.post({ type: 'status', id, phase: 'preparing', message: 'Reading the training text…' });
  const stream = await trainingStream(host, command.trainUrls);
  if (control.stopped) throw new CancelledError();

  // A copy of the parent's weights: the parent stays as it was, for comparison.
  const config = loadedModel.config;
  const model = LlamaModel.fromCheckpoint(gpu, { config, tensors: resumed ? resumed.tensors : await parent!.model.readWeights() });
  const trainer = new Trainer(model, stream, {
    steps,
    ctx: config.maxPositionEmbeddings,
    batch,
    lr,
    // The reference runs warm up over the first 4% of steps, then decay by a cosine to 0.
    warmup: Math.round(steps * 0.04),
    seed,
    positions: { kind: 'none' },
  });
  // Kept every `every` steps, so a reload or a lost device loses at most the steps since then.
  const every = checkpointInterval(steps);
  const keep = async () => {
    try {
      const interrupted = { step: trainer.step, steps, trainerState: await trainer.saveState() };
      await storeVariant(
        host,
        model,
        { label: 'Recalibration (interrupted)', detail: `${parentLabel}, interrupted`, hasRope: false },
        { steps, lr, batch, seed },
        parentLabel,
        key,
        interrupted,
      );
      host.post({ type: 'checkpointed', id, step: trainer.step, key });
    } catch {
      // Keeping is best effort (a full disk): training goes on.
    }
  };
  host.post({ type: 'status', id, phase: 'training', message: 'Training' });
  try {
    if (resumed) {
      trainer.restoreState(resumed.trainerState);
      // The loss chart picks up where the run was cut.
      for (const r of trainer.log) host.post({ type: 'step', id, step: r.step, steps, loss: r.loss, lr: r.lr });
    }
    while (!trainer.done && !control.stopped) {
      if (control.paused) {
        host.post({ type: 'paused', id });
        await new Promise<void>((resolve) => (control.resume = resolve));
        control.resume = null;
        gpu.assertAlive();
        if (!control.stopped) host.post({ type: 'resumed', id });
        continue;
      }
      const record = await trainer.trainStep();
      host.post({ type: 'step', id, step: record.step, steps, loss: record.loss, lr: record.lr });
      if (!trainer.done && !control.stopped && trainer.step % every === 0) await keep();
    }
  } catch (error) {
    model.destroy();
    if (error instanceof NonFiniteError) {
      // Resuming would diverge again: nothing worth keeping.
      await deleteStored(key);
      throw new Error(`${error.message}; try a lower learning rate`, { cause: error });
    }
    throw error;
  } finally {
    trainer.destroy();
  }
  if (trainer.step === 0) {
    model.destroy();
    throw new CancelledError();
  }
  const parentId = parent?.info.id ?? command.from;
  const base = `Recalibrated (${trainer.step} steps, LR ${formatLr(lr)})`;
  const same = [...loadedModel.variants.values()].filter((v) => v.info.label === base || v.info.label.startsWith(`${base} #`)).length;
  const info: VariantInfo = {
    id: `recalibrated-${++loadedModel.made}`,
    label: same === 0 ? base : `${base} #${same + 1}`,
    kind: 'recalibrated',
    hasRope: false,
    parent: parentId,
    detail: `${parentLabel}, trained ${trainer.step} steps at context ${config.maxPositionEmbeddings}, batch ${batch}, peak LR ${formatLr(lr)}, seed ${seed}`,
  };
  // Kept in IndexedDB, so a reload (or a lost device) does not lose it; failing that, it still
  // works in this page.
  let stored: string | undefined;
  let storeProblem: string | undefined;
  try {
    stored = await storeVariant(host, model, info, { steps: trainer.step, lr, batch, seed }, parentLabel, key);
  } catch (error) {
    storeProblem = `not kept for a reload: ${messageOf(error)}`;
  }
  loadedModel.variants.set(info.id, { info, model, stored });
  host.post({ type: 'variant', id, variant: info, stored, storeProblem });
  host.post({ type: 'done', id });
}

/** Steps between kept checkpoints of a recalibration: about ten per run, at least every 50 steps. */
function checkpointInterval(steps: number): number {
  return Math.min(50, Math.max(1, Math.ceil(steps / 10)));
}

/** An interrupted recalibration's kept weights (f32, checked) and trainer state. */
async function readInterrupted(
  host: WorkerHost,
  key: string,
): Promise<{ record: StoredVariant; tensors: Map<string, Float32Array>; trainerState: Uint8Array }> {
  const store = await VariantStore.open();
  try {
    const record = await store.get(key);
    if (!record?.interrupted) throw new Error('that interrupted recalibration is no longer kept');
    const checkpoint = await loadCheckpoint(memorySource(storedFiles(record), record.label));
    if (!sameShapes(expectedTensorShapes(checkpoint.config), expectedTensorShapes(host.requireModel().config))) {
      throw new Error(`its tensor shapes differ from ${host.requireModel().name}'s`);
    }
    return { record, tensors: checkpoint.tensors, trainerState: record.interrupted.trainerState };
  } finally {
    store.close();
  }
}

async function deleteStored(key: string): Promise<void> {
  try {
    const store = await VariantStore.open();
    await store.delete(key).finally(() => store.close());
  } catch {
    // Nothing stored, or no IndexedDB.
  }
}

/**
 * Saves a variant made here into the variant store, as an F32 Hugging Face checkpoint, under
 * `key` (a newer save of the same run replaces the older); its key. With `interrupted`, the record
 * is a resumable checkpoint of an unfinished run.
 */
async function storeVariant(
  host: WorkerHost,
  model: LlamaModel,
  info: Pick<VariantInfo, 'label' | 'detail' | 'hasRope'>,
  settings: StoredVariant['settings'],
  parentLabel: string,
  key: string = newVariantKey(),
  interrupted?: StoredVariant['interrupted'],
): Promise<string> {
  const loadedModel = host.requireModel();
  const config = loadedModel.config;
  // No RoPE in these weights: attention_type "nope" says so (src/model/config.ts), so loading the
  // file back, here or with our CLI, evaluates it without rotary embeddings.
  const raw = info.hasRope ? config.raw : { ...config.raw, attention_type: 'nope' };
  const files = serializeCheckpoint(raw, await model.readWeights(), expectedTensorShapes(config), 'F32');
  const record: StoredVariant = {
    key,
    model: loadedModel.name,
    label: info.label,
    detail: info.detail,
    origin: 'recalibrated',
    parent: parentLabel,
    settings,
    created: Date.now(),
    config: new TextDecoder().decode(files.get('config.json')!),
    weights: files.get('model.safetensors')!,
    ...(interrupted ? { interrupted } : {}),
  };
  const store = await VariantStore.open();
  try {
    await store.put(record);
  } finally {
    store.close();
  }
  return record.key;
}

export function sameShapes(a: Map<string, number[]>, b: Map<string, number[]>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, shape] of a) {
    const other = b.get(name);
    if (!other || other.length !== shape.length || other.some((d, i) => d !== shape[i])) return false;
  }
  return true;
}

/** Loads the stored variants of the loaded model (or those `keys`) into the GPU, one event each. */
export async function restoreVariants(host: WorkerHost, command: Extract<Command, { type: 'restoreVariants' }>): Promise<void> {
  const gpu = host.requireEngine();
  const loadedModel = host.requireModel();
  const store = await VariantStore.open();
  const problems: string[] = [];
  try {
    const keys = command.keys ?? (await store.keys(loadedModel.name));
    for (const key of keys) {
      if (host.isCancelled(command.id)) throw new CancelledError();
      const id = `saved-${key}`;
      const existing = loadedModel.variants.get(id);
      if (existing) {
        host.post({ type: 'variant', id: command.id, variant: existing.info, stored: key });
        continue;
      }
      try {
        const record = await store.get(key);
        if (!record) throw new Error('it is no longer stored');
        // An unfinished recalibration is offered to resume (the page lists it), not shown as a variant.
        if (record.interrupted) continue;
        const checkpoint = await loadCheckpoint(memorySource(storedFiles(record), record.label));
        if (!sameShapes(expectedTensorShapes(checkpoint.config), expectedTensorShapes(loadedModel.config))) {
          throw new Error(`its tensor shapes differ from ${loadedModel.name}'s`);
        }
        const model = LlamaModel.fromCheckpoint(gpu, checkpoint);
        const info: VariantInfo = {
          id,
          label: record.label,
          kind: 'recalibrated',
          hasRope: model.defaultPositions.kind !== 'none',
          parent: BASE_VARIANT,
          detail: record.detail,
        };
        loadedModel.variants.set(id, { info, model, stored: key });
        host.post({ type: 'variant', id: command.id, variant: info, stored: key });
      } catch (error) {
        problems.push(`${key}: ${messageOf(error)}`);
      }
    }
  } finally {
    store.close();
  }
  if (problems.length > 0) throw new Error(`could not restore ${problems.length} stored variant(s): ${problems.join('; ')}`);
  host.post({ type: 'done', id: command.id });
}

/** Frees a variant's weights (unless another variant shares them). */
export function forgetVariant(host: WorkerHost, command: Extract<Command, { type: 'forgetVariant' }>): void {
  const loadedModel = host.requireModel();
  const variant = loadedModel.variants.get(command.variant);
  if (variant && command.variant !== BASE_VARIANT) {
    loadedModel.variants.delete(command.variant);
    const shared = [...loadedModel.variants.values()].some((v) => v.model === variant.model);
    if (!shared) variant.model.destroy();
  }
  host.post({ type: 'done', id: command.id });
}
