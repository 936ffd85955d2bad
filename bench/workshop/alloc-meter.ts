/**
 * `npm run workshop:alloc -- [operations...]` (runs with --expose-gc):
 * bytes allocated and garbage-collection time per operation.
 *
 * Bytes: rounds of ROUND operations, each starting after a full GC; the
 * growth of the JS heap plus ArrayBuffer memory over a round is what the
 * round allocated, provided no GC ran during it (rounds with a GC are
 * dropped, and rounds are shortened until most have none). The median
 * round is reported. GC: PerformanceObserver 'gc'
 * entries over KVCASK_WORKSHOP_OPS (default 200,000) operations, by kind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { dataset, KINDS, openFor, operations, parseKind, prepare } from './workload.js';
import { median } from '../measure.js';

const KEYS = Number(process.env.KVCASK_WORKSHOP_KEYS ?? 100_000);
const OPS = Number(process.env.KVCASK_WORKSHOP_OPS ?? 200_000);
const ROUND = 1000;
const ROUNDS = 30;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run workshop:alloc does)');

const gcEntries: { start: number; duration: number; kind: number }[] = [];
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcEntries.push({ start: entry.startTime, duration: entry.duration, kind: (entry as unknown as { detail: { kind: number } }).detail.kind });
});
observer.observe({ entryTypes: ['gc'] });
/** Lets queued observer callbacks run, so gcEntries is up to date. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const allocatedSoFar = () => getHeapStatistics().used_heap_size + process.memoryUsage().arrayBuffers;
const gcKinds: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

const kinds = process.argv.length > 2 ? process.argv.slice(2).map(parseKind) : KINDS;
const scratch = mkdtempSync(join(tmpdir(), 'kvcask-alloc-'));
try {
  const data = dataset(KEYS);
  console.log(`${KEYS.toLocaleString('en')} keys of 16 B, values of 100 B; bytes per operation: median of rounds without a GC; GC over ${OPS.toLocaleString('en')} operations`);
  for (const kind of kinds) {
    const dir = join(scratch, kind);
    await prepare(dir, data);
    const db = await openFor(kind, dir);
    const run = operations(kind, db, data);
    await run(ROUND); // warm-up: JIT and lazily allocated buffers

    // A round must fit between two scavenges: halve it until most rounds do.
    let round = ROUND;
    let perOp: number[] = [];
    let dropped = 0;
    for (; round >= 25; round /= 2) {
      perOp = [];
      dropped = 0;
      for (let i = 0; i < ROUNDS; i++) {
        gc();
        await settle();
        const seen = gcEntries.length;
        const before = allocatedSoFar();
        await run(round);
        const after = allocatedSoFar();
        await settle();
        if (gcEntries.length > seen) dropped++;
        else perOp.push((after - before) / round);
      }
      if (dropped <= ROUNDS / 2) break;
    }

    gc();
    await settle();
    const seen = gcEntries.length;
    const started = performance.now();
    await run(OPS);
    const elapsedMs = performance.now() - started;
    await settle();
    await db.close();
    const entries = gcEntries.slice(seen);
    const gcMs = entries.reduce((sum, e) => sum + e.duration, 0);
    const byKind = new Map<string, number>();
    for (const e of entries) byKind.set(gcKinds[e.kind] ?? String(e.kind), (byKind.get(gcKinds[e.kind] ?? String(e.kind)) ?? 0) + 1);

    const bytes = perOp.length > 0 ? `${median(perOp).toFixed(0)} B` : `not measured (a GC ran in every round)`;
    console.log(`\n${kind}`);
    console.log(`  allocated per operation: ${bytes} (median of ${perOp.length} rounds of ${round}; ${dropped} more dropped for a GC)`);
    console.log(`  GC: ${((gcMs * 1000) / OPS).toFixed(3)} µs per operation, ${((gcMs / elapsedMs) * 100).toFixed(1)}% of the time; per 100,000 operations: ${[...byKind].map(([k, n]) => `${((n * 100_000) / OPS).toFixed(1)} ${k}`).join(', ') || 'none'}`);
  }
} finally {
  observer.disconnect();
  rmSync(scratch, { recursive: true, force: true });
}
