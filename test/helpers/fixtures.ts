// The Hugging Face oracle fixtures live beside the repository, at ../shared/fixtures/hf-llama.
// Tests that need them skip, loudly, where that folder is absent; under CI (CI set) they fail
// instead, since a run that compared nothing with the oracle must not pass.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '../../src/model/checkpoint.ts';
import { parseSafetensors, type SafetensorsFile } from '../../src/model/safetensors.ts';
import { directorySource } from '../../src/model/source-node.ts';

export const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/hf-llama/', import.meta.url));
export const haveFixtures = existsSync(join(FIXTURES, 'llama-rope', 'config.json'));
export const FIXTURE_CASES = ['llama-rope', 'llama-nope'] as const;
export const FIXTURE_LENGTHS = [48, 160] as const;

/** Skip the golden tests: the fixtures are absent and this is not CI. */
export const skipWithoutFixtures = !haveFixtures && !process.env.CI;

const MISSING = `${FIXTURES} does not exist (../shared/fixtures is absent)`;

export function warnIfNoFixtures(what: string): void {
  if (skipWithoutFixtures) console.warn(`SKIPPING ${what}: ${MISSING}.`);
}

/** Throws where the fixtures are absent: the first step of a golden test that runs under CI. */
export function assertFixtures(): void {
  if (!haveFixtures) throw new Error(`the golden tests need the Hugging Face oracle fixtures: ${MISSING}`);
}

/** A fixture's transformers outputs (expected.safetensors in its folder): input ids, logits, NLL and gradients per length. */
export function fixtureExpected(dir: string): SafetensorsFile {
  const path = join(dir, 'expected.safetensors');
  return parseSafetensors(new Uint8Array(readFileSync(path)), path);
}

/** One fixture at length T: its checkpoint, and transformers' input ids (B sequences of T) and logits for them. */
export async function fixtureCase(name: string, T: number) {
  const dir = join(FIXTURES, name);
  const expected = fixtureExpected(dir);
  const ids = expected.getI32(`T${T}.input_ids`);
  return {
    dir,
    expected,
    checkpoint: await loadCheckpoint(directorySource(dir)),
    ids,
    B: ids.length / T,
    logits: expected.getF32(`T${T}.logits`),
  };
}
