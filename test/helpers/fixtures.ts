// The Hugging Face oracle fixtures live beside the repository, at ../shared/fixtures/hf-llama.
// Tests that need them skip, loudly, where that folder is absent.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/hf-llama/', import.meta.url));
export const haveFixtures = existsSync(join(FIXTURES, 'llama-rope', 'config.json'));
export const FIXTURE_CASES = ['llama-rope', 'llama-nope'] as const;
export const FIXTURE_LENGTHS = [48, 160] as const;

export function warnIfNoFixtures(what: string): void {
  if (!haveFixtures) console.warn(`SKIPPING ${what}: ${FIXTURES} does not exist (../shared/fixtures is absent).`);
}
