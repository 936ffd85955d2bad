/**
 * `npm run bench:index`: index: 'memory' against index: 'disk' on N keys of
 * 16 B with 100 B values (N = 10,000,000 unless KVCASK_BENCH_KEYS says
 * otherwise), one mode after the other, each phase in a fresh child process
 * so that one phase's garbage does not count in the next one's memory:
 *
 *   load: open, write every key (sync: 'none', 10,000 writes in flight), then
 *         memory after load (store open), then close;
 *   read: open (timed), memory after reopen, then getSync hits (keys in an
 *         access sequence, after one pass to warm the caches), misses, a range
 *         of 10,000 keys and durable sets with 64 writers (sync: 'always').
 *
 * Keys are derived from their number (no array of N keys in memory). Memory
 * is V8 heap plus external (ArrayBuffer) memory, and RSS, each the growth
 * over the same process before open(), after a full GC.
 * Results: a table on stdout and bench/results/index-modes-<date>.json.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open, type Store } from '../lib/index.js';
import { absentKeys, keyAt, presentKeys, setDerivedKeys } from './derived-keys.js';
import { type Figure, measure, ROUNDS } from './measure.js';
import { memoryAfterGc } from './process-memory.js';
import { saveResult } from './results-file.js';

const KEYS = Number(process.env.KVCASK_BENCH_KEYS ?? 10_000_000);
const VALUE_SIZE = 100;
const READS_PER_CALL = 1000;
const SEQUENCE = 200_000;
/** index: 'disk' page cache for the read phase (KVCASK_BENCH_INDEX_CACHE_MB); default: the store's default, 32 MiB. */
const INDEX_CACHE_BYTES = Number(process.env.KVCASK_BENCH_INDEX_CACHE_MB ?? 32) * 2 ** 20;
type Mode = 'memory' | 'disk';

async function loadPhase(dir: string, mode: Mode): Promise<object> {
  const value = Buffer.alloc(VALUE_SIZE, 7);
  const before = memoryAfterGc();
  const db = await open(dir, { index: mode, sync: 'none', autoMerge: false });
  const started = performance.now();
  await setDerivedKeys(db, KEYS, value);
  const loadSeconds = (performance.now() - started) / 1000;
  const after = memoryAfterGc();
  const closeStarted = performance.now();
  await db.close();
  return {
    loadOpsPerSec: KEYS / loadSeconds,
    closeMs: performance.now() - closeStarted,
    heapBytesPerKeyAfterLoad: (after.heap - before.heap) / KEYS,
    rssBytesPerKeyAfterLoad: (after.rss - before.rss) / KEYS,
  };
}

async function readPhase(dir: string, mode: Mode): Promise<object> {
  const before = memoryAfterGc();
  const openStarted = performance.now();
  const db: Store = await open(dir, { index: mode, sync: 'always', autoMerge: false, indexCacheSize: INDEX_CACHE_BYTES });
  const openMs = performance.now() - openStarted;
  const after = memoryAfterGc();
  const sequence = presentKeys(KEYS, SEQUENCE);
  const missing = absentKeys(KEYS, SEQUENCE);
  for (const key of sequence) if (db.getSync(key) === undefined) throw new Error(`key ${key.toString('hex')} is missing`);
  let cursor = 0;
  const nextKey = () => sequence[(cursor = (cursor + 1) % SEQUENCE)];
  const figures: Figure[] = [];
  figures.push(await measure('getSync hit', () => {
    for (let i = 0; i < READS_PER_CALL; i++) db.getSync(nextKey());
  }, READS_PER_CALL));
  let missCursor = 0;
  figures.push(await measure('getSync miss', () => {
    for (let i = 0; i < READS_PER_CALL; i++) db.getSync(missing[(missCursor = (missCursor + 1) % SEQUENCE)]);
  }, READS_PER_CALL));
  figures.push(await measure('range of 10,000', async () => {
    let n = 0;
    for await (const _ of db.range({ gte: nextKey(), limit: 10_000 })) n++;
    if (n === 0) throw new Error('empty range');
  }));
  const value = Buffer.alloc(VALUE_SIZE, 9);
  figures.push(await measure('set durable, 64 writers', () => db.set(nextKey(), value), 1, 64));
  const stats = db.stats();
  await db.close();
  return {
    openMs,
    heapBytesPerKeyAfterReopen: (after.heap - before.heap) / KEYS,
    rssBytesPerKeyAfterReopen: (after.rss - before.rss) / KEYS,
    keys: stats.keys,
    files: stats.files.length,
    figures,
  };
}

/** Reads every key back and checks its value: the proof that the store holds them all. */
async function verifyPhase(dir: string, mode: Mode): Promise<object> {
  const db = await open(dir, { index: mode, autoMerge: false, maxFileSize: CAP_FILE_SIZE });
  const key = Buffer.allocUnsafe(16);
  let wrong = 0;
  for (let i = 0; i < KEYS; i++) if (db.getSync(keyAt(i, key))?.equals(VALUE) !== true) wrong++;
  const rss = process.memoryUsage().rss;
  await db.close();
  return { keysRead: KEYS, wrong, rssMiB: rss / 2 ** 20 };
}

async function capLoadPhase(dir: string, mode: Mode): Promise<object> {
  // Durable writes: unsynced dirty pages count against the cgroup too, and would stall the load in reclaim.
  const db = await open(dir, { index: mode, sync: 'always', autoMerge: false, maxFileSize: CAP_FILE_SIZE });
  await setDerivedKeys(db, KEYS, VALUE);
  const rss = process.memoryUsage().rss;
  await db.close();
  return { keysWritten: KEYS, rssMiB: rss / 2 ** 20 };
}

const CAP_FILE_SIZE = 16 * 1024 * 1024;
/** V8 does not know about the cgroup: without a heap limit it would put off collecting garbage until the cap kills it. */
const HEAP_MIB = Number(process.env.KVCASK_BENCH_HEAP_MB ?? 160);
const VALUE = Buffer.alloc(VALUE_SIZE, 7);

async function child(phase: string, dir: string, mode: Mode): Promise<void> {
  const phases: Record<string, (dir: string, mode: Mode) => Promise<object>> = { load: loadPhase, read: readPhase, 'cap-load': capLoadPhase, verify: verifyPhase };
  process.stdout.write(JSON.stringify(await phases[phase](dir, mode)));
}

/**
 * A memory cgroup limited to `bytes` (cgroup v2 memory.max, else v1
 * memory.limit_in_bytes), for `npm run bench:index-cap`; null where the
 * machine does not allow one.
 */
function makeCgroup(bytes: number): string | null {
  // Each hierarchy is known by a file only its root has: a plain directory would take the writes and limit nothing.
  for (const [root, marker, limit] of [['/sys/fs/cgroup', 'cgroup.controllers', 'memory.max'], ['/sys/fs/cgroup/memory', 'memory.limit_in_bytes', 'memory.limit_in_bytes']] as const) {
    if (!existsSync(join(root, marker))) continue;
    const group = join(root, `kvcask-cap-${process.pid}`);
    try {
      mkdirSync(group);
      writeFileSync(join(group, limit), String(bytes));
      return group;
    } catch {
      if (existsSync(group)) rmdirSync(group);
    }
  }
  return null;
}

/** Runs one phase in a child process inside `group`; returns its result, or how it died. */
function runCapped(group: string, phase: string, dir: string, mode: Mode): Record<string, unknown> {
  const script = `echo $$ > ${group}/cgroup.procs && exec "${process.execPath}" --max-old-space-size=${HEAP_MIB} "${fileURLToPath(import.meta.url)}" ${phase} "${dir}" ${mode}`;
  const run = spawnSync('sh', ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, KVCASK_BENCH_KEYS: String(KEYS) } });
  if (run.status === 0) return JSON.parse(run.stdout) as Record<string, unknown>;
  return { failed: true, status: run.status, signal: run.signal, stderr: run.stderr.slice(-300) };
}

async function capProof(capMiB: number): Promise<void> {
  const group = makeCgroup(capMiB * 2 ** 20);
  if (group === null) throw new Error('this machine allows no memory cgroup here (run as root on cgroup v1 or v2)');
  const root = mkdtempSync(join(tmpdir(), 'kvcask-bench-cap-'));
  const results: Record<string, unknown> = {};
  try {
    for (const mode of ['disk', 'memory'] as const) {
      const dir = join(root, mode);
      console.error(`${mode}: writing ${KEYS.toLocaleString('en')} keys under a ${capMiB} MiB memory cap`);
      const load = runCapped(group, 'cap-load', dir, mode);
      const verify = load.failed ? null : runCapped(group, 'verify', dir, mode);
      results[mode] = { load, verify };
      console.log(mode, JSON.stringify(results[mode]));
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
    // A cgroup goes with rmdir, once its processes have exited.
    rmdirSync(group);
  }
  saveResult('index-cap', { keys: KEYS, capMiB, maxFileSize: CAP_FILE_SIZE, node: process.version, results });
}

function runChild(phase: string, dir: string, mode: Mode): Record<string, unknown> {
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), phase, dir, mode], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out) as Record<string, unknown>;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'kvcask-bench-index-'));
  const results: Record<string, Record<string, unknown>> = {};
  try {
    for (const mode of ['memory', 'disk'] as const) {
      const dir = join(root, mode);
      console.error(`${mode}: loading ${KEYS.toLocaleString('en')} keys`);
      const load = runChild('load', dir, mode);
      console.error(`${mode}: reading`);
      results[mode] = { ...load, ...runChild('read', dir, mode) };
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  console.log(`index modes, ${KEYS.toLocaleString('en')} keys of 16 B, values of ${VALUE_SIZE} B; ${machine.cpus} cores, Node ${machine.node}`);
  const rows: Record<string, Record<string, string>> = {};
  const number = (value: unknown, digits = 0) => (typeof value === 'number' ? value.toLocaleString('en', { maximumFractionDigits: digits }) : '');
  for (const name of ['loadOpsPerSec', 'heapBytesPerKeyAfterLoad', 'rssBytesPerKeyAfterLoad', 'openMs', 'heapBytesPerKeyAfterReopen', 'rssBytesPerKeyAfterReopen']) {
    rows[name] = { memory: number(results.memory[name], 1), disk: number(results.disk[name], 1) };
  }
  for (const figure of results.memory.figures as Figure[]) {
    const disk = (results.disk.figures as Figure[]).find((f) => f.name === figure.name)!;
    rows[`${figure.name} ops/s`] = { memory: number(figure.opsPerSec), disk: number(disk.opsPerSec), 'disk / memory': (disk.opsPerSec / figure.opsPerSec).toFixed(2) };
    rows[`${figure.name} p99 µs`] = { memory: number(figure.p99Ms * 1000, 2), disk: number(disk.p99Ms * 1000, 2) };
  }
  console.table(rows);
  saveResult('index-modes', { machine, keys: KEYS, valueSize: VALUE_SIZE, rounds: ROUNDS, indexCacheBytes: INDEX_CACHE_BYTES, results });
}

const [phase, dir, mode] = process.argv.slice(2);
const capMiB = Number(process.env.KVCASK_BENCH_MEMORY_CAP_MB ?? 0);
if (phase !== undefined) await child(phase, dir, mode as Mode);
else if (capMiB > 0) await capProof(capMiB);
else await main();
