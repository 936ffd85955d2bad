/**
 * `npm run bench:server`: kvcask serve under autocannon (or wrk, with
 * KVCASK_BENCH_CLIENT=wrk and bench/wrk/requests.lua) with CONNECTIONS
 * connections, next to a bare node:http server answering 200 in the same run
 * (the ceiling of this machine for Node). Each server runs in a child process
 * of its own, so that the load generator does not share its event loop.
 * Cases: GET of existing keys and durable PUT (sync: 'always',
 * group-committed) of new keys, each after its ceiling: the bare server under
 * the very same requests, so that the load generator's own work per request
 * (which shares the 2 cores) is the same in a case and its ceiling. Besides req/s and
 * latency, it reports the CPU time per request of the server process and of
 * the load generator, which other load on the machine moves far less than
 * req/s. Results go to stdout and to bench/results/server-<date>.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { BARE, BARE_VALUE, CLI, fillStore, getPaths, getRequests, putRequests, startServer, stopServer, VALUE_SIZE } from './server-processes.js';
import { saveResult } from './results-file.js';

const SECONDS = Number(process.env.KVCASK_BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.KVCASK_BENCH_CONNECTIONS ?? 100);
const KEYS = Number(process.env.KVCASK_BENCH_KEYS ?? 100_000);
// Extra node flags for the server processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" or "--trace-gc".
const SERVER_FLAGS = (process.env.KVCASK_BENCH_SERVER_FLAGS ?? '').split(' ').filter((flag) => flag.length > 0);
const TICKS_PER_SECOND = 100;
// Distinct keys the GET requests cycle through (autocannon builds each request once per connection).
const GET_KEYS = Number(process.env.KVCASK_BENCH_GET_KEYS ?? 1000);
// Which cases to run, comma-separated: "get", "put", and "floor" (the bare server answering a value, under the GET requests).
const CASES = new Set((process.env.KVCASK_BENCH_CASES ?? 'get,put,floor').split(','));
// The load generator: autocannon, in this process (the default), or wrk (Debian's package), a process of its own.
const CLIENT = process.env.KVCASK_BENCH_CLIENT ?? 'autocannon';
const WRK_THREADS = Number(process.env.KVCASK_BENCH_WRK_THREADS ?? 2);
const WRK_SCRIPT = fileURLToPath(new URL('../../bench/wrk/requests.lua', import.meta.url));

interface Figure {
  name: string;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  /** CPU time (user + system) the server process spent per request answered: unlike req/s, barely moved by other load on the machine. */
  serverCpuUs: number | null;
  /** The same for the load generator: the benchmark process with autocannon in it, or the wrk process. */
  clientCpuUs: number | null;
  /** Write syscalls (socket writes, file writes) the server process made per request: shows how many requests share a group commit. */
  serverWritesPerRequest: number | null;
  ofCeiling?: number;
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

/** What the load generator saw of one case. */
interface Run {
  answered: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  /** CPU seconds the load generator used, or null where it cannot tell. */
  clientCpuSeconds: number | null;
}

/** A case's requests, for each load generator: autocannon's request list and the arguments of bench/wrk/requests.lua. */
interface Requests {
  autocannon: autocannon.Request[];
  wrk: string[];
}

async function runAutocannon(url: string, requests: autocannon.Request[]): Promise<Run> {
  const before = process.cpuUsage();
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, requests });
  const used = process.cpuUsage(before);
  return {
    answered: result.requests.total,
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    clientCpuSeconds: (used.user + used.system) / 1e6,
  };
}

interface WrkSummary {
  requests: number;
  durationUs: number;
  p50Us: number;
  p99Us: number;
  non2xx: number;
  errors: number;
  cpuSeconds: number;
}

/** Runs wrk with bench/wrk/requests.lua and reads the JSON line its done() prints. */
function runWrk(url: string, args: string[]): Promise<Run> {
  const argv = ['-t', String(WRK_THREADS), '-c', String(CONNECTIONS), '-d', `${SECONDS}s`, '--timeout', '10s', '-s', WRK_SCRIPT, url, '--', ...args];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (err += text));
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new Error('wrk is not installed: apt-get install -y wrk (Debian)') : error),
    );
    child.once('exit', (code) => {
      const line = out.split('\n').findLast((l) => l.startsWith('{'));
      if (code !== 0 || line === undefined) {
        reject(new Error(`wrk exited with ${code}: ${err}${out}`));
        return;
      }
      const summary = JSON.parse(line) as WrkSummary;
      resolve({
        answered: summary.requests,
        requestsPerSec: summary.requests / (summary.durationUs / 1e6),
        p50Ms: summary.p50Us / 1000,
        p99Ms: summary.p99Us / 1000,
        non2xx: summary.non2xx,
        errors: summary.errors,
        clientCpuSeconds: summary.cpuSeconds < 0 ? null : summary.cpuSeconds,
      });
    });
  });
}

async function load(name: string, server: ChildProcess, url: string, requests: Requests, ceiling?: Figure): Promise<Figure> {
  const serverBefore = cpuSecondsOf(server.pid!);
  const writesBefore = writeSyscallsOf(server.pid!);
  const run = CLIENT === 'wrk' ? await runWrk(url, requests.wrk) : await runAutocannon(url, requests.autocannon);
  const serverAfter = cpuSecondsOf(server.pid!);
  const writesAfter = writeSyscallsOf(server.pid!);
  const { answered } = run;
  return {
    name,
    requestsPerSec: run.requestsPerSec,
    p50Ms: run.p50Ms,
    p99Ms: run.p99Ms,
    non2xx: run.non2xx,
    errors: run.errors,
    serverCpuUs: serverBefore === null || serverAfter === null ? null : ((serverAfter - serverBefore) * 1e6) / answered,
    clientCpuUs: run.clientCpuSeconds === null ? null : (run.clientCpuSeconds * 1e6) / answered,
    serverWritesPerRequest: writesBefore === null || writesAfter === null ? null : (writesAfter - writesBefore) / answered,
    ...(ceiling === undefined ? {} : { ofCeiling: run.requestsPerSec / ceiling.requestsPerSec }),
  };
}

async function main(): Promise<void> {
  if (CLIENT !== 'autocannon' && CLIENT !== 'wrk') throw new TypeError(`KVCASK_BENCH_CLIENT is ${CLIENT}: expected autocannon or wrk`);
  const root = mkdtempSync(join(tmpdir(), 'kvcask-bench-server-'));
  const figures: Figure[] = [];
  // GET: a fixed list of requests, built once by autocannon (a per-request setupRequest doubles autocannon's CPU per request,
  // which on 2 cores would be measured instead of the server); the keys are spread over the whole store.
  const paths = getPaths(GET_KEYS, KEYS);
  const pathFile = join(root, 'get-paths.txt');
  writeFileSync(pathFile, `${paths.join('\n')}\n`);
  const gets: Requests = { autocannon: getRequests(paths), wrk: ['get', pathFile, String(WRK_THREADS)] };
  // PUT: every request a new key, so autocannon needs setupRequest; its ceiling is measured with the very same generator.
  let fresh = KEYS;
  const puts: Requests = {
    autocannon: putRequests(() => fresh++),
    wrk: ['put', String(KEYS), String(VALUE_SIZE), String(WRK_THREADS)],
  };
  try {
    // The ceilings: the bare server under exactly the requests of each case (it ignores paths and bodies).
    const bare = await startServer([...SERVER_FLAGS, '-e', BARE]);
    const bareUrl = `http://127.0.0.1:${bare.port}`;
    if (CASES.has('get')) figures.push(await load('bare node:http 200 (ceiling), GET requests', bare.child, bareUrl, gets));
    if (CASES.has('put')) figures.push(await load('bare node:http 200 (ceiling), PUT requests', bare.child, bareUrl, puts));
    await stopServer(bare.child);
    if (CASES.has('floor')) {
      const valued = await startServer([...SERVER_FLAGS, '-e', BARE_VALUE]);
      const ceiling = figures.find((f) => f.name.endsWith('GET requests'));
      figures.push(await load(`bare node:http answering a ${VALUE_SIZE}-byte value (floor of a GET)`, valued.child, `http://127.0.0.1:${valued.port}`, gets, ceiling));
      await stopServer(valued.child);
    }

    const dir = join(root, 'store');
    await fillStore(dir, KEYS);
    const served = await startServer([...SERVER_FLAGS, CLI, '--dir', dir, 'serve', '--port', '0']);
    const url = `http://127.0.0.1:${served.port}`;
    if (CASES.has('get')) figures.push(await load('GET hit', served.child, url, gets, figures.find((f) => f.name.endsWith('GET requests'))));
    fresh = KEYS;
    if (CASES.has('put')) figures.push(await load(`PUT durable (${VALUE_SIZE} B)`, served.child, url, puts, figures.find((f) => f.name.endsWith('PUT requests'))));
    await stopServer(served.child);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  console.log(`kvcask serve under ${CLIENT}, ${CONNECTIONS} connections, ${SECONDS} s per case, ${KEYS.toLocaleString('en')} keys; ${machine.cpus} cores, Node ${machine.node}`);
  console.table(
    figures.map((f) => ({
      case: f.name,
      'req/s': Math.round(f.requestsPerSec),
      'p50 ms': f.p50Ms,
      'p99 ms': f.p99Ms,
      'of ceiling': f.ofCeiling === undefined ? '' : `${(f.ofCeiling * 100).toFixed(1)}%`,
      'server CPU µs/req': f.serverCpuUs === null ? '' : f.serverCpuUs.toFixed(1),
      'client CPU µs/req': f.clientCpuUs === null ? '' : f.clientCpuUs.toFixed(1),
      'server writes/req': f.serverWritesPerRequest === null ? '' : f.serverWritesPerRequest.toFixed(2),
      'non-2xx': f.non2xx,
      errors: f.errors,
    })),
  );
  if (figures.some((f) => f.non2xx > 0 || f.errors > 0)) console.warn('some requests failed: the figures above do not measure the intended case');
  saveResult('server', { machine, client: CLIENT, connections: CONNECTIONS, seconds: SECONDS, keys: KEYS, valueSize: VALUE_SIZE, figures });
}

await main();
