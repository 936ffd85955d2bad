/**
 * `npm run workshop:server-syscalls -- [get|put ...]`: system calls per
 * request of the server process (every thread), counted by `strace -c -f`,
 * for the bare node:http server and for `kvcask serve` under the requests of
 * bench/server.ts (20 connections). Each server runs twice on the same store:
 * answering no requests and answering REQUESTS; the difference, divided by
 * REQUESTS, leaves out start-up and shutdown.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { autocannonRequests, BARE, CLI, fillStore, startServer } from '../server-processes.js';
import { parseStraceSummary } from './strace-summary.js';

const REQUESTS = Number(process.env.KVCASK_WORKSHOP_REQUESTS ?? 20_000);
const CONNECTIONS = Number(process.env.KVCASK_WORKSHOP_CONNECTIONS ?? 20);
const KEYS = Number(process.env.KVCASK_WORKSHOP_KEYS ?? 10_000);
const SERVERS = (process.env.KVCASK_WORKSHOP_SERVERS ?? 'bare,kvcask').split(',');
const CASES = process.argv.length > 2 ? process.argv.slice(2) : ['get', 'put'];

let fresh = KEYS;
const nextKey = () => fresh++;

async function count(args: string[], kind: string, requests: number, out: string): Promise<Map<string, number>> {
  const { child, port } = await startServer(args, ['strace', '-c', '-f', '-o', out]);
  if (requests > 0) {
    const result = await autocannon({ url: `http://127.0.0.1:${port}`, connections: CONNECTIONS, amount: requests, requests: autocannonRequests(kind, KEYS, nextKey) });
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx answers and ${result.errors} errors`);
  }
  // The server, not strace: strace would detach and leave it running. It writes its summary once the server exits.
  const server = Number(execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).trim().split('\n')[0]);
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(server, 'SIGTERM');
  await exited;
  return parseStraceSummary(readFileSync(out, 'utf8'));
}

const scratch = mkdtempSync(join(tmpdir(), 'kvcask-server-syscalls-'));
try {
  const dir = join(scratch, 'store');
  await fillStore(dir, KEYS);
  console.log(`system calls per request (strace -c -f): ${REQUESTS.toLocaleString('en')} requests, ${CONNECTIONS} connections, ${KEYS.toLocaleString('en')} keys`);
  for (const kind of CASES) {
    for (const server of SERVERS) {
      const args = server === 'bare' ? ['-e', BARE] : [CLI, '--dir', dir, 'serve', '--port', '0'];
      const base = await count(args, kind, 0, join(scratch, `${kind}-${server}-0.strace`));
      const loaded = await count(args, kind, REQUESTS, join(scratch, `${kind}-${server}.strace`));
      const rows = [...loaded]
        .map(([name, calls]) => ({ syscall: name, perRequest: Number(((calls - (base.get(name) ?? 0)) / REQUESTS).toFixed(3)) }))
        .filter((row) => Math.abs(row.perRequest) >= 0.001)
        .sort((a, b) => b.perRequest - a.perRequest);
      console.log(`${kind}, ${server}:`);
      console.table(rows);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
