/**
 * `npm run workshop:server-instructions -- [get|put ...]`: user-space
 * instructions per request of the server process (every thread), counted by
 * callgrind, for the bare node:http server and for `kvcask serve` under the
 * requests of bench/server.ts. Unlike req/s or CPU time, the count does not
 * move with other load on the machine. Each round starts the server under
 * `valgrind --tool=callgrind --instr-atstart=no` and sends it WARMUP +
 * REQUESTS requests in one autocannon run; counting is switched on with
 * callgrind_control once WARMUP have been answered (the JIT has settled) and
 * off after the last, and the total is read from the profile callgrind
 * writes at exit. Kernel work (socket writes, fdatasync)
 * is not counted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { autocannonRequests, BARE, CLI, fillStore, startServer, stopServer } from '../server-processes.js';
import { median } from '../measure.js';

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

// PUT keys never repeat, not even across rounds on the same store.
let fresh = KEYS;
const nextKey = () => fresh++;

/**
 * Instructions per request of one server process: one run of WARMUP + REQUESTS requests, counted from the
 * WARMUP-th answer to the last. One run, not two: the connections a second run would open (and the first would
 * close) send V8 through code paths it then optimizes again, while counting.
 */
async function count(args: string[], kind: string, server: string, scratch: string): Promise<number> {
  const out = join(KEEP ?? scratch, `callgrind-${kind}-${server}-${Date.now()}.out`);
  const { child, port } = await startServer(args, ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`]);
  const instrument = (on: boolean) => execFileSync('callgrind_control', ['-i', on ? 'on' : 'off', String(child.pid)], { stdio: 'ignore' });
  const options = { url: `http://127.0.0.1:${port}`, connections: CONNECTIONS, amount: WARMUP + REQUESTS, requests: autocannonRequests(kind, KEYS, nextKey), timeout: 60 };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    let answered = 0;
    autocannon(options, (err, done) => (err ? reject(err) : resolve(done))).on('response', () => {
      answered++;
      // Synchronous: no request goes out while callgrind switches.
      if (answered === WARMUP) instrument(true);
      else if (answered === WARMUP + REQUESTS) instrument(false);
    });
  });
  await stopServer(child);
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx answers and ${result.errors} errors`);
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
