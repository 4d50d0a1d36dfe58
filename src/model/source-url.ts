// A checkpoint served over HTTP(S): the browser app (files under public/ or a Hugging Face
// "resolve" URL) and the CLI. Uses fetch only, so it runs in browsers, workers and Node.

import type { ModelSource } from './checkpoint.ts';

/**
 * Reads checkpoint files relative to `baseUrl` (a trailing "/" is added when missing, so
 * "https://huggingface.co/org/model/resolve/main" works). A relative base resolves against the
 * page's location where there is one.
 */
export function urlSource(baseUrl: string): ModelSource {
  const location = (globalThis as { location?: { href: string } }).location;
  const withSlash = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  let base: URL;
  try {
    base = new URL(withSlash, location?.href);
  } catch {
    throw new Error(`not a valid checkpoint URL: ${baseUrl}`);
  }
  const urlOf = (file: string) => new URL(file, base).href;

  const request = async (file: string, method: 'GET' | 'HEAD'): Promise<Response> => {
    const url = urlOf(file);
    try {
      return await fetch(url, { method });
    } catch (error) {
      throw new Error(`could not fetch ${url}: ${(error as Error).message}`, { cause: error });
    }
  };

  // A dev server's single-page-app fallback answers a missing file with index.html and status 200;
  // treat an HTML answer to a request for a non-HTML file as "not there".
  const isHtmlFallback = (file: string, response: Response) =>
    !/\.html?$/i.test(file) && (response.headers.get('content-type') ?? '').includes('text/html');

  const get = async (file: string): Promise<Response> => {
    const response = await request(file, 'GET');
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''} fetching ${urlOf(file)}`);
    }
    if (isHtmlFallback(file, response)) {
      await response.body?.cancel();
      throw new Error(`fetching ${urlOf(file)} returned an HTML page, not the file (is the file missing from the server?)`);
    }
    return response;
  };

  return {
    describe: base.href.replace(/\/$/, ''),
    async readText(file) {
      return (await get(file)).text();
    },
    async readBytes(file) {
      return new Uint8Array(await (await get(file)).arrayBuffer());
    },
    async has(file) {
      let response = await request(file, 'HEAD');
      if (response.status === 405 || response.status === 501) {
        // Servers without HEAD: ask with GET and drop the body.
        response = await request(file, 'GET');
        await response.body?.cancel();
      }
      if (response.status === 404 || response.status === 410) return false;
      if (!response.ok) {
        throw new Error(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''} checking ${urlOf(file)}`);
      }
      return !isHtmlFallback(file, response);
    },
  };
}
