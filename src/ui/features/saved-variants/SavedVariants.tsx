// The "Kept variants" card: variants kept in this browser (IndexedDB, src/ui/features/saved-variants) survive a
// reload; each can be exported as a Hugging Face checkpoint or deleted, and a checkpoint can be
// imported with the button or by dropping its files anywhere on the page.
// Accessible names are a contract with e2e/persistence.spec.ts: "Import checkpoint", the file
// input "Checkpoint files", "Export <label>", "Delete <label>".

import { useEffect, useRef, useState } from 'react';
import type { Controller } from '../../controller.ts';
import { IMPORT_ACCEPT } from './import-export.ts';
import { useSaved } from './saved.ts';
import { recalibrating, useApp, useAppShallow } from '../../store/store.ts';

/** True when a drag carries files (not text or a link dragged within the page). */
function carriesFiles(event: DragEvent): boolean {
  return Array.from(event.dataTransfer?.types ?? []).includes('Files');
}

export function SavedVariants({ controller }: { controller: Controller }) {
  const stored = useSaved((s) => s.stored);
  const message = useSaved((s) => s.message);
  const importing = useSaved((s) => s.importing);
  const interrupted = useSaved((s) => s.interrupted);
  const variants = useAppShallow((s) => s.variants.filter((v) => stored[v.id] !== undefined));
  const ready = useApp((s) => s.weights.kind === 'ready' && s.gpu.kind === 'ready');
  const training = useApp(recalibrating);
  const input = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);

  // Drops anywhere on the page import; a drop that misses would otherwise open the file in the tab.
  useEffect(() => {
    let depth = 0;
    const over = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
    };
    const enter = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      depth++;
      setDragging(true);
    };
    const leave = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragging(false);
    };
    const drop = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth = 0;
      setDragging(false);
      const files = Array.from(event.dataTransfer?.files ?? []);
      if (files.length > 0) void controller.kept.importFiles(files);
    };
    window.addEventListener('dragover', over);
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragover', over);
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
    };
  }, [controller]);

  return (
    <section className="card" aria-labelledby="kept-heading">
      <h2 id="kept-heading">Kept variants</h2>
      {variants.length === 0 ? (
        <p className="small muted">Recalibrated and imported variants are kept in this browser and come back after a reload.</p>
      ) : (
        <ul className="kept-list" aria-label="Kept variants" style={{ listStyle: 'none', padding: 0, margin: 0 }}>
          {variants.map((v) => (
            <li key={v.id} style={{ display: 'flex', alignItems: 'center', justifyContent: 'space-between', gap: '0.5rem' }}>
              <span className="small">{v.label}</span>
              <span className="actions">
                <button
                  type="button"
                  className="small-button"
                  aria-label={`Export ${v.label}`}
                  onClick={() => void controller.kept.exportVariant(v.id)}
                >
                  Export
                </button>
                <button
                  type="button"
                  className="small-button"
                  aria-label={`Delete ${v.label}`}
                  disabled={training}
                  onClick={() => void controller.kept.deleteVariant(v.id)}
                >
                  Delete
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
      {interrupted.map((run) => (
        <div key={run.key} className="status-row" role="group" aria-label="Interrupted recalibration">
          <p className="small grow">
            A recalibration of {run.parent || 'a variant'} was cut short: kept at step {run.interrupted?.step} of {run.interrupted?.steps}.
          </p>
          <button type="button" disabled={!ready || training} onClick={() => controller.recalibration.resume(run.key)}>
            Resume
          </button>
          <button type="button" className="small-button" onClick={() => void controller.kept.discardInterrupted(run.key)}>
            Discard
          </button>
        </div>
      ))}
      <div className="actions">
        <button type="button" disabled={!ready || importing} onClick={() => input.current?.click()} aria-describedby="import-hint">
          Import checkpoint
        </button>
        <input
          ref={input}
          type="file"
          multiple
          hidden
          accept={IMPORT_ACCEPT}
          aria-label="Checkpoint files"
          onChange={(event) => {
            const files = Array.from(event.target.files ?? []);
            event.target.value = '';
            if (files.length > 0) void controller.kept.importFiles(files);
          }}
        />
      </div>
      <p id="import-hint" className="hint">
        {dragging
          ? 'Drop config.json and model.safetensors to import them.'
          : 'config.json + model.safetensors (+ tokenizer.json), or drop them on the page. Export saves the same two files.'}
      </p>
      {message &&
        (message.kind === 'error' ? (
          <p className="error-text" role="alert">
            {message.text}
          </p>
        ) : (
          <p className="small" role="status">
            {message.text}
          </p>
        ))}
    </section>
  );
}
