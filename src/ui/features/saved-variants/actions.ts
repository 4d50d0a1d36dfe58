// Kept variants: the variants made here live in IndexedDB (variant-store.ts) with the points
// measured for them, so they survive a reload; they can be exported as checkpoints, imported back,
// deleted; an interrupted recalibration is offered to resume.

import { usesRope } from '../../../model/config.ts';
import { BASE_VARIANT, type VariantInfo } from '../../settings.ts';
import { recalibrating, type AppState } from '../../store/store.ts';
import { downloadVariant, ImportError, readImportFiles, validateImport } from './import-export.ts';
import { markStored, patchSaved, savedState, setSavedMessage, unmarkStored } from './saved.ts';
import { newVariantKey, VariantStore, VariantStoreError } from './variant-store.ts';
import type { Controller } from '../../controller.ts';

export class KeptVariants {
  constructor(private readonly app: Controller) {}

  private get state(): AppState {
    return this.app.store.getState();
  }

  /** Stored variants back into the worker: all of the loaded model's (after a load), or the one just imported. */
  restore(imported?: string): void {
    const request = this.app.worker.request({ type: 'restoreVariants', ...(imported ? { keys: [imported] } : {}) }, (event) => {
      this.state.addVariant(event.variant, imported !== undefined);
      if (event.stored) {
        markStored(event.variant.id, event.stored);
        void this.restorePoints(event.variant, event.stored);
      }
      if (imported) setSavedMessage({ kind: 'info', text: `Imported as "${event.variant.label}".` });
    });
    void request.result.then((end) => {
      if (end.type === 'error') {
        if (imported) {
          // Nothing half-loaded: the record goes when the worker could not load it.
          void this.withStore((store) => store.delete(imported)).catch(() => undefined);
          setSavedMessage({ kind: 'error', text: `Import failed: ${end.message}` });
        } else setSavedMessage({ kind: 'error', text: `Some kept variants could not be restored: ${end.message}` });
      }
      if (imported) patchSaved({ importing: false });
    });
  }

  private async withStore<T>(job: (store: VariantStore) => Promise<T>): Promise<T> {
    const store = await VariantStore.open();
    try {
      return await job(store);
    } finally {
      store.close();
    }
  }

  /** Offers the recalibrations a reload or a lost device cut short. */
  async listInterrupted(model: string): Promise<void> {
    try {
      const runs = await this.withStore((store) => store.interrupted(model));
      if (this.state.meta?.name === model) patchSaved({ interrupted: runs });
    } catch {
      // No IndexedDB: nothing was kept either.
    }
  }

  /** "Discard": forgets an interrupted recalibration. */
  async discardInterrupted(key: string): Promise<void> {
    try {
      await this.withStore((store) => store.delete(key));
      patchSaved((x) => ({ interrupted: x.interrupted.filter((r) => r.key !== key) }));
    } catch (error) {
      setSavedMessage({ kind: 'error', text: `Discard failed: ${(error as Error).message}` });
    }
  }

  /** The points measured for a kept variant before the reload, back in the chart. */
  private async restorePoints(variant: VariantInfo, key: string): Promise<void> {
    try {
      const stored = await this.withStore((store) => store.points(key));
      if (savedState().stored[variant.id] !== key) return;
      for (const [suffix, series] of Object.entries(stored.series)) {
        for (const p of series.points) this.state.addMeasuredPoint(`${variant.id}|${suffix}`, series.label, p.length, p.ppl);
      }
    } catch {
      // Points are a convenience: without them the variant is simply measured again.
    }
  }

  /** Keeps a measured point of a kept variant, so the chart shows it after a reload. */
  keepPoint(seriesId: string, label: string, length: number, ppl: number): void {
    const bar = seriesId.indexOf('|');
    const key = bar < 0 ? undefined : savedState().stored[seriesId.slice(0, bar)];
    if (!key) return;
    void this.withStore((store) => store.addPoint(key, seriesId.slice(bar + 1), label, length, ppl)).catch(() => undefined);
  }

  /** "Export": the variant's config.json and model.safetensors, as two downloads. */
  async exportVariant(variantId: string): Promise<void> {
    const key = savedState().stored[variantId];
    if (!key) return;
    try {
      const record = await this.withStore((store) => store.get(key));
      if (!record) throw new Error('it is no longer stored (deleted in another tab?)');
      downloadVariant(record);
      setSavedMessage({
        kind: 'info',
        text: `Exported "${record.label}": config.json and model.safetensors. Put both in one folder to load it.`,
      });
    } catch (error) {
      setSavedMessage({ kind: 'error', text: `Export failed: ${(error as Error).message}` });
    }
  }

  /** "Delete": the variant leaves the store, the worker, the list and the chart. */
  async deleteVariant(variantId: string): Promise<void> {
    const key = savedState().stored[variantId];
    if (!key || recalibrating(this.state)) return;
    try {
      await this.withStore((store) => store.delete(key));
    } catch (error) {
      setSavedMessage({ kind: 'error', text: `Delete failed: ${(error as Error).message}` });
      return;
    }
    const s = this.state;
    unmarkStored(variantId);
    if (s.evaluation?.seriesId.startsWith(`${variantId}|`)) {
      this.app.worker.control({ type: 'cancel', target: s.evaluation.requestId });
      s.setEvaluation(null);
    }
    this.app.worker.request({ type: 'forgetVariant', variant: variantId });
    const label = s.variants.find((v) => v.id === variantId)?.label ?? variantId;
    this.app.store.setState((state) => ({
      variants: state.variants.filter((v) => v.id !== variantId),
      series: state.series.filter((x) => !x.id.startsWith(`${variantId}|`)),
      activeVariant: state.activeVariant === variantId ? BASE_VARIANT : state.activeVariant,
    }));
    setSavedMessage({ kind: 'info', text: `Deleted "${label}".` });
  }

  /** "Import checkpoint" and drops: validated on the page, kept, then loaded by the worker. */
  async importFiles(files: File[]): Promise<void> {
    const s = this.state;
    const model = this.app.models.baseConfig;
    if (savedState().importing) return;
    if (!model || !s.meta || s.weights.kind !== 'ready') {
      setSavedMessage({ kind: 'error', text: 'Import failed: load a model first (imports are variants of the loaded model).' });
      return;
    }
    patchSaved({ importing: true, message: { kind: 'info', text: 'Checking the files…' } });
    try {
      const { checkpoint, config, weights } = await validateImport(await readImportFiles(files, model), model);
      const imported = s.variants.filter((v) => v.label.startsWith('Imported')).length;
      const hasRope = usesRope(checkpoint.config);
      const key = newVariantKey();
      await this.withStore((store) =>
        store.put({
          key,
          model: s.meta!.name,
          label: `Imported #${imported + 1}`,
          detail: `Imported from ${files.map((f) => f.name).join(', ')}${hasRope ? '' : ' (no RoPE)'}`,
          origin: 'imported',
          parent: '',
          settings: {},
          created: Date.now(),
          config,
          weights,
        }),
      );
      this.restore(key);
    } catch (error) {
      const known = error instanceof ImportError || error instanceof VariantStoreError;
      const text = known ? error.message : `could not read the files: ${(error as Error).message}`;
      patchSaved({ importing: false, message: { kind: 'error', text: `Import failed: ${text}` } });
    }
  }
}
