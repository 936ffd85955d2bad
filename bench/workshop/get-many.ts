/**
 * `npm run workshop:getmany [memory] [disk]`: 100 keys read three ways on one
 * store of KVCASK_WORKSHOP_KEYS random 16-byte keys (default 200,000) with
 * 100-byte values, in data files (autoMerge off, so no compressed segments),
 * page cache warm: one `getMany` of 100 keys, 100 `getSync` calls, and 100
 * `get` promises awaited together. Each under tinybench (bench/measure.ts:
 * KVCASK_BENCH_ROUNDS rounds of KVCASK_BENCH_TIME ms, median round), for each
 * index mode named (default both). Keys come from an access sequence
 * (bench/dataset.ts), 100 consecutive ones per call.
 * Results: stdout and bench/results/get-many-<date>.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from '../../lib/index.js';
import { accessSequence } from '../dataset.js';
import { type Figure, measure, ROUNDS } from '../measure.js';
import { saveResult } from '../results-file.js';
import { dataset } from './workload.js';

const KEYS = Number(process.env.KVCASK_WORKSHOP_KEYS ?? 200_000);
const PER_CALL = 100;
const MODES = ['memory', 'disk'] as const;
type Mode = (typeof MODES)[number];
const asked = process.argv.slice(2);
for (const mode of asked) if (!(MODES as readonly string[]).includes(mode)) throw new RangeError(`unknown index mode "${mode}"; choose from ${MODES.join(', ')}`);
const modes = asked.length > 0 ? (asked as Mode[]) : [...MODES];

const data = dataset(KEYS);
const sequence = accessSequence(data.keys);
const root = mkdtempSync(join(tmpdir(), 'kvcask-getmany-'));
const results: Record<string, Figure[]> = {};
try {
  const dir = join(root, 'store');
  // Loaded with merges off (workload.ts's prepare() leaves them on): the values stay in data files, not compressed segments.
  const loader = await open(dir, { sync: 'none', autoMerge: false });
  for (let i = 0; i < KEYS; i += 10_000) await Promise.all(data.keys.slice(i, i + 10_000).map((key) => loader.set(key, data.value)));
  await loader.close();
  for (const mode of modes) {
    const db = await open(dir, { index: mode, autoMerge: false });
    let cursor = 0;
    const nextCall = () => {
      if (cursor + PER_CALL > sequence.length) cursor = 0;
      const keys = sequence.slice(cursor, cursor + PER_CALL);
      cursor += PER_CALL;
      return keys;
    };
    const calls = Array.from({ length: Math.floor(sequence.length / PER_CALL) }, nextCall);
    let call = 0;
    const keysOfCall = () => calls[call++ % calls.length];
    // Warm the page cache (and, with the disk index, its page cache) over every key the runs read.
    for (const key of sequence) if (db.getSync(key) === undefined) throw new Error('a loaded key is missing');
    const check = (values: (Buffer | undefined)[]) => {
      if (values[0] === undefined || values[PER_CALL - 1] === undefined) throw new Error('a loaded key is missing');
    };
    results[mode] = [
      await measure(`getMany(${PER_CALL})`, async () => check(await db.getMany(keysOfCall())), PER_CALL),
      await measure(`${PER_CALL} × getSync`, () => check(keysOfCall().map((key) => db.getSync(key))), PER_CALL),
      await measure(`${PER_CALL} × get, in parallel`, async () => check(await Promise.all(keysOfCall().map((key) => db.get(key)))), PER_CALL),
    ];
    await db.close();
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}

console.log(`${KEYS.toLocaleString('en')} keys, values of 100 B, ${PER_CALL} keys per call; median of ${ROUNDS} rounds; ${cpus().length} cores, Node ${process.version}`);
const table: Record<string, Record<string, string>> = {};
for (const [mode, figures] of Object.entries(results)) {
  for (const figure of figures) {
    table[`${figure.name}, ${mode} index`] = {
      'calls/s': Math.round(figure.opsPerSec / PER_CALL).toLocaleString('en'),
      'keys/s': Math.round(figure.opsPerSec).toLocaleString('en'),
      'p50 per call (µs)': (figure.p50Ms * PER_CALL * 1000).toFixed(0),
      'p99 per call (µs)': (figure.p99Ms * PER_CALL * 1000).toFixed(0),
    };
  }
}
console.table(table);
saveResult('get-many', { cpus: cpus().length, node: process.version, keys: KEYS, valueBytes: 100, perCall: PER_CALL, rounds: ROUNDS, results });
