/**
 * `npm run bench:open`: how open() with index: 'memory' grows with the number
 * of keys. For each size in KVCASK_BENCH_OPEN_KEYS (default
 * 1000000,2000000,4000000) a store is written by bench:index's load phase
 * (keys of 16 B, values of 100 B, 128 MiB files, closed cleanly, so open()
 * reads hint files), then opened ROUNDS times (KVCASK_BENCH_ROUNDS, default
 * 3), each in a fresh process: wall time of open(), CPU time the process
 * spent in it (user + system; on a shared machine the steadier figure), and
 * heap + external memory per key after it, as bench:index measures it.
 * Medians go to stdout and bench/results/open-scaling-<date>.json.
 *
 * KVCASK_BENCH_OPEN_DIR keeps the stores there (one directory per size) and
 * reuses them, so that two builds can be compared on the same files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from '../lib/index.js';
import { median, ROUNDS } from './measure.js';
import { memoryAfterGc } from './process-memory.js';
import { saveResult } from './results-file.js';

const SIZES = (process.env.KVCASK_BENCH_OPEN_KEYS ?? '1000000,2000000,4000000').split(',').map(Number);
const KEEP_DIR = process.env.KVCASK_BENCH_OPEN_DIR;

interface OpenFigures {
  keys: number;
  openMs: number;
  cpuMs: number;
  heapBytesPerKey: number;
}

async function openPhase(dir: string): Promise<OpenFigures> {
  const before = memoryAfterGc().heap;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const db = await open(dir, { index: 'memory', autoMerge: false });
  const openMs = performance.now() - started;
  const spent = process.cpuUsage(cpu);
  const keys = db.stats().keys;
  const heapBytesPerKey = (memoryAfterGc().heap - before) / keys;
  await db.close();
  return { keys, openMs, cpuMs: (spent.user + spent.system) / 1000, heapBytesPerKey };
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(process.execPath, ['--expose-gc', script, ...args], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'], env });
}

async function main(): Promise<void> {
  const root = KEEP_DIR ?? mkdtempSync(join(tmpdir(), 'kvcask-bench-open-'));
  const loader = fileURLToPath(new URL('./index-modes.js', import.meta.url));
  const results: Record<string, unknown>[] = [];
  try {
    for (const size of SIZES) {
      const dir = join(root, String(size));
      if (!existsSync(dir)) {
        console.error(`writing ${size.toLocaleString('en')} keys`);
        run(loader, ['load', dir, 'memory'], { ...process.env, KVCASK_BENCH_KEYS: String(size) });
      }
      const rounds: OpenFigures[] = [];
      for (let round = 0; round < ROUNDS; round++) rounds.push(JSON.parse(run(fileURLToPath(import.meta.url), ['open', dir])) as OpenFigures);
      const figures = {
        keys: rounds[0].keys,
        openMs: median(rounds.map((r) => r.openMs)),
        cpuMs: median(rounds.map((r) => r.cpuMs)),
        heapBytesPerKey: median(rounds.map((r) => r.heapBytesPerKey)),
      };
      results.push({ ...figures, rounds });
      console.log(JSON.stringify({ ...figures, cpuMicrosecondsPerKey: (figures.cpuMs * 1000) / figures.keys }));
    }
  } finally {
    if (KEEP_DIR === undefined) rmSync(root, { recursive: true, force: true });
  }
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version };
  saveResult('open-scaling', { machine, rounds: ROUNDS, results });
}

const [phase, dir] = process.argv.slice(2);
if (phase === 'open') process.stdout.write(JSON.stringify(await openPhase(dir)));
else await main();
