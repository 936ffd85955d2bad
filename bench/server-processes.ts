/**
 * What bench/server.ts and bench/workshop/server-instructions.ts share: the
 * server processes (a bare node:http server and `kvcask serve`), the store
 * they serve and the requests of each case, so that both measure the very
 * same thing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type autocannon from 'autocannon';
import { open } from '../lib/index.js';

export const VALUE_SIZE = 100;
// Another build's CLI, to compare two versions of the server back to back.
export const CLI = process.env.KVCASK_BENCH_CLI ?? fileURLToPath(new URL('../cli/kvcask.js', import.meta.url));

// Exits cleanly on SIGTERM so that --cpu-prof (KVCASK_BENCH_SERVER_FLAGS) can write its profile and callgrind its counts.
export const BARE = `require('node:http').createServer((req, res) => { req.resume(); res.end('ok'); })
  .listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ port: this.address().port })); });
  process.on('SIGTERM', () => process.exit(0));`;

/**
 * A node:http server that answers every request with a VALUE_SIZE-byte value and the headers kvcask sends
 * with one, sent the way lib/server.ts sends a small value (one latin1 write), without routing, store or
 * metrics: what answering with a value costs under node:http, the floor of any GET.
 */
export const BARE_VALUE = `const value = Buffer.alloc(${VALUE_SIZE}, 0x76).toString('latin1');
  require('node:http').createServer((req, res) => {
    req.resume();
    res.writeHead(200, ['content-type', 'application/octet-stream', 'content-length', ${VALUE_SIZE}]);
    res.write(value, 'latin1');
    res.socket?.uncork();
    res.end();
  }).listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ port: this.address().port })); });
  process.on('SIGTERM', () => process.exit(0));`;

export const keyOf = (i: number) => `key-${i.toString(16).padStart(12, '0')}`;

/** The paths GET cycles through: `count` keys spread over the whole store at a stride of 7,919. */
export function getPaths(count: number, keys: number): string[] {
  const paths: string[] = [];
  for (let i = 0, key = 0; i < Math.min(count, keys); i++, key = (key + 7919) % keys) paths.push(`/kv/${keyOf(key)}`);
  return paths;
}

/** autocannon's GET requests: a fixed list, one per path, built once (no setupRequest, which doubles autocannon's CPU per request). */
export const getRequests = (paths: string[]): autocannon.Request[] => paths.map((path) => ({ method: 'GET', path }));

/** autocannon's PUT request: a VALUE_SIZE-byte body to key number nextKey(), a new one each time. */
export function putRequests(nextKey: () => number): autocannon.Request[] {
  const body = Buffer.alloc(VALUE_SIZE, 0x76).toString();
  return [{ method: 'PUT', body, setupRequest: (request) => ({ ...request, path: `/kv/${keyOf(nextKey())}` }) }];
}

/** autocannon's requests for a case: GET of 1,000 of `keys` keys (getPaths), or PUT of key number nextKey() each time. */
export function autocannonRequests(kind: string, keys: number, nextKey: () => number): autocannon.Request[] {
  if (kind === 'get') return getRequests(getPaths(1000, keys));
  if (kind === 'put') return putRequests(nextKey);
  throw new TypeError(`unknown case ${kind}: expected get or put`);
}

/** Writes `keys` keys with VALUE_SIZE-byte values into a new store at `dir`. */
export async function fillStore(dir: string, keys: number): Promise<void> {
  const value = Buffer.alloc(VALUE_SIZE, 0x76);
  const store = await open(dir, { sync: 'none' });
  for (let i = 0; i < keys; i += 10_000) {
    const batch = [];
    for (let j = i; j < Math.min(keys, i + 10_000); j++) batch.push({ type: 'put' as const, key: keyOf(j), value });
    await store.batch(batch);
  }
  await store.close();
}

/**
 * Starts a server process (`command` before node's own arguments, such as
 * valgrind) and resolves with it and the port from the first JSON line it
 * prints with one.
 */
export function startServer(args: string[], command: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const argv = [...command, process.execPath, ...args];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const port = (JSON.parse(line) as { port?: number }).port;
      if (port !== undefined) resolve({ child, port });
    });
  });
}

export function stopServer(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
