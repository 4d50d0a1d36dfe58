// describe() for the golden tests against the Hugging Face fixtures (test/helpers/fixtures.ts):
// runs them where the fixtures are, skips them loudly where they are absent, and under CI replaces
// them with one failing test that says what is missing.

import { describe, it } from 'vitest';
import { assertFixtures, haveFixtures, skipWithoutFixtures } from './fixtures.ts';

export function describeWithFixtures(name: string, body: () => void): void {
  if (haveFixtures) describe(name, body);
  else if (skipWithoutFixtures) describe.skip(name, body);
  else describe(name, () => it('has the Hugging Face oracle fixtures', assertFixtures));
}
