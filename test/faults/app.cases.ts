// Fault cases of the app, run in Chromium by e2e/faults.spec.ts (Playwright): imports of bad files,
// a full storage quota, a Hub download cut off. Rows only: the spec looks each one up by its id for
// the message it must show, and table.test.ts puts them in the README's table with the rest.

import type { FaultArea, FaultRow } from './harness.ts';

export interface AppCase extends FaultRow {
  id: 'truncated' | 'oversized' | 'wrong-dtype' | 'overlapping' | 'huge-config' | 'other-shape' | 'quota' | 'hub-cut';
  exit: 'page';
}

const KEPT_VARIANTS = 'the kept variants (every IndexedDB record: key, label, config, weights)';

export const APP_CASES: FaultArea<AppCase> = {
  title: 'The app (e2e/faults.spec.ts, in Chromium)',
  cases: [
    {
      id: 'truncated',
      fault: 'model.safetensors cut in half',
      command: 'Import checkpoint (file picker)',
      exit: 'page',
      says: 'run past the end of the data section',
      kept: KEPT_VARIANTS,
    },
    {
      id: 'oversized',
      fault: "a 20 MB model.safetensors, more than the loaded model's checkpoint can be",
      command: 'drop the files on the page',
      exit: 'page',
      says: 'more than a model.safetensors of the loaded model can be',
      kept: KEPT_VARIANTS,
    },
    {
      id: 'wrong-dtype',
      fault: 'weights stored as I32',
      command: 'Import checkpoint (file picker)',
      exit: 'page',
      says: 'has dtype I32, expected a floating-point dtype',
      kept: KEPT_VARIANTS,
    },
    {
      id: 'overlapping',
      fault: 'a header whose tensors share their bytes',
      command: 'drop the files on the page',
      exit: 'page',
      says: 'overlap in the data section',
      kept: KEPT_VARIANTS,
    },
    {
      id: 'huge-config',
      fault: 'a config with num_hidden_layers 1,000,000',
      command: 'Import checkpoint (file picker)',
      exit: 'page',
      says: '"num_hidden_layers" is 1000000, more than the 1024 this engine accepts',
      kept: KEPT_VARIANTS,
    },
    {
      id: 'other-shape',
      fault: "a config that says hidden_size 64 for the loaded model's 32",
      command: 'drop the files on the page',
      exit: 'page',
      says: 'does not fit the loaded model',
      kept: KEPT_VARIANTS,
    },
    {
      id: 'quota',
      fault: 'the storage quota is full when an import is kept',
      command: 'Import checkpoint (its IndexedDB write aborted with QuotaExceededError)',
      exit: 'page',
      says: "the browser's storage for this page is full",
      kept: `${KEPT_VARIANTS}, also after a reload`,
    },
    {
      id: 'hub-cut',
      fault: 'the Hub download of the weights cut off mid-body (twice)',
      command: 'Load from the Hub (a Hub-shaped server on 127.0.0.1)',
      exit: 'page',
      says: 'was interrupted after',
      kept: "Cache Storage: no entry for the weights; every entry byte-identical to the server's file",
    },
  ],
};

export function appCase(id: AppCase['id']): AppCase {
  return APP_CASES.cases.find((c) => c.id === id)!;
}
