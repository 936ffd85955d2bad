/**
 * `npm run bench:merge`: merges and LZ4-compressed segments, on N JSON-like
 * records (N = 300,000 unless KVCASK_BENCH_KEYS says otherwise):
 *  - bytes on disk after a full compaction, with and without LZ4;
 *  - merge throughput (raw bytes of the merged files per second);
 *  - getSync on compressed segments with a warm block cache, against the same
 *    data in uncompressed segments;
 *  - p50/p99 of getSync and of durable set, event-loop delay and GC, while a
 *    merge runs, against the same without one just before it; medians of
 *    KVCASK_BENCH_LATENCY_ROUNDS (3) rounds, each with its own merge.
 * Environment: KVCASK_BENCH_KEYS, KVCASK_BENCH_ROUNDS, KVCASK_BENCH_TIME (ms),
 * KVCASK_BENCH_LATENCY_ROUNDS, KVCASK_BENCH_MERGE_RATE (mergeRateLimit of the
 * latency store; unset: the default; the throughput figure is always taken
 * without a limit), KVCASK_BENCH_ONLY=latency (skip the size and read figures).
 * Results go to stdout and to bench/results/merge-<date>.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Bench } from 'tinybench';
import { open, type Store } from '../lib/index.js';
import { rng } from '../test/support/random.js';
import { accessSequence } from './dataset.js';
import { saveResult } from './results-file.js';
import { median } from './measure.js';

const KEYS = Number(process.env.KVCASK_BENCH_KEYS ?? 300_000);
const ROUNDS = Number(process.env.KVCASK_BENCH_ROUNDS ?? 3);
const TIME_MS = Number(process.env.KVCASK_BENCH_TIME ?? 1000);
const READS_PER_CALL = 1000;
/** Quiet-then-merge latency rounds; medians are reported. */
const LATENCY_ROUNDS = Number(process.env.KVCASK_BENCH_LATENCY_ROUNDS ?? 3);
/** mergeRateLimit of the store whose merges are timed under load (bytes/s; 0: none); unset: the store's default. */
const MERGE_RATE = process.env.KVCASK_BENCH_MERGE_RATE === undefined ? undefined : Number(process.env.KVCASK_BENCH_MERGE_RATE);
/** KVCASK_BENCH_ONLY=latency skips the size and read figures (for work on merge latency). */
const ONLY_LATENCY = process.env.KVCASK_BENCH_ONLY === 'latency';
const CACHE = 512 * 1024 * 1024;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
};

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Ken', 'Margaret', 'Niklaus', 'Frances'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Thompson', 'Hamilton', 'Wirth', 'Allen'];
const CITIES = ['London', 'Paris', 'Berlin', 'Lisbon', 'Oslo', 'Madrid', 'Rome', 'Vienna'];

/** A user record as an application would store it: JSON with repeated field names and varied values. */
function record(random: () => number, id: number, version: number): Buffer {
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  const first = pick(FIRST);
  const last = pick(LAST);
  return Buffer.from(
    JSON.stringify({
      id,
      version,
      name: `${first} ${last}`,
      email: `${first.toLowerCase()}.${last.toLowerCase()}${Math.floor(random() * 1000)}@example.com`,
      city: pick(CITIES),
      createdAt: new Date(1_600_000_000_000 + Math.floor(random() * 1e11)).toISOString(),
      score: Math.round(random() * 10000) / 100,
      active: random() < 0.8,
      tags: ['alpha', 'beta', 'gamma', 'delta'].filter(() => random() < 0.5),
    }),
  );
}

const keyOf = (i: number) => Buffer.from(`user:${String(i).padStart(9, '0')}`);

async function load(db: Store, version: number, random: () => number): Promise<void> {
  for (let i = 0; i < KEYS; i += 10_000) {
    const writes: Promise<void>[] = [];
    for (let j = i; j < Math.min(KEYS, i + 10_000); j++) writes.push(db.set(keyOf(j), record(random, j, version)));
    await Promise.all(writes);
  }
}

async function getSyncOpsPerSec(db: Store, sequence: Buffer[]): Promise<number> {
  let cursor = 0;
  const rounds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: TIME_MS, warmupTime: 100 });
    bench.add('getSync', () => {
      for (let i = 0; i < READS_PER_CALL; i++) db.getSync(sequence[(cursor = (cursor + 1) % sequence.length)]);
    });
    await bench.run();
    const result = bench.tasks[0].result;
    if (result.state !== 'completed') throw new Error(`getSync: ${result.state}`);
    rounds.push((READS_PER_CALL * 1000) / result.latency.p50);
  }
  return median(rounds);
}

interface Latencies {
  getP50Us: number;
  getP99Us: number;
  setP50Us: number;
  setP99Us: number;
  loopDelayP99Ms: number;
  /** Full (mark-compact) collections while measuring, and the longest pause of any collection. */
  majorGCs: number;
  gcMaxPauseMs: number;
  sets: number;
}

/** Durable sets from one writer and getSync calls between them, timed one by one, until `until` settles (or for TIME_MS * 2). */
async function underLoad(db: Store, sequence: Buffer[], random: () => number, until?: Promise<unknown>): Promise<Latencies> {
  const gets: number[] = [];
  const sets: number[] = [];
  let stop = false;
  const stopping = until ? until.then(() => (stop = true)) : new Promise((resolve) => setTimeout(resolve, TIME_MS * 2)).then(() => (stop = true));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let majorGCs = 0;
  let gcMaxPauseMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (((entry as unknown as { detail?: { kind?: number } }).detail)?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) majorGCs++;
      gcMaxPauseMs = Math.max(gcMaxPauseMs, entry.duration);
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  const writer = (async () => {
    for (let n = 0; !stop; n++) {
      const started = performance.now();
      await db.set(sequence[n % sequence.length], record(random, n, 99));
      sets.push(performance.now() - started);
    }
  })();
  let cursor = 0;
  while (!stop) {
    for (let i = 0; i < 50; i++) {
      const key = sequence[(cursor = (cursor + 1) % sequence.length)];
      const started = performance.now();
      db.getSync(key);
      gets.push(performance.now() - started);
    }
    await nextTurn();
  }
  await Promise.all([writer, stopping]);
  delay.disable();
  gc.disconnect();
  return {
    getP50Us: percentile(gets, 0.5) * 1000,
    getP99Us: percentile(gets, 0.99) * 1000,
    setP50Us: percentile(sets, 0.5) * 1000,
    setP99Us: percentile(sets, 0.99) * 1000,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    majorGCs,
    gcMaxPauseMs,
    sets: sets.length,
  };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'kvcask-bench-merge-'));
  const notes: Record<string, unknown> = {};
  const sequence = accessSequence(Array.from({ length: KEYS }, (_, i) => keyOf(i)));
  try {
    const reads: Record<string, number> = {};
    for (const compression of ONLY_LATENCY ? [] : (['none', 'lz4'] as const)) {
      const dir = join(root, compression);
      // No rate limit here: this figure is what a merge can do, not what the default limit lets it do.
      let db = await open(dir, { sync: 'none', autoMerge: false, compression, maxFileSize: 32 * 1024 * 1024, mergeRateLimit: 0 });
      await load(db, 1, rng(7));
      await load(db, 2, rng(8)); // every record overwritten once: half the bytes are dead
      const before = db.stats();
      const started = performance.now();
      const result = await db.compact();
      const seconds = (performance.now() - started) / 1000;
      const after = db.stats();
      notes[compression] = {
        rawBytesBefore: before.rawBytes,
        diskBytesBefore: before.diskBytes,
        diskBytesAfter: after.diskBytes,
        rawBytesAfter: after.rawBytes,
        mergeSeconds: seconds,
        mergeMBPerSec: result.bytesBefore / seconds / 1e6,
      };
      await db.close();
      db = await open(dir, { autoMerge: false, blockCacheSize: CACHE });
      for (const key of sequence) db.getSync(key); // warm the block cache (and the page cache)
      reads[compression] = await getSyncOpsPerSec(db, sequence);
      (notes[compression] as Record<string, unknown>).getSyncOpsPerSec = reads[compression];
      (notes[compression] as Record<string, unknown>).blockCache = db.stats().blockCache;
      await db.close();
    }

    // p99 while a merge runs: the LZ4 store gets its records overwritten once more, then compacted under load;
    // LATENCY_ROUNDS times, each merge timed against a quiet stretch just before it, and the medians reported.
    const dir = join(root, 'lz4');
    if (ONLY_LATENCY) {
      const db = await open(dir, { sync: 'none', autoMerge: false, maxFileSize: 32 * 1024 * 1024, mergeRateLimit: 0 });
      await load(db, 1, rng(7));
      await load(db, 2, rng(8));
      await db.compact();
      await db.close();
    }
    const db = await open(dir, { autoMerge: false, blockCacheSize: CACHE, maxFileSize: 32 * 1024 * 1024, ...(MERGE_RATE === undefined ? {} : { mergeRateLimit: MERGE_RATE }) });
    if (ONLY_LATENCY) for (const key of sequence) db.getSync(key);
    const rounds: { withoutMerge: Latencies; duringMerge: Latencies; mergedBytes: number; mergeMBPerSec: number }[] = [];
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      const quiet = await underLoad(db, sequence, rng(9 + round));
      // Dead bytes for the merge to reclaim, written without sync so the setup is quick.
      {
        const writes: Promise<void>[] = [];
        const random = rng(100 + round);
        for (let i = 0; i < KEYS; i++) {
          writes.push(db.set(keyOf(i), record(random, i, 3 + round)));
          if (writes.length === 10_000) await Promise.all(writes.splice(0));
        }
        await Promise.all(writes);
      }
      const started = performance.now();
      const merging = db.compact();
      const during = await underLoad(db, sequence, rng(200 + round), merging);
      const merged = await merging;
      const mergeMBPerSec = merged.bytesBefore / ((performance.now() - started) / 1000) / 1e6;
      rounds.push({ withoutMerge: quiet, duringMerge: during, mergedBytes: merged.bytesBefore, mergeMBPerSec });
      console.log(`latency round ${round + 1}: set p99 ${(quiet.setP99Us / 1000).toFixed(2)} ms quiet, ${(during.setP99Us / 1000).toFixed(2)} ms during a merge (${mergeMBPerSec.toFixed(1)} MB/s)`);
    }
    const medianOf = (pick: (r: (typeof rounds)[number]) => Latencies) =>
      Object.fromEntries(Object.keys(rounds[0].withoutMerge).map((field) => [field, median(rounds.map((r) => pick(r)[field as keyof Latencies]))])) as unknown as Latencies;
    notes.latency = {
      withoutMerge: medianOf((r) => r.withoutMerge),
      duringMerge: medianOf((r) => r.duringMerge),
      mergeUnderLoadMBPerSec: median(rounds.map((r) => r.mergeMBPerSec)),
      setP99Ratios: rounds.map((r) => r.duringMerge.setP99Us / r.withoutMerge.setP99Us),
      rounds,
    };
    await db.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  const none = notes.none as Record<string, number>;
  const lz4 = notes.lz4 as Record<string, number>;
  console.log(`kvcask merge bench: ${KEYS.toLocaleString('en')} JSON records (each written twice), ${machine.cpus} cores, Node ${machine.node}`);
  if (!ONLY_LATENCY) console.table({
    'bytes on disk after compaction': { none: none.diskBytesAfter, lz4: lz4.diskBytesAfter, 'lz4 / raw': +(lz4.diskBytesAfter / lz4.rawBytesAfter).toFixed(3) },
    'merge MB/s (input bytes)': { none: +none.mergeMBPerSec.toFixed(1), lz4: +lz4.mergeMBPerSec.toFixed(1) },
    'getSync ops/s, warm block cache': { none: Math.round(none.getSyncOpsPerSec), lz4: Math.round(lz4.getSyncOpsPerSec), 'lz4 / none': +(lz4.getSyncOpsPerSec / none.getSyncOpsPerSec).toFixed(3) },
  });
  const latency = notes.latency as { withoutMerge: Latencies; duringMerge: Latencies; mergeUnderLoadMBPerSec: number; setP99Ratios: number[] };
  console.log(`latency: medians of ${LATENCY_ROUNDS} rounds; merge under load ${latency.mergeUnderLoadMBPerSec.toFixed(1)} MB/s; set p99 ratio per round ${latency.setP99Ratios.map((r) => r.toFixed(2)).join(', ')}`);
  console.table({ 'without merge': latency.withoutMerge, 'during merge': latency.duringMerge });
  saveResult('merge', { machine, keys: KEYS, rounds: ROUNDS, latencyRounds: LATENCY_ROUNDS, mergeRateLimit: MERGE_RATE ?? 'default', notes });
}

await main();
