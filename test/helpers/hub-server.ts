// A stand-in for the Hugging Face Hub on 127.0.0.1 (random port), for tests that must never reach
// the internet: files laid out as `/{org}/{name}/resolve/{revision}/{file}`, every request logged
// (so a test can count them), and faults queued per file to play a bad network or a bad server.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the next GET of a file does instead of answering normally (one fault per request, in order):
 * - a number: that HTTP status, with a short text body;
 * - 'short': declares the full Content-Length, sends all but the last 100 bytes, then ends the
 *   connection (a body shorter than its Content-Length);
 * - 'reset': sends half the body, then destroys the socket (a connection closed mid-body);
 * - 'stall': sends half the body, then nothing, keeping the connection open;
 * - 'no-length': the whole body, chunked, without a Content-Length (not a fault by itself);
 * - 'no-length-cut': chunked, without a Content-Length, ending cleanly 100 bytes early;
 * - 'length-short': a Content-Length 100 bytes short of the body, then the whole body;
 * - 'huge-length': a Content-Length of 10^15, the first 64 bytes, then the end of the connection;
 * - 'drip': the full Content-Length, then one byte every 200 ms (the stall timer never fires);
 * - 'endless': no Content-Length and 1 KB every 50 ms, for ever;
 * - 'redirect': a 302 to the file under /cdn/ with the Hub's X-Linked-Size and X-Linked-Etag (its
 *   SHA-256), as the Hub answers an LFS file; 'redirect-wrong-sha' and 'redirect-wrong-size' state
 *   another hash or size; 'redirect-loop' to /loop, which redirects to itself; 'redirect-file' to a file: URL;
 * - 'etag-wrong-sha': the file itself with an ETag that is the SHA-256 of other bytes.
 */
export type HubFault =
  | number
  | 'short'
  | 'reset'
  | 'stall'
  | 'no-length'
  | 'no-length-cut'
  | 'length-short'
  | 'huge-length'
  | 'drip'
  | 'endless'
  | 'redirect'
  | 'redirect-wrong-sha'
  | 'redirect-wrong-size'
  | 'redirect-loop'
  | 'redirect-file'
  | 'etag-wrong-sha';

export interface HubRequest {
  method: string;
  /** The path as requested (percent-encoded), e.g. /test/tiny-f32/resolve/main/config.json. */
  path: string;
}

export interface HubServer {
  /** http://127.0.0.1:PORT, what HF_ENDPOINT / hubSource's endpoint takes. */
  endpoint: string;
  requests: HubRequest[];
  /** Serves `files` (name → bytes) for `id` at `revision` (default main). */
  addRepo(id: string, files: Map<string, Uint8Array> | Record<string, Uint8Array | string>, revision?: string): void;
  /** Queues faults for the next GETs of `file` in `id`. */
  fail(id: string, file: string, ...faults: HubFault[]): void;
  /** Answer HEAD with 405 Method Not Allowed (a server without HEAD). */
  refuseHead: boolean;
  /** Closes every connection (stalled ones included) and the server. */
  close(): Promise<void>;
}

export async function startHubServer(): Promise<HubServer> {
  const repos = new Map<string, Map<string, Uint8Array>>(); // "org/name@revision" → files
  const faults = new Map<string, HubFault[]>(); // "org/name/file" → queued faults
  const requests: HubRequest[] = [];
  const stalled = new Set<ServerResponse>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  const OCTETS = { 'content-type': 'application/octet-stream' };

  /** Writes `chunk` every `ms` until `next` says stop (undefined), then ends; stops when the client goes. */
  const trickle = (res: ServerResponse, ms: number, next: () => Uint8Array | undefined) => {
    const timer = setInterval(() => {
      const chunk = next();
      if (chunk === undefined) {
        clearInterval(timer);
        res.end();
      } else res.write(chunk);
    }, ms);
    timers.add(timer);
    res.on('close', () => clearInterval(timer));
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const parts = path
      .split('/')
      .slice(1)
      .map((p) => decodeURIComponent(p));
    requests.push({ method: req.method ?? '?', path });
    // Readable from a page on another origin (the app's Hub download, e2e/faults.spec.ts).
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', 'etag, x-linked-size, x-linked-etag');
    const notFound = (message: string) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(message);
    };
    if (path === '/loop') {
      res.writeHead(302, { location: '/loop' });
      return res.end();
    }
    if (req.method === 'HEAD' && server.refuseHead) {
      res.writeHead(405, { allow: 'GET' });
      return res.end();
    }
    // /{org}/{name}/resolve/{revision}/{file...}: the revision is one (percent-encoded) segment;
    // /cdn/{org}/{name}/{revision}/{file...} is where 'redirect' sends a file, served plainly.
    const cdn = parts[0] === 'cdn';
    if (cdn ? parts.length < 5 : parts.length < 5 || parts[2] !== 'resolve') return notFound('not a resolve URL');
    const [org, name, , revision, ...fileParts] = cdn ? [parts[1], parts[2], 'resolve', ...parts.slice(3)] : parts;
    const id = `${org}/${name}`;
    const file = fileParts.join('/');
    const repo = repos.get(`${id}@${revision}`);
    if (!repo) return notFound('Repository not found');
    const bytes = repo.get(file);
    if (!bytes) return notFound('Entry not found');

    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': bytes.byteLength, 'content-type': 'application/octet-stream' });
      return res.end();
    }
    if (req.method !== 'GET') {
      res.writeHead(405);
      return res.end();
    }

    const fault = cdn ? undefined : faults.get(`${id}/${file}`)?.shift();
    if (typeof fault === 'number') {
      res.writeHead(fault, { 'content-type': 'text/plain' });
      return res.end(`fault ${fault}`);
    }
    if (fault?.startsWith('redirect')) {
      const wrong = new TextEncoder().encode('other bytes');
      const location =
        fault === 'redirect-loop' ? '/loop' : fault === 'redirect-file' ? 'file:///etc/passwd' : `/cdn/${org}/${name}/${revision}/${file}`;
      res.writeHead(302, {
        location,
        'x-linked-size': bytes.byteLength + (fault === 'redirect-wrong-size' ? 1 : 0),
        'x-linked-etag': `"${sha256(fault === 'redirect-wrong-sha' ? wrong : bytes)}"`,
      });
      return res.end();
    }
    const socket = res.socket!;
    switch (fault) {
      case 'no-length':
      case 'no-length-cut':
        res.writeHead(200, OCTETS);
        return res.end(fault === 'no-length' ? bytes : bytes.subarray(0, Math.max(0, bytes.byteLength - 100)));
      case 'length-short':
      case 'huge-length': {
        // Below Node's HTTP layer, which would refuse to send a body that disagrees with its length.
        const length = fault === 'huge-length' ? '1000000000000000' : String(Math.max(0, bytes.byteLength - 100));
        socket.write(
          'HTTP/1.1 200 OK\r\naccess-control-allow-origin: *\r\ncontent-type: application/octet-stream\r\n' +
            `content-length: ${length}\r\nconnection: close\r\n\r\n`,
        );
        return socket.end(fault === 'huge-length' ? bytes.subarray(0, 64) : bytes);
      }
      case 'drip': {
        res.writeHead(200, { ...OCTETS, 'content-length': bytes.byteLength });
        let sent = 0;
        return trickle(res, 200, () => (sent < bytes.byteLength ? bytes.subarray(sent, ++sent) : undefined));
      }
      case 'endless':
        res.writeHead(200, OCTETS);
        return trickle(res, 50, () => new Uint8Array(1024));
      case 'etag-wrong-sha':
        res.writeHead(200, { ...OCTETS, 'content-length': bytes.byteLength, etag: `"${sha256(new TextEncoder().encode('other'))}"` });
        return res.end(bytes);
    }
    res.writeHead(200, { ...OCTETS, 'content-length': bytes.byteLength });
    if (fault === undefined) return res.end(bytes);
    const half = Math.floor(bytes.byteLength / 2);
    if (fault === 'short') {
      // Part of the body, flushed, then the end of the connection (FIN), short of Content-Length.
      res.write(bytes.subarray(0, Math.max(0, bytes.byteLength - 100)), () => res.socket?.end());
    } else if (fault === 'reset') {
      res.write(bytes.subarray(0, half), () => res.socket?.destroy());
    } else {
      stalled.add(res);
      res.write(bytes.subarray(0, half));
    }
  };

  const http = createServer(handle);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;

  const server: HubServer = {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    refuseHead: false,
    addRepo(id, files, revision = 'main') {
      const map = new Map<string, Uint8Array>();
      for (const [file, content] of files instanceof Map ? files : Object.entries(files)) {
        map.set(file, typeof content === 'string' ? new TextEncoder().encode(content) : content);
      }
      repos.set(`${id}@${revision}`, map);
    },
    fail(id, file, ...queued) {
      const key = `${id}/${file}`;
      faults.set(key, [...(faults.get(key) ?? []), ...queued]);
    },
    async close() {
      for (const timer of timers) clearInterval(timer);
      for (const res of stalled) res.socket?.destroy();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return server;
}
