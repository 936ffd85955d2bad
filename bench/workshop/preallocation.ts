/**
 * `npm run workshop:prealloc`: what one durable writer would gain from a
 * preallocated active file. Times O_DSYNC writes of a one-record frame
 * (152 B) at consecutive offsets, through the thread pool as the store
 * writes, into (a) a file each write extends, as the store does today, and
 * (b) a region zero-filled and fdatasynced first. Rounds alternate between
 * the two (KVCASK_WORKSHOP_ROUNDS, default 3; KVCASK_WORKSHOP_OPS writes per
 * round, default 3,000). Files live in a temporary directory (on the same
 * file system as os.tmpdir()), removed at the end.
 * Results: stdout and bench/results/preallocation-<date>.json.
 */
import { closeSync, constants, mkdtempSync, openSync, rmSync, write, writeFileSync, writeSync, fsyncSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { saveResult } from '../results-file.js';
import { median } from '../measure.js';

const writeAsync = promisify(write);
const WRITES = Number(process.env.KVCASK_WORKSHOP_OPS ?? 3000);
const ROUNDS = Number(process.env.KVCASK_WORKSHOP_ROUNDS ?? 3);
const REGION = 64 * 1024 * 1024;
const FRAME = Buffer.alloc(152, 7);
type Mode = 'extend' | 'zero-filled';

async function round(dir: string, mode: Mode): Promise<{ writesPerSec: number; p50Us: number; p99Us: number }> {
  const path = join(dir, `${mode}.data`);
  writeFileSync(path, '');
  if (mode === 'zero-filled') {
    const fd = openSync(path, 'r+');
    const chunk = Buffer.alloc(1 << 20);
    for (let at = 0; at < REGION; at += chunk.length) writeSync(fd, chunk, 0, chunk.length, at);
    fsyncSync(fd);
    closeSync(fd);
  }
  const fd = openSync(path, constants.O_RDWR | constants.O_DSYNC);
  const latencies = new Float64Array(WRITES);
  const started = performance.now();
  for (let i = 0, at = 16; i < WRITES; i++, at += FRAME.length) {
    const t = performance.now();
    await writeAsync(fd, FRAME, 0, FRAME.length, at);
    latencies[i] = performance.now() - t;
  }
  const ms = performance.now() - started;
  closeSync(fd);
  rmSync(path);
  latencies.sort();
  return { writesPerSec: (WRITES / ms) * 1000, p50Us: latencies[WRITES >> 1] * 1000, p99Us: latencies[Math.floor(WRITES * 0.99)] * 1000 };
}

const dir = mkdtempSync(join(tmpdir(), 'kvcask-prealloc-'));
const results: Record<Mode, { writesPerSec: number; p50Us: number; p99Us: number }[]> = { extend: [], 'zero-filled': [] };
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of ['extend', 'zero-filled'] as const) {
      const result = await round(dir, mode);
      results[mode].push(result);
      console.log(`round ${r + 1} ${mode.padEnd(11)} ${Math.round(result.writesPerSec)} writes/s, p50 ${result.p50Us.toFixed(0)} µs, p99 ${result.p99Us.toFixed(0)} µs`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const ratio = median(results['zero-filled'].map((r) => r.writesPerSec)) / median(results.extend.map((r) => r.writesPerSec));
console.log(`median writes/s, zero-filled / extend: ${ratio.toFixed(2)}x`);
saveResult('preallocation', { cpus: cpus().length, node: process.version, writes: WRITES, rounds: ROUNDS, frameBytes: FRAME.length, results, ratio });
