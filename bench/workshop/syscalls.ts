/**
 * `npm run workshop:syscalls -- [operations...]`: system calls per 100,000
 * operations, by kind, counted by `strace -c -f` (every thread, so the
 * thread pool's writes and syncs count too). Each operation runs twice in a
 * child process on the same prepared store: once with 0 operations and once
 * with KVCASK_WORKSHOP_OPS (default 100,000); the difference is the
 * operations' own calls, without Node's start-up and the store's open and close.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseStraceSummary } from './strace-summary.js';
import { dataset, KINDS, parseKind, prepare } from './workload.js';

const OPS = Number(process.env.KVCASK_WORKSHOP_OPS ?? 100_000);
const KEYS = Number(process.env.KVCASK_WORKSHOP_KEYS ?? 100_000);
const child = fileURLToPath(new URL('./run-workload.js', import.meta.url));

function count(kind: string, dir: string, ops: number, scratch: string): Map<string, number> {
  const out = join(scratch, `${kind}-${ops}.strace`);
  execFileSync('strace', ['-c', '-f', '-o', out, process.execPath, child, kind, dir, String(ops), String(KEYS)], { stdio: 'inherit' });
  return parseStraceSummary(readFileSync(out, 'utf8'));
}

const kinds = process.argv.length > 2 ? process.argv.slice(2).map(parseKind) : KINDS;
const scratch = mkdtempSync(join(tmpdir(), 'kvcask-syscalls-'));
try {
  const data = dataset(KEYS);
  console.log(`system calls per 100,000 operations (${OPS.toLocaleString('en')} measured, ${KEYS.toLocaleString('en')} keys of 16 B, values of 100 B)`);
  for (const kind of kinds) {
    const dir = join(scratch, kind);
    await prepare(dir, data);
    const base = count(kind, dir, 0, scratch);
    const loaded = count(kind, dir, OPS, scratch);
    const rows = [...loaded]
      .map(([name, calls]) => ({ syscall: name, per100k: ((calls - (base.get(name) ?? 0)) * 100_000) / OPS }))
      .filter((row) => Math.abs(row.per100k) >= 1)
      .sort((a, b) => b.per100k - a.per100k);
    console.log(`\n${kind}`);
    for (const row of rows) console.log(`  ${row.syscall.padEnd(20)} ${Math.round(row.per100k).toLocaleString('en').padStart(10)}`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
