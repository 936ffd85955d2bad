/**
 * `npm run workshop:server-instructions -- [get|put ...]`: user-space
 * instructions per request of the server process (every thread), counted by
 * callgrind, for the bare node:http server and for `kvcask serve` under the
 * requests of bench/server.ts. Unlike req/s or CPU time, the count does not
 * move with other load on the machine. Each round starts the server under
 * `valgrind --tool=callgrind --instr-atstart=no`, sends WARMUP requests
 * uncounted (the JIT settles), switches counting on with callgrind_control,
 * sends REQUESTS requests, switches it off and reads the total from the
 * profile callgrind writes at exit. Kernel work (socket writes, fdatasync)
 * is not counted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { BARE, CLI, fillStore, getPaths, keyOf, startServer, stopServer, VALUE_SIZE } from '../server-processes.js';

const ROUNDS = Number(process.env.KVCASK_WORKSHOP_ROUNDS ?? 3);
const REQUESTS = Number(process.env.KVCASK_WORKSHOP_REQUESTS ?? 20_000);
const WARMUP = Number(process.env.KVCASK_WORKSHOP_WARMUP ?? 30_000);
const CONNECTIONS = Number(process.env.KVCASK_WORKSHOP_CONNECTIONS ?? 20);
const KEYS = Number(process.env.KVCASK_WORKSHOP_KEYS ?? 10_000);
// Which servers to count: "bare", "kvcask" or both (the default), comma-separated.
const SERVERS = (process.env.KVCASK_WORKSHOP_SERVERS ?? 'bare,kvcask').split(',');
// A directory to keep the callgrind profiles in (for callgrind_annotate); by default they are deleted.
const KEEP = process.env.KVCASK_WORKSHOP_KEEP;
const CASES = process.argv.length > 2 ? process.argv.slice(2) : ['get', 'put'];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

let fresh = KEYS;
function requestsOf(kind: string): autocannon.Request[] {
  if (kind === 'get') return getPaths(1000, KEYS).map((path) => ({ method: 'GET', path }));
  if (kind === 'put') {
    const body = Buffer.alloc(VALUE_SIZE, 0x76).toString();
    return [{ method: 'PUT', body, setupRequest: (request) => ({ ...request, path: `/kv/${keyOf(fresh++)}` }) }];
  }
  throw new TypeError(`unknown case ${kind}: expected get or put`);
}

async function send(url: string, requests: autocannon.Request[], amount: number): Promise<void> {
  const result = await autocannon({ url, connections: CONNECTIONS, amount, requests, timeout: 60 });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx answers and ${result.errors} errors`);
}

/** Instructions per request of one server process over REQUESTS requests after WARMUP. */
async function count(args: string[], kind: string, server: string, scratch: string): Promise<number> {
  const out = join(KEEP ?? scratch, `callgrind-${kind}-${server}-${Date.now()}.out`);
  const { child, port } = await startServer(args, ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`]);
  const url = `http://127.0.0.1:${port}`;
  const requests = requestsOf(kind);
  await send(url, requests, WARMUP);
  execFileSync('callgrind_control', ['-i', 'on', String(child.pid)], { stdio: 'ignore' });
  await send(url, requests, REQUESTS);
  execFileSync('callgrind_control', ['-i', 'off', String(child.pid)], { stdio: 'ignore' });
  await stopServer(child);
  const totals = /^totals: (\d+)/m.exec(readFileSync(out, 'latin1'));
  if (totals === null) throw new Error(`no totals in ${out}`);
  return Number(totals[1]) / REQUESTS;
}

const scratch = mkdtempSync(join(tmpdir(), 'kvcask-instructions-'));
try {
  const dir = join(scratch, 'store');
  await fillStore(dir, KEYS);
  console.log(
    `instructions per request (callgrind, user space, all threads): ${WARMUP.toLocaleString('en')} requests of warm-up, ` +
      `${REQUESTS.toLocaleString('en')} counted, ${CONNECTIONS} connections, ${KEYS.toLocaleString('en')} keys, ${ROUNDS} rounds`,
  );
  const rows = [];
  for (const kind of CASES) {
    for (const server of SERVERS) {
      const args = server === 'bare' ? ['-e', BARE] : [CLI, '--dir', dir, 'serve', '--port', '0'];
      const rounds: number[] = [];
      for (let round = 0; round < ROUNDS; round++) rounds.push(await count(args, kind, server, scratch));
      const row = { case: kind, server, median: Math.round(median(rounds)), rounds: rounds.map((r) => Math.round(r)).join(' ') };
      console.log(JSON.stringify(row));
      rows.push(row);
    }
  }
  console.table(rows);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
