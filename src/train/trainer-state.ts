// The trainer state a checkpoint carries (trainer_state.safetensors, and the app's interrupted
// recalibrations): AdamW's moments as F32 tensors "m.NAME" and "v.NAME" under the parameters'
// names, and in __metadata__ the step, the data RNG's state, the run's options and its log.
//
// The file comes back from disk (or IndexedDB) and may be damaged or edited, so everything in it
// is checked before a run continues from it: the format and version, the step (an integer within
// the run's total steps), the RNG state (a 32-bit integer), the options (those of this run), the
// log (one finite record per step taken) and every moment's dtype and shape. Anything else is an
// error naming the field; a resumed run either continues exactly or does not start.

import { parseSafetensors, type SafetensorsFile } from '../model/safetensors.ts';

export const TRAINER_STATE_FORMAT = 'drope-playground/trainer-state';
export const TRAINER_STATE_VERSION = '1';
export const TRAINER_STATE_FILE = 'trainer_state.safetensors';

export interface StepRecord {
  step: number; // 1-based: steps completed
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_s: number;
  /** The retrieval monitor's success rate at 1x, at the steps where it ran (src/cli/train.ts). */
  retrieval?: number;
}

/** What restoreState needs from a checked state file. */
export interface TrainerState {
  step: number;
  rng: number;
  log: StepRecord[];
  /** The moments: getF32(`m.${name}`), getF32(`v.${name}`). */
  file: SafetensorsFile;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string | undefined, key: string): unknown {
  try {
    return JSON.parse(text ?? '');
  } catch {
    throw new Error(`${TRAINER_STATE_FILE}: "${key}" is not JSON`);
  }
}

/** A non-negative integer written in decimal digits, at most `max`. */
function integerField(text: string | undefined, key: string, max: number, what: string): number {
  if (text === undefined || !/^\d{1,16}$/.test(text) || Number(text) > max) {
    throw new Error(`${TRAINER_STATE_FILE}: "${key}" is ${JSON.stringify(text)}, not ${what}`);
  }
  return Number(text);
}

function checkLog(value: unknown, step: number): StepRecord[] {
  if (!Array.isArray(value) || value.length !== step) {
    throw new Error(
      `${TRAINER_STATE_FILE}: "log" must list one record per step taken (${step}), got ${Array.isArray(value) ? value.length : 'no list'}`,
    );
  }
  value.forEach((record, i) => {
    const finite = (value: unknown) => typeof value === 'number' && Number.isFinite(value);
    const fine =
      isRecord(record) &&
      record.step === i + 1 &&
      ['loss', 'lr', 'grad_norm', 'tokens_per_s'].every((key) => finite(record[key])) &&
      (record.retrieval === undefined || finite(record.retrieval));
    if (!fine) throw new Error(`${TRAINER_STATE_FILE}: "log" record ${i + 1} is not the finite record of step ${i + 1}`);
  });
  return value as StepRecord[];
}

/**
 * Parses and checks a trainer state against the run that resumes it: `options` are that run's
 * (each must equal the saved one), `shapes` its parameters' shapes. Throws an error naming what
 * does not fit.
 */
export function parseTrainerState(
  bytes: Uint8Array,
  options: Record<string, unknown>,
  shapes: ReadonlyMap<string, readonly number[]>,
): TrainerState {
  const file = parseSafetensors(bytes, TRAINER_STATE_FILE);
  const meta = file.metadata;
  if (meta.format !== TRAINER_STATE_FORMAT) throw new Error(`${TRAINER_STATE_FILE} is not a trainer state (format "${meta.format}")`);
  if (meta.version !== TRAINER_STATE_VERSION) {
    throw new Error(
      `${TRAINER_STATE_FILE} has version ${meta.version}; this trainer reads version ${TRAINER_STATE_VERSION}: start a new run`,
    );
  }
  const saved = parseJson(meta.options, 'options');
  if (!isRecord(saved)) throw new Error(`${TRAINER_STATE_FILE}: "options" is not an object`);
  for (const [key, value] of Object.entries(options)) {
    // By value (the records mixture is an object); an option a state predates counts as null.
    const [was, is] = [JSON.stringify(saved[key] ?? null), JSON.stringify(value ?? null)];
    if (was !== is) {
      // The schedule spans the total steps, so a run continues only to the total it started with.
      const why = key === 'steps' ? ' (the learning-rate schedule spans the total steps, so a resumed run keeps its total)' : '';
      throw new Error(`cannot resume: the saved run has ${key} = ${was}, this one ${is}${why}`);
    }
  }
  const steps = Number(options.steps);
  const step = integerField(meta.step, 'step', steps, `a step of this run (0..${steps})`);
  const rng = integerField(meta.rng, 'rng', 2 ** 32 - 1, 'a 32-bit random generator state');
  const log = checkLog(parseJson(meta.log, 'log'), step);
  for (const [name, shape] of shapes) {
    for (const key of [`m.${name}`, `v.${name}`]) {
      const info = file.tensors.get(key);
      const fits = info?.dtype === 'F32' && info.shape.length === shape.length && info.shape.every((d, i) => d === shape[i]);
      if (!fits) {
        throw new Error(
          `${TRAINER_STATE_FILE}: ${key} ${info ? `is ${info.dtype} [${info.shape.join(', ')}]` : 'is missing'}, expected F32 [${shape.join(', ')}]`,
        );
      }
    }
  }
  return { step, rng, log, file };
}
