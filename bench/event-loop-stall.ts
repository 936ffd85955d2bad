/**
 * `npm run bench:stall`: the longest time the event loop was held while a
 * store loads N keys of 16 B with 100 B values (N = 3,000,000 unless
 * KVCASK_BENCH_KEYS says otherwise; sync: 'none', 10,000 writes in flight),
 * in each index mode, each in a child process of its own. What a server
 * answering requests meanwhile would see as its worst added latency: sealing
 * a file (index: 'disk' builds its index and drops its keys from memory),
 * growing the in-memory table, background work between its slices.
 * Measured two ways: a 10 ms interval timer's largest lateness, and
 * perf_hooks' event-loop delay histogram (p99 and max, 5 ms resolution).
 * Results: a table on stdout and bench/results/stall-<date>.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { open } from '../lib/index.js';
import { setDerivedKeys } from './derived-keys.js';
import { saveResult } from './results-file.js';

const KEYS = Number(process.env.KVCASK_BENCH_KEYS ?? 3_000_000);
const TICK_MS = 10;
type Mode = 'memory' | 'disk';

async function child(dir: string, mode: Mode): Promise<object> {
  const db = await open(dir, { index: mode, sync: 'none', autoMerge: false });
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  let worstLatenessMs = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worstLatenessMs = Math.max(worstLatenessMs, now - last - TICK_MS);
    last = now;
  }, TICK_MS);
  const started = performance.now();
  await setDerivedKeys(db, KEYS, Buffer.alloc(100, 7));
  const loadSeconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  delay.disable();
  await db.close();
  return { loadOpsPerSec: KEYS / loadSeconds, worstLatenessMs, delayP99Ms: delay.percentile(99) / 1e6, delayMaxMs: delay.max / 1e6 };
}

if (process.argv[2] === 'child') {
  process.stdout.write(JSON.stringify(await child(process.argv[3], process.argv[4] as Mode)));
} else {
  const root = mkdtempSync(join(tmpdir(), 'kvcask-stall-'));
  const results: Record<string, Record<string, number>> = {};
  try {
    for (const mode of ['memory', 'disk'] as const) {
      console.error(`${mode}: loading ${KEYS.toLocaleString('en')} keys`);
      const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), 'child', join(root, mode), mode], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (run.status !== 0) throw new Error(`the ${mode} child exited with ${run.status}`);
      results[mode] = JSON.parse(run.stdout) as Record<string, number>;
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`event-loop stalls while loading ${KEYS.toLocaleString('en')} keys of 16 B (100 B values, sync: 'none'); ${cpus().length} cores, Node ${process.version}`);
  console.table(Object.fromEntries(Object.entries(results).map(([mode, r]) => [mode, {
    'load ops/s': Math.round(r.loadOpsPerSec).toLocaleString('en'),
    'worst timer lateness ms': r.worstLatenessMs.toFixed(0),
    'delay p99 ms': r.delayP99Ms.toFixed(1),
    'delay max ms': r.delayMaxMs.toFixed(0),
  }])));
  saveResult('stall', { cpus: cpus().length, node: process.version, keys: KEYS, results });
}
