// The page's own files: absolute URLs under Vite's base (the worker fetches from its own
// location), and reads that tell a missing file from an HTML fallback page.

/** Paths under the site's base (Vite's BASE_URL), as absolute URLs the worker can fetch. */
export function siteUrl(path: string): string {
  return new URL(`${import.meta.env.BASE_URL}${path}`, window.location.href).href;
}

/** A file's text, or undefined when it is missing (a dev server answers that with its index.html). */
export async function fetchText(url: string): Promise<string | undefined> {
  const response = await fetch(url);
  if (!response.ok || (response.headers.get('content-type') ?? '').includes('text/html')) return undefined;
  return response.text();
}

export async function fetchJson(url: string): Promise<unknown | undefined> {
  const text = await fetchText(url);
  return text === undefined ? undefined : JSON.parse(text);
}
