/**
 * `npm run bench:access-order`: why the benchmarks read keys from an access
 * sequence (bench/dataset.ts). On one store of N keys (default 1,000,000, 16 B
 * keys, 100 B values), getSync of the same keys in the same order, timed two
 * ways, alternately, ROUNDS times each: fetching every key from the N-element
 * array at a stride inside the timed loop, and from the access sequence (the
 * same keys copied in read order beforehand). Medians to stdout and to
 * bench/results/access-order-<date>.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from '../lib/index.js';
import { accessSequence, makeDataset } from './dataset.js';
import { saveResult } from './results-file.js';
import { median } from './measure.js';

const KEYS = Number(process.env.KVCASK_BENCH_KEYS ?? 1_000_000);
const ROUNDS = Number(process.env.KVCASK_BENCH_ROUNDS ?? 7);

const { keys, value } = makeDataset(KEYS, 100);
const root = mkdtempSync(join(tmpdir(), 'kvcask-bench-order-'));
try {
  const db = await open(join(root, 'store'), { sync: 'none', autoMerge: false });
  for (let i = 0; i < KEYS; i += 10_000) await Promise.all(keys.slice(i, i + 10_000).map((key) => db.set(key, value)));
  const sequence = accessSequence(keys);
  const reads = sequence.length;
  const strided = () => {
    for (let i = 0; i < reads; i++) db.getSync(keys[(i * 7919) % KEYS]);
  };
  const inOrder = () => {
    for (let i = 0; i < reads; i++) db.getSync(sequence[i]);
  };
  const rates: Record<string, number[]> = { strided: [], inOrder: [] };
  inOrder(); // warm the page cache
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of [['strided', strided], ['inOrder', inOrder]] as const) {
      const started = performance.now();
      run();
      rates[name].push((reads * 1000) / (performance.now() - started));
    }
  }
  await db.close();
  const result = { strided: median(rates.strided), inOrder: median(rates.inOrder) };
  console.log(`getSync of ${reads.toLocaleString('en')} keys out of ${KEYS.toLocaleString('en')}, median of ${ROUNDS} rounds; ${cpus().length} cores, Node ${process.version}`);
  console.table({ 'keys fetched at a stride from the key array': Math.round(result.strided), 'keys from the access sequence': Math.round(result.inOrder) });
  saveResult('access-order', { keys: KEYS, reads, rounds: ROUNDS, opsPerSec: result, runs: rates });
} finally {
  rmSync(root, { recursive: true, force: true });
}
