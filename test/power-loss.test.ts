import { describe, expect, it } from 'vitest';
import { decodeMarker } from '../lib/merge.js';
import { open, type OpenOptions, type SyncMode } from '../lib/index.js';
import { History } from './support/history.js';
import { type CrashMode, PowerLossFileSystem } from './support/power-loss-fs.js';
import { rng } from './support/random.js';
import { runWorkload } from './support/workload.js';

/**
 * Randomized workloads on a simulated disk, cut by a power loss at a random
 * file-system operation, then opened and checked against the reference model
 * (test/support/history.ts). KVCASK_SEED=<n> replays one trial; KVCASK_TRIALS
 * sets how many run.
 */
const TRIALS = Number(process.env.KVCASK_TRIALS ?? 8000);
const ONLY_SEED = process.env.KVCASK_SEED === undefined ? undefined : Number(process.env.KVCASK_SEED);
const DIR = '/disk/store';
const CRASH_MODES: CrashMode[] = ['any', 'any', 'any', 'synced', 'torn', 'garbage', 'zeros', 'all'];
/** A hung trial fails with its seed instead of running into the test timeout. */
const TRIAL_DEADLINE_MS = 10_000;

interface Totals {
  trials: number;
  crashes: number;
  crashesDuringOpen: number;
  acked: number;
  truncatedBytes: number;
  trialsWithTruncation: number;
}

/** A fresh machine whose disk holds the parent of DIR, made durable; the store creates DIR itself. */
async function freshDisk(random: () => number): Promise<PowerLossFileSystem> {
  const disk = new PowerLossFileSystem(random);
  await disk.mkdir('/disk');
  await disk.syncDir('/');
  return disk;
}

function sizesOfDataFiles(disk: PowerLossFileSystem): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const path of disk.listFiles()) if (path.endsWith('.data')) sizes.set(path, disk.readFile(path).length);
  return sizes;
}

/** Opens a copy of the crashed disk, checks the store against the model and returns the prefix it holds. */
async function verify(image: PowerLossFileSystem, history: History, options: OpenOptions, totals: Totals): Promise<void> {
  const disk = image.copy();
  const before = sizesOfDataFiles(disk);
  // A committed merge that open() finishes deletes its inputs: those are not bytes recovery cut.
  if (disk.listFiles().includes(`${DIR}/MERGE`)) {
    for (const id of decodeMarker(disk.readFile(`${DIR}/MERGE`), 'MERGE').inputs) before.delete(`${DIR}/${String(id).padStart(8, '0')}.data`);
  }
  // No merge while checking: truncatedBytes is compared with the bytes data files lost, and a merge removes whole files.
  const db = await open(DIR, { ...options, fileSystem: disk, autoMerge: false });
  const actual = new Map<string, string>();
  for await (const [key, value] of db.range()) actual.set(key.toString(), value.toString());
  for (const [key, value] of actual) expect(db.getSync(key)?.toString(), `getSync(${key}) disagrees with range()`).toBe(value);
  const k = history.matchPrefix(actual);
  const stats = db.stats();
  expect(stats.keys).toBe(actual.size);
  // A power loss leaves damage only at the end of the newest file: nothing is skipped mid-file.
  expect(stats.recovery.damaged).toEqual([]);
  expect(stats.recovery.skippedBytes).toBe(0);
  await db.close();
  const after = sizesOfDataFiles(disk);
  let cut = 0;
  for (const [path, size] of before) cut += size - (after.get(path) ?? 0);
  expect(stats.recovery.truncatedBytes, 'truncatedBytes reports exactly the bytes recovery cut').toBe(cut);
  totals.truncatedBytes += cut;
  if (cut > 0) totals.trialsWithTruncation++;
  history.rewind(k);
}

async function trial(seed: number, totals: Totals): Promise<void> {
  const random = rng(seed);
  const sync: SyncMode = random() < 0.8 ? 'always' : random() < 0.5 ? 'none' : 'interval';
  const index = random() < 0.3 ? 'disk' : 'memory';
  const options: OpenOptions = { sync, index, maxFileSize: random() < 0.5 ? 1024 : 2048, ...(sync === 'interval' ? { syncInterval: 1 } : {}) };
  // Half the disk trials seal files by key count, so that files are sealed, indexed and dropped from memory mid-load.
  if (index === 'disk' && random() < 0.5) options.maxMemoryKeys = 1 + Math.floor(random() * 6);
  const history = new History();
  let disk = await freshDisk(random);
  const crashes = 1 + Math.floor(random() * random() * 3);
  for (let crash = 0; crash < crashes; crash++) {
    const length = 5 + Math.floor(random() * 40);
    const issuedBefore = history.writes.length;
    const mode = CRASH_MODES[Math.floor(random() * CRASH_MODES.length)];
    disk.crashAt(1 + Math.floor(random() * length * 4), random, mode);
    const run = await runWorkload({
      dir: DIR,
      openOptions: { ...options, fileSystem: disk },
      history,
      random,
      length,
      keys: 4 + Math.floor(random() * 20),
      stop: () => disk.crashed,
    });
    if (run.db === null) totals.crashesDuringOpen++;
    const image = disk.afterCrash ?? disk.powerLoss(random, mode);
    // The store outlived its disk: let it fail its pending work and release the directory.
    await run.db?.close().catch(() => {});
    totals.acked += history.writes.slice(issuedBefore).filter((write) => write.state === 'acked').length;
    totals.crashes++;
    await verify(image, history, options, totals);
    disk = image;
  }
  totals.trials++;
}

function withDeadline(seed: number, work: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung for ${TRIAL_DEADLINE_MS} ms`)), TRIAL_DEADLINE_MS);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

describe('power loss', () => {
  it(`keeps every acknowledged write, applies batches whole and brings back no delete, over ${ONLY_SEED === undefined ? TRIALS : 1} randomized crashes`, async () => {
    const totals: Totals = { trials: 0, crashes: 0, crashesDuringOpen: 0, acked: 0, truncatedBytes: 0, trialsWithTruncation: 0 };
    const seeds = ONLY_SEED === undefined ? Array.from({ length: TRIALS }, (_, i) => 1000 + i) : [ONLY_SEED];
    for (const seed of seeds) {
      try {
        await withDeadline(seed, trial(seed, totals));
      } catch (err) {
        throw new Error(`power-loss trial failed; replay with KVCASK_SEED=${seed}: ${(err as Error).message}`, { cause: err });
      }
    }
    console.log(`power loss: ${JSON.stringify(totals)}`);
    if (ONLY_SEED === undefined) {
      // The crashes must land in the middle of things, or the test proves little.
      expect(totals.acked).toBeGreaterThan(totals.trials * 5);
      expect(totals.trialsWithTruncation).toBeGreaterThan(totals.trials / 20);
      expect(totals.crashesDuringOpen).toBeGreaterThan(0);
    }
  }, 240_000);
});
