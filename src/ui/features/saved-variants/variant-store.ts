// Variants a user made or imported, kept in the browser's IndexedDB so they survive a reload (and a
// lost device): one record per variant with its Hugging Face checkpoint bytes (config.json text,
// model.safetensors F32), plus the perplexities measured for it, kept apart so that adding a point
// never rewrites the weights.
//
// A small promise wrapper around `indexedDB`, no library. Both the page (export, import, delete,
// points) and the engine worker (saving a recalibrated variant, restoring variants) open the same
// database; every function takes the IDBFactory so tests and other contexts can pass their own.

import type { ModelSource } from '../../../model/checkpoint.ts';
import { CONFIG_FILE, WEIGHTS_FILE } from '../../../model/checkpoint.ts';

export const DB_NAME = 'drope-playground';
/** Bump with an `upgrade` step whenever the stores or the record shape change. */
export const DB_VERSION = 1;
const VARIANTS = 'variants';
const POINTS = 'points';

/** What a stored variant records besides its weights. */
export interface StoredSettings {
  steps?: number;
  lr?: number;
  batch?: number;
  seed?: number;
}

export interface StoredVariant {
  /** Unique and stable across reloads: the key of both object stores. */
  key: string;
  /** The model (models/index.json name) it belongs to: only that model's variants are restored. */
  model: string;
  label: string;
  /** One line for the variant list. */
  detail: string;
  origin: 'recalibrated' | 'imported';
  /** The label of the variant it was made from ('' for an import). */
  parent: string;
  settings: StoredSettings;
  /** Date.now() when it was stored. */
  created: number;
  /** config.json's text, as serializeCheckpoint wrote it. */
  config: string;
  /** model.safetensors, F32. */
  weights: Uint8Array;
  /**
   * Set while the recalibration that makes it has not finished (a reload or a lost device cut it
   * short): the step of the weights above and the trainer's state (AdamW moments, data RNG, log;
   * Trainer.saveState) to resume from exactly there.
   */
  interrupted?: { step: number; steps: number; trainerState: Uint8Array };
}

/** Measured perplexities of one variant, by series suffix ("mode|c", see settings.ts seriesId). */
export interface StoredPoints {
  key: string;
  series: Record<string, { label: string; points: { length: number; ppl: number }[] }>;
}

/** A variant without its bytes: what a list shows. */
export type StoredVariantSummary = Omit<StoredVariant, 'config' | 'weights' | 'interrupted'> & {
  interrupted?: { step: number; steps: number };
};

export class VariantStoreError extends Error {}

/** A key that sorts by creation time and does not collide between tabs. */
export function newVariantKey(now: number = Date.now(), random: () => number = Math.random): string {
  const suffix = Math.floor(random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0');
  return `${now.toString(36).padStart(9, '0')}-${suffix}`;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Checks a record read back from the database (another version of the app, or a half-written
 * record, may have left anything there): the record, or a reason it is unusable.
 */
export function checkStoredVariant(raw: unknown): StoredVariant | string {
  if (!isRecord(raw)) return 'not an object';
  for (const field of ['key', 'model', 'label', 'detail', 'parent', 'config'] as const) {
    if (typeof raw[field] !== 'string') return `field "${field}" is not a string`;
  }
  if (raw.origin !== 'recalibrated' && raw.origin !== 'imported') return 'field "origin" is neither "recalibrated" nor "imported"';
  if (typeof raw.created !== 'number' || !Number.isFinite(raw.created)) return 'field "created" is not a time';
  if (!(raw.weights instanceof Uint8Array) || raw.weights.length < 8) return 'field "weights" holds no safetensors bytes';
  if (!isRecord(raw.settings)) return 'field "settings" is not an object';
  if (raw.interrupted !== undefined) {
    const i = raw.interrupted;
    if (!isRecord(i) || typeof i.step !== 'number' || typeof i.steps !== 'number' || !(i.trainerState instanceof Uint8Array)) {
      return 'field "interrupted" is not a resumable checkpoint';
    }
  }
  return raw as unknown as StoredVariant;
}

/** The record without its bytes. */
export function summarize(record: StoredVariant): StoredVariantSummary {
  const { config: _config, weights: _weights, interrupted, ...rest } = record;
  return interrupted ? { ...rest, interrupted: { step: interrupted.step, steps: interrupted.steps } } : rest;
}

/** Adds one measured point to a variant's points (replacing one at the same length). */
export function addPoint(stored: StoredPoints, suffix: string, label: string, length: number, ppl: number): StoredPoints {
  const series = stored.series[suffix];
  const points = [...(series?.points ?? []).filter((p) => p.length !== length), { length, ppl }].sort((a, b) => a.length - b.length);
  return { key: stored.key, series: { ...stored.series, [suffix]: { label, points } } };
}

/** A ModelSource over checkpoint files held in memory (a stored record, or files a user dropped). */
export function memorySource(files: Map<string, Uint8Array>, describe: string): ModelSource {
  const get = (file: string): Uint8Array => {
    const bytes = files.get(file);
    if (!bytes) throw new Error(`${describe} has no ${file}`);
    return bytes;
  };
  return {
    describe,
    readText: async (file) => new TextDecoder().decode(get(file)),
    readBytes: async (file) => get(file),
    has: async (file) => files.has(file),
  };
}

/** A stored variant's files, as a checkpoint directory would hold them. */
export function storedFiles(record: StoredVariant): Map<string, Uint8Array> {
  return new Map([
    [CONFIG_FILE, new TextEncoder().encode(record.config)],
    [WEIGHTS_FILE, record.weights],
  ]);
}

// ------------------------------------------------------------------------------------ IndexedDB

/**
 * An IndexedDB failure as a message a user can act on. A write that exceeds the storage quota
 * aborts its transaction, so nothing kept before it changes: the message says both.
 */
function storeError(error: DOMException | null, fallback: string): VariantStoreError {
  if (error?.name === 'QuotaExceededError') {
    return new VariantStoreError(
      "the browser's storage for this page is full (QuotaExceededError): delete kept variants you no longer need or free " +
        'disk space; the variants kept before are unchanged',
    );
  }
  return new VariantStoreError(`IndexedDB: ${error?.message ?? fallback}`);
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(storeError(req.error, 'request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    const fail = () => reject(storeError(tx.error, 'transaction aborted'));
    tx.onerror = fail;
    tx.onabort = fail;
  });
}

/** The IDBFactory of this context, or null where there is none (Node, some private modes). */
export function defaultFactory(): IDBFactory | null {
  try {
    return typeof indexedDB === 'undefined' ? null : indexedDB;
  } catch {
    return null;
  }
}

export class VariantStore {
  private constructor(private readonly db: IDBDatabase) {}

  static async open(factory: IDBFactory | null = defaultFactory()): Promise<VariantStore> {
    if (!factory) throw new VariantStoreError('this browser offers no IndexedDB: variants cannot be kept across reloads');
    const req = factory.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(VARIANTS)) db.createObjectStore(VARIANTS, { keyPath: 'key' }).createIndex('model', 'model');
      if (!db.objectStoreNames.contains(POINTS)) db.createObjectStore(POINTS, { keyPath: 'key' });
    };
    const db = await request(req);
    // Another tab upgrading the schema: let it, and reopen next time.
    db.onversionchange = () => db.close();
    return new VariantStore(db);
  }

  close(): void {
    this.db.close();
  }

  async put(record: StoredVariant): Promise<void> {
    const tx = this.db.transaction(VARIANTS, 'readwrite');
    tx.objectStore(VARIANTS).put(record);
    await done(tx);
  }

  async get(key: string): Promise<StoredVariant | null> {
    const raw = await request(this.db.transaction(VARIANTS).objectStore(VARIANTS).get(key));
    if (raw === undefined) return null;
    const checked = checkStoredVariant(raw);
    if (typeof checked === 'string') throw new VariantStoreError(`stored variant ${key} is unusable: ${checked}`);
    return checked;
  }

  /** Keys of a model's variants, oldest first (keys sort by creation time). */
  async keys(model: string): Promise<string[]> {
    const keys = await request(this.db.transaction(VARIANTS).objectStore(VARIANTS).index('model').getAllKeys(model));
    return keys.map(String).sort();
  }

  /** Summaries of a model's interrupted recalibrations, oldest first. */
  async interrupted(model: string): Promise<StoredVariantSummary[]> {
    const out: StoredVariantSummary[] = [];
    for (const key of await this.keys(model)) {
      const record = await this.get(key).catch(() => null);
      if (record?.interrupted) out.push(summarize(record));
    }
    return out;
  }

  /** Deletes a variant and its points. */
  async delete(key: string): Promise<void> {
    const tx = this.db.transaction([VARIANTS, POINTS], 'readwrite');
    tx.objectStore(VARIANTS).delete(key);
    tx.objectStore(POINTS).delete(key);
    await done(tx);
  }

  async points(key: string): Promise<StoredPoints> {
    const raw = await request(this.db.transaction(POINTS).objectStore(POINTS).get(key));
    return isRecord(raw) && isRecord(raw.series) ? (raw as unknown as StoredPoints) : { key, series: {} };
  }

  /** Adds a point in one transaction (read, merge, write), so concurrent points never drop one. */
  async addPoint(key: string, suffix: string, label: string, length: number, ppl: number): Promise<void> {
    const tx = this.db.transaction(POINTS, 'readwrite');
    const store = tx.objectStore(POINTS);
    const req = store.get(key);
    req.onsuccess = () => {
      const raw = req.result;
      const current: StoredPoints = isRecord(raw) && isRecord(raw.series) ? (raw as unknown as StoredPoints) : { key, series: {} };
      store.put(addPoint(current, suffix, label, length, ppl));
    };
    await done(tx);
  }
}
