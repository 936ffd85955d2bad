import http from 'node:http';
import { afterEach } from 'vitest';
import { open, type OpenOptions, type Store } from '../../lib/index.js';
import { createServer, type KvcaskServer, type ServerOptions } from '../../lib/server.js';
import { tempDir } from './temp-dir.js';

export interface Running {
  store: Store;
  server: KvcaskServer;
  port: number;
  dir: string;
}

const running: Running[] = [];

/** A store in a temporary directory served on an ephemeral port; both closed after the test. */
export async function serve(options: ServerOptions = {}, storeOptions: OpenOptions = {}): Promise<Running> {
  const dir = tempDir();
  const store = await open(dir, storeOptions);
  const server = createServer(store, { defaultMetrics: false, ...options });
  const { port } = await server.listen(0);
  const handle = { store, server, port, dir };
  running.push(handle);
  return handle;
}

afterEach(async () => {
  for (const { server, store } of running.splice(0)) {
    server.closeConnections();
    await server.close();
    await store.close();
  }
});

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json: () => any;
}

export interface Request {
  method?: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
}

/** One request with the path sent exactly as given (no URL normalisation), on a fresh connection. */
export function request(port: number, path: string, { method = 'GET', headers = {}, body }: Request = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const data = Buffer.concat(chunks);
        const text = data.toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, body: data, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A key as a URL path segment: every byte percent-encoded, so any bytes survive the trip. */
export function keyPath(key: Buffer | string): string {
  const bytes = typeof key === 'string' ? Buffer.from(key) : key;
  return `/kv/${[...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`;
}
