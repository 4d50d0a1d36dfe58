// The fingerprint of a training checkpoint (Node only: the CLI): one SHA-256 over the weights file
// and the trainer state's metadata and moments, kept in the state's metadata. A resumed run checks
// it before anything else: weights and a state from different saves (a save killed between its
// renames) or a file changed since (an edited step or RNG state, a damaged moment) do not match,
// and the run does not start, instead of continuing differently from the run it claims to be.

import { createHash } from 'node:crypto';
import { WEIGHTS_FILE } from '../model/checkpoint.ts';
import { parseSafetensors, writeSafetensors, type SafetensorsFile, type WritableTensor } from '../model/safetensors.ts';
import { TRAINER_STATE_FILE } from './trainer-state.ts';

const FINGERPRINT_KEY = 'checkpoint_sha256';

function fingerprint(weights: Uint8Array, state: SafetensorsFile): string {
  const hash = createHash('sha256').update(weights);
  const metadata = Object.entries(state.metadata)
    .filter(([key]) => key !== FINGERPRINT_KEY)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  hash.update(JSON.stringify(metadata));
  for (const name of [...state.tensors.keys()].sort()) {
    const { dtype, shape } = state.info(name);
    hash.update(JSON.stringify([name, dtype, shape])).update(state.bytes(name));
  }
  return hash.digest('hex');
}

/** The trainer state (Trainer.saveState's F32 moments) with the fingerprint of it and `weights` in its metadata. */
export function sealTrainerState(state: Uint8Array, weights: Uint8Array): Uint8Array {
  const file = parseSafetensors(state, TRAINER_STATE_FILE);
  const tensors: Record<string, WritableTensor> = {};
  for (const [name, { shape }] of file.tensors) tensors[name] = { dtype: 'F32', shape, data: file.getF32(name) };
  return writeSafetensors(tensors, { ...file.metadata, [FINGERPRINT_KEY]: fingerprint(weights, file) });
}

/** Throws unless `state` carries the fingerprint of itself and `weights`. */
export function checkTrainerStateSeal(state: Uint8Array, weights: Uint8Array): void {
  const file = parseSafetensors(state, TRAINER_STATE_FILE);
  const saved = file.metadata[FINGERPRINT_KEY];
  if (saved === undefined) {
    throw new Error(
      `${TRAINER_STATE_FILE} has no fingerprint (${FINGERPRINT_KEY}; saved by an older version?), so the run cannot continue exactly; start a new run`,
    );
  }
  if (fingerprint(weights, file) !== saved) {
    throw new Error(
      `${WEIGHTS_FILE} and ${TRAINER_STATE_FILE} do not match the fingerprint they were saved with (a save interrupted between ` +
        'its renames, or a file changed since), so the run cannot continue exactly; start a new run',
    );
  }
}
