// What several specs ask of the page: the errors it raised, and the side-by-side slots.

import type { Page } from '@playwright/test';

/** Page errors and console errors, less the 404s the loaders probe for on purpose (tokenizer_config.json). */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource: the server responded with a status of 404/.test(message.text())) {
      errors.push(message.text());
    }
  });
  return errors;
}

/** Side by side's slot "Model A" or "Model B". */
export const slot = (page: Page, name: 'A' | 'B') => page.getByRole('group', { name: `Model ${name}`, exact: true });

/** A slot's streamed continuation, and how many tokens it holds. */
export const continuation = (page: Page, name: 'A' | 'B') => page.getByRole('log', { name: `Model ${name} continuation` });
export const tokenCount = async (page: Page, name: 'A' | 'B') => Number(await continuation(page, name).getAttribute('data-count'));
