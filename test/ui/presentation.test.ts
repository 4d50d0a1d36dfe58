// Presentation mode's flag in the URL hash: set and cleared without touching other hash parts.

import { describe, expect, it } from 'vitest';
import { hashWithPresentation, presentationFromHash } from '../../src/ui/features/teaching/presentation.ts';

describe('presentation mode in the hash', () => {
  it('reads and writes the flag', () => {
    expect(presentationFromHash('')).toBe(false);
    expect(presentationFromHash('#present')).toBe(true);
    expect(presentationFromHash('#chart&present')).toBe(true);
    expect(presentationFromHash('#presenter')).toBe(false);
    expect(hashWithPresentation('', true)).toBe('#present');
    expect(hashWithPresentation('#present', false)).toBe('');
    expect(hashWithPresentation('#chart', true)).toBe('#chart&present');
    expect(hashWithPresentation('#chart&present', false)).toBe('#chart');
    expect(hashWithPresentation('#present', true)).toBe('#present');
  });
});
