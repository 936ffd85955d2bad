/**
 * `npm run bench:server`: kvcask serve under autocannon with CONNECTIONS
 * connections, next to a bare node:http server answering 200 in the same run
 * (the ceiling of this machine for Node). Each server runs in a child process
 * of its own, so that the load generator does not share its event loop.
 * Cases: GET of existing keys and durable PUT (sync: 'always',
 * group-committed) of new keys, each after its ceiling: the bare server under
 * the very same requests, so that autocannon's own work per request (which
 * shares the 2 cores) is the same in a case and its ceiling. Besides req/s and
 * latency, it reports the CPU time per request of the server process and of
 * the benchmark process, which other load on the machine moves far less than
 * req/s. Results go to stdout and to bench/results/server-<date>.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
// Extra node flags for the server processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" or "--trace-gc".
const SERVER_FLAGS = (process.env.KVCASK_BENCH_SERVER_FLAGS ?? '').split(' ').filter((flag) => flag.length > 0);
const TICKS_PER_SECOND = 100;
// Another build's CLI, to compare two versions of the server back to back.
const CLI = process.env.KVCASK_BENCH_CLI ?? fileURLToPath(new URL('../cli/kvcask.js', import.meta.url));
// Distinct keys the GET requests cycle through (autocannon builds each request once per connection).
const GET_KEYS = Number(process.env.KVCASK_BENCH_GET_KEYS ?? 1000);
// Which cases to run: "get", "put" or both (the default), comma-separated.
const CASES = new Set((process.env.KVCASK_BENCH_CASES ?? 'get,put').split(','));

interface Figure {
  name: string;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  /** CPU time (user + system) the server process spent per request answered: unlike req/s, barely moved by other load on the machine. */
  serverCpuUs: number | null;
  /** The same for the benchmark process, autocannon included. */
  clientCpuUs: number;
  /** Write syscalls (socket writes, file writes) the server process made per request: shows how many requests share a group commit. */
  serverWritesPerRequest: number | null;
  ofCeiling?: number;
}

// Exits cleanly on SIGTERM so that --cpu-prof (KVCASK_BENCH_SERVER_FLAGS) can write its profile.
const BARE = `require('node:http').createServer((req, res) => { req.resume(); res.end('ok'); })
  .listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ port: this.address().port })); });
  process.on('SIGTERM', () => process.exit(0));`;

/** Starts a server process and resolves with it and the port from the first JSON line it prints with one. */
function start(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [...SERVER_FLAGS, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
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

/** CPU seconds (user + system) a process has used, from /proc; null where there is none. */
function cpuSecondsOf(pid: number): number | null {
  try {
    // The fields after the command name (which may hold spaces) start at the state; utime and stime are the 12th and 13th of them.
    const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Write syscalls a process has made, from /proc; null where there is none. */
function writeSyscallsOf(pid: number): number | null {
  try {
    return Number(/^syscw: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'latin1'))![1]);
  } catch {
    return null;
  }
}

async function load(name: string, server: ChildProcess, options: autocannon.Options, ceiling?: Figure): Promise<Figure> {
  const serverBefore = cpuSecondsOf(server.pid!);
  const writesBefore = writeSyscallsOf(server.pid!);
  const clientBefore = process.cpuUsage();
  const result = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options });
  const serverAfter = cpuSecondsOf(server.pid!);
  const writesAfter = writeSyscallsOf(server.pid!);
  const client = process.cpuUsage(clientBefore);
  const answered = result.requests.total;
  return {
    name,
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    serverCpuUs: serverBefore === null || serverAfter === null ? null : ((serverAfter - serverBefore) * 1e6) / answered,
    clientCpuUs: (client.user + client.system) / answered,
    serverWritesPerRequest: writesBefore === null || writesAfter === null ? null : (writesAfter - writesBefore) / answered,
    ...(ceiling === undefined ? {} : { ofCeiling: result.requests.average / ceiling.requestsPerSec }),
  };
}

const keyOf = (i: number) => `key-${i.toString(16).padStart(12, '0')}`;

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'kvcask-bench-server-'));
  const figures: Figure[] = [];
  const value = Buffer.alloc(VALUE_SIZE, 0x76);
  // GET: a fixed list of requests, built once by autocannon (a per-request setupRequest doubles autocannon's CPU per request,
  // which on 2 cores would be measured instead of the server); the keys are spread over the whole store.
  const getRequests: autocannon.Request[] = [];
  for (let i = 0, key = 0; i < Math.min(GET_KEYS, KEYS); i++, key = (key + 7919) % KEYS) getRequests.push({ method: 'GET', path: `/kv/${keyOf(key)}` });
  // PUT: every request a new key, so it needs setupRequest; its ceiling is measured with the very same generator.
  let fresh = KEYS;
  const putRequests: autocannon.Request[] = [
    { method: 'PUT', body: value.toString(), setupRequest: (request) => ({ ...request, path: `/kv/${keyOf(fresh++)}` }) },
  ];
  try {
    // The ceilings: the bare server under exactly the requests of each case (it ignores paths and bodies).
    const bare = await start(['-e', BARE]);
    const bareUrl = `http://127.0.0.1:${bare.port}`;
    if (CASES.has('get')) figures.push(await load('bare node:http 200 (ceiling), GET requests', bare.child, { url: bareUrl, requests: getRequests }));
    if (CASES.has('put')) figures.push(await load('bare node:http 200 (ceiling), PUT requests', bare.child, { url: bareUrl, requests: putRequests }));
    await stop(bare.child);

    const dir = join(root, 'store');
    const store = await open(dir, { sync: 'none' });
    for (let i = 0; i < KEYS; i += 10_000) {
      const batch = [];
      for (let j = i; j < Math.min(KEYS, i + 10_000); j++) batch.push({ type: 'put' as const, key: keyOf(j), value });
      await store.batch(batch);
    }
    await store.close();

    const served = await start([CLI, '--dir', dir, 'serve', '--port', '0']);
    const url = `http://127.0.0.1:${served.port}`;
    if (CASES.has('get')) figures.push(await load('GET hit', served.child, { url, requests: getRequests }, figures.find((f) => f.name.endsWith('GET requests'))));
    fresh = KEYS;
    if (CASES.has('put')) figures.push(await load(`PUT durable (${VALUE_SIZE} B)`, served.child, { url, requests: putRequests }, figures.find((f) => f.name.endsWith('PUT requests'))));
    await stop(served.child);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  console.log(`kvcask serve, ${CONNECTIONS} connections, ${SECONDS} s per case, ${KEYS.toLocaleString('en')} keys; ${machine.cpus} cores, Node ${machine.node}`);
  console.table(
    figures.map((f) => ({
      case: f.name,
      'req/s': Math.round(f.requestsPerSec),
      'p50 ms': f.p50Ms,
      'p99 ms': f.p99Ms,
      'of ceiling': f.ofCeiling === undefined ? '' : `${(f.ofCeiling * 100).toFixed(1)}%`,
      'server CPU µs/req': f.serverCpuUs === null ? '' : f.serverCpuUs.toFixed(1),
      'client CPU µs/req': f.clientCpuUs.toFixed(1),
      'server writes/req': f.serverWritesPerRequest === null ? '' : f.serverWritesPerRequest.toFixed(2),
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
