/**
 * `npm run bench`: kvcask's own figures on N random 16-byte keys with 100-byte
 * values (N = 1,000,000 unless KVCASK_BENCH_KEYS says otherwise). Every task
 * runs in ROUNDS rounds of tinybench and the median round is reported.
 * Results go to stdout as a table and to bench/results/store-<date>.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { open, type Store } from '../lib/index.js';
import { accessSequence, makeDataset } from './dataset.js';
import { type Figure, measure, ROUNDS } from './measure.js';
import { saveResult } from './results-file.js';

const KEYS = Number(process.env.KVCASK_BENCH_KEYS ?? 1_000_000);
const VALUE_SIZE = 100;
const READS_PER_CALL = 1000;

async function load(dir: string, keys: Buffer[], value: Buffer): Promise<number> {
  const db = await open(dir, { sync: 'none', autoMerge: false });
  const started = performance.now();
  const chunk = 10_000;
  for (let i = 0; i < keys.length; i += chunk) {
    const writes: Promise<void>[] = [];
    for (let j = i; j < Math.min(keys.length, i + chunk); j++) writes.push(db.set(keys[j], value));
    await Promise.all(writes);
  }
  await db.close();
  return (keys.length * 1000) / (performance.now() - started);
}

async function main(): Promise<void> {
  const { keys, missing, value, random } = makeDataset(KEYS, VALUE_SIZE);
  const root = mkdtempSync(join(tmpdir(), 'kvcask-bench-'));
  const dir = join(root, 'store');
  const figures: Figure[] = [];
  const notes: Record<string, number> = {};
  try {
    notes.bulkLoadOpsPerSec = await load(dir, keys, value);
    // Index memory is measured in a fresh process by bench/keydir-memory.ts: here the load's garbage would blur it.
    const openStarted = performance.now();
    // Data files only: merges and compressed segments are measured by bench/merge.ts.
    const db: Store = await open(dir, { sync: 'always', autoMerge: false });
    notes.openMs = performance.now() - openStarted;
    notes.indexEstimateBytesPerKey = db.stats().indexMemoryBytes / KEYS;

    const sequence = accessSequence(keys);
    let cursor = 0;
    const nextKey = () => sequence[(cursor = (cursor + 1) % sequence.length)];
    figures.push(await measure('getSync hit', () => {
      for (let i = 0; i < READS_PER_CALL; i++) db.getSync(nextKey());
    }, READS_PER_CALL));
    figures.push(await measure('get hit (async)', async () => {
      for (let i = 0; i < READS_PER_CALL; i++) await db.get(nextKey());
    }, READS_PER_CALL));
    let missCursor = 0;
    figures.push(await measure('getSync miss', () => {
      for (let i = 0; i < READS_PER_CALL; i++) db.getSync(missing[(missCursor = (missCursor + 1) % missing.length)]);
    }, READS_PER_CALL));
    figures.push(await measure('getMany of 100', () => db.getMany(Array.from({ length: 100 }, nextKey)), 100));
    const sorted = [...keys].sort(Buffer.compare);
    const span = Math.min(10_000, Math.floor(KEYS / 2));
    figures.push(await measure(`range of ${span.toLocaleString('en')}`, async () => {
      let n = 0;
      for await (const _ of db.range({ gte: sorted[Math.floor(random() * (KEYS - span))], limit: span })) n++;
      if (n !== span) throw new Error(`range returned ${n}`);
    }));
    figures.push(await measure('set durable, 1 writer', () => db.set(nextKey(), value)));
    figures.push(await measure('set durable, 64 writers', () => db.set(nextKey(), value), 1, 64));
    await db.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  console.log(`kvcask ${KEYS.toLocaleString('en')} keys of 16 B, values of ${VALUE_SIZE} B; ${machine.cpus} cores, Node ${machine.node}`);
  console.log(`bulk load (sync: 'none'): ${Math.round(notes.bulkLoadOpsPerSec).toLocaleString('en')} ops/s; open: ${notes.openMs.toFixed(0)} ms`);
  console.log(
    `index memory per key, stats() estimate: ${notes.indexEstimateBytesPerKey.toFixed(1)} B (measured: npm run bench:memory)`,
  );
  console.table(
    figures.map((f) => ({ task: f.name, 'ops/s': Math.round(f.opsPerSec), 'p50 µs': +(f.p50Ms * 1000).toFixed(2), 'p99 µs': +(f.p99Ms * 1000).toFixed(2) })),
  );
  saveResult('store', { machine, keys: KEYS, valueSize: VALUE_SIZE, rounds: ROUNDS, notes, figures });
}

await main();
