/**
 * `npm run bench:server`: kvcask serve under autocannon with CONNECTIONS
 * connections, next to a bare node:http server answering 200 in the same run
 * (the ceiling of this machine for Node). Each server runs in a child process
 * of its own, so that the load generator does not share its event loop.
 * Cases: the ceiling, GET of existing keys, and durable PUT (sync: 'always',
 * group-committed) of new keys. Results go to stdout and to
 * bench/results/server-<date>.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { open } from '../lib/index.js';

const SECONDS = Number(process.env.KVCASK_BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.KVCASK_BENCH_CONNECTIONS ?? 100);
const KEYS = Number(process.env.KVCASK_BENCH_KEYS ?? 100_000);
const VALUE_SIZE = 100;
const cli = fileURLToPath(new URL('../cli/kvcask.js', import.meta.url));

interface Figure {
  name: string;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  ofCeiling?: number;
}

const BARE = `require('node:http').createServer((req, res) => { req.resume(); res.end('ok'); })
  .listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ port: this.address().port })); });`;

/** Starts a server process and resolves with it and the port from the first JSON line it prints with one. */
function start(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const port = (JSON.parse(line) as { port?: number }).port;
      if (port !== undefined) resolve({ child, port });
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function load(name: string, options: autocannon.Options): Promise<Figure> {
  const result = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options });
  return {
    name,
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const keyOf = (i: number) => `key-${i.toString(16).padStart(12, '0')}`;

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'kvcask-bench-server-'));
  const figures: Figure[] = [];
  try {
    const bare = await start(['-e', BARE]);
    figures.push(await load('bare node:http 200 (ceiling)', { url: `http://127.0.0.1:${bare.port}/` }));
    await stop(bare.child);

    const dir = join(root, 'store');
    const store = await open(dir, { sync: 'none' });
    const value = Buffer.alloc(VALUE_SIZE, 0x76);
    for (let i = 0; i < KEYS; i += 10_000) {
      const batch = [];
      for (let j = i; j < Math.min(KEYS, i + 10_000); j++) batch.push({ type: 'put' as const, key: keyOf(j), value });
      await store.batch(batch);
    }
    await store.close();

    const served = await start([cli, '--dir', dir, 'serve', '--port', '0']);
    const url = `http://127.0.0.1:${served.port}`;
    let next = 0;
    figures.push(
      await load('GET hit', {
        url,
        requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: `/kv/${keyOf((next = (next + 7919) % KEYS))}` }) }],
      }),
    );
    let fresh = KEYS;
    figures.push(
      await load(`PUT durable (${VALUE_SIZE} B)`, {
        url,
        requests: [{ method: 'PUT', body: value.toString(), setupRequest: (request) => ({ ...request, path: `/kv/${keyOf(fresh++)}` }) }],
      }),
    );
    await stop(served.child);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  const ceiling = figures[0].requestsPerSec;
  for (const figure of figures.slice(1)) figure.ofCeiling = figure.requestsPerSec / ceiling;
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  console.log(`kvcask serve, ${CONNECTIONS} connections, ${SECONDS} s per case, ${KEYS.toLocaleString('en')} keys; ${machine.cpus} cores, Node ${machine.node}`);
  console.table(
    figures.map((f) => ({
      case: f.name,
      'req/s': Math.round(f.requestsPerSec),
      'p50 ms': f.p50Ms,
      'p99 ms': f.p99Ms,
      'of ceiling': f.ofCeiling === undefined ? '' : `${(f.ofCeiling * 100).toFixed(1)}%`,
      'non-2xx': f.non2xx,
      errors: f.errors,
    })),
  );
  if (figures.some((f) => f.non2xx > 0 || f.errors > 0)) console.warn('some requests failed: the figures above do not measure the intended case');
  const resultsDir = new URL('../../bench/results/', import.meta.url);
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString();
  writeFileSync(
    new URL(`server-${stamp.slice(0, 19).replace(/:/g, '')}.json`, resultsDir),
    JSON.stringify({ date: stamp, machine, connections: CONNECTIONS, seconds: SECONDS, keys: KEYS, valueSize: VALUE_SIZE, figures }, null, 2),
  );
}

await main();
