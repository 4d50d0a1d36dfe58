// A stand-in for the Hugging Face Hub on 127.0.0.1 (random port), for tests that must never reach
// the internet: files laid out as `/{org}/{name}/resolve/{revision}/{file}`, every request logged
// (so a test can count them), and faults queued per file to play a bad network or a bad server.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the next GET of a file does instead of answering normally (one fault per request, in order):
 * - a number: that HTTP status, with a short text body;
 * - 'short': declares the full Content-Length, sends all but the last 100 bytes, then ends the
 *   connection (a body shorter than its Content-Length);
 * - 'reset': sends half the body, then destroys the socket (a connection closed mid-body);
 * - 'stall': sends half the body, then nothing, keeping the connection open.
 */
export type HubFault = number | 'short' | 'reset' | 'stall';

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

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const parts = path
      .split('/')
      .slice(1)
      .map((p) => decodeURIComponent(p));
    requests.push({ method: req.method ?? '?', path });
    const notFound = (message: string) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(message);
    };
    if (req.method === 'HEAD' && server.refuseHead) {
      res.writeHead(405, { allow: 'GET' });
      return res.end();
    }
    // /{org}/{name}/resolve/{revision}/{file...}: the revision is one (percent-encoded) segment.
    if (parts.length < 5 || parts[2] !== 'resolve') return notFound('not a resolve URL');
    const [org, name, , revision, ...fileParts] = parts;
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

    const fault = faults.get(`${id}/${file}`)?.shift();
    if (typeof fault === 'number') {
      res.writeHead(fault, { 'content-type': 'text/plain' });
      return res.end(`fault ${fault}`);
    }
    res.writeHead(200, { 'content-length': bytes.byteLength, 'content-type': 'application/octet-stream' });
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
      for (const res of stalled) res.socket?.destroy();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return server;
}
