/**
 * `npm run bench:lookups`: getSync hits and misses, index: 'memory' against
 * index: 'disk', in one process, on a store small enough to profile
 * (KVCASK_BENCH_KEYS, default 2,000,000 keys of 16 B, 100 B values) but cut
 * into as many sealed files as the 10M-key run of bench:index (about 12), so
 * that a disk lookup probes as many files. Run it under `node --cpu-prof` to
 * see where a lookup's time goes. Results: a table on stdout and
 * bench/results/lookups-<date>.json.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from '../lib/index.js';
import { absentKeys, presentKeys, setDerivedKeys } from './derived-keys.js';
import { type Figure, measure, ROUNDS } from './measure.js';
import { saveResult } from './results-file.js';

const KEYS = Number(process.env.KVCASK_BENCH_KEYS ?? 2_000_000);
const FILES = 12;
const SEQUENCE = 200_000;
const READS_PER_CALL = 1000;
const INDEX_CACHE_BYTES = 512 * 2 ** 20;
const value = Buffer.alloc(100, 7);
const maxFileSize = Math.ceil((KEYS * (value.length + 16 + 40)) / FILES);

const root = mkdtempSync(join(tmpdir(), 'kvcask-lookups-'));
const rows: Record<string, Record<string, string>> = {};
const results: Record<string, { indexedFiles: number; hit: Figure; miss: Figure }> = {};
try {
  for (const mode of ['memory', 'disk'] as const) {
    const dir = join(root, mode);
    let db = await open(dir, { index: mode, sync: 'none', autoMerge: false, maxFileSize });
    await setDerivedKeys(db, KEYS, value);
    await db.close();
    db = await open(dir, { index: mode, autoMerge: false, maxFileSize, indexCacheSize: INDEX_CACHE_BYTES });
    const hits = presentKeys(KEYS, SEQUENCE);
    const misses = absentKeys(KEYS, SEQUENCE);
    for (const key of hits) if (db.getSync(key) === undefined) throw new Error(`key ${key.toString('hex')} is missing`);
    let cursor = 0;
    const hit = await measure('getSync hit', () => {
      for (let i = 0; i < READS_PER_CALL; i++) db.getSync(hits[(cursor = (cursor + 1) % SEQUENCE)]);
    }, READS_PER_CALL);
    const miss = await measure('getSync miss', () => {
      for (let i = 0; i < READS_PER_CALL; i++) db.getSync(misses[(cursor = (cursor + 1) % SEQUENCE)]);
    }, READS_PER_CALL);
    const files = readdirSync(dir).filter((name) => name.endsWith('.kvx')).length;
    await db.close();
    results[mode] = { indexedFiles: files, hit, miss };
    rows[`${mode} (${files} indexed files)`] = { 'hit ops/s': Math.round(hit.opsPerSec).toLocaleString('en'), 'miss ops/s': Math.round(miss.opsPerSec).toLocaleString('en') };
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
console.log(`getSync on ${KEYS.toLocaleString('en')} keys`);
console.table(rows);
saveResult('lookups', { cpus: cpus().length, node: process.version, keys: KEYS, maxFileSize, indexCacheBytes: INDEX_CACHE_BYTES, rounds: ROUNDS, readsPerCall: READS_PER_CALL, results });
