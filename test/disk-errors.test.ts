import { describe, expect, it } from 'vitest';
import { codes, KvcaskError, open, type Store, type SyncMode } from '../lib/index.js';
import { FaultyFileSystem } from './support/faulty-fs.js';
import { History, type Write } from './support/history.js';
import { PowerLossFileSystem } from './support/power-loss-fs.js';
import { rng } from './support/random.js';

/**
 * A disk that fails one call of one operation with ENOSPC or EIO, at a random
 * moment of a workload (and then again while the store opens). The write the
 * failure hits rejects with the system error reachable in `cause`; the store
 * either keeps serving (a failed hint costs nothing but a rescan) or refuses
 * every later write with KVCASK_FAILED; it never retries a failed fdatasync;
 * and after a reopen every acknowledged write is there (test/support/history.ts).
 * KVCASK_SEED=<n> replays one trial.
 */
const OPERATIONS = ['write', 'datasync', 'rename', 'open', 'syncDir'] as const;
const ERRNOS = ['ENOSPC', 'EIO'];
const SYNC_MODES: SyncMode[] = ['always', 'always', 'interval', 'none'];
const TRIALS_PER_CASE = Number(process.env.KVCASK_DISK_TRIALS ?? 40);
const DIR = '/disk/store';

/** Whether `err`, or an error in its chain of causes, carries the system error code. */
function causedBy(err: unknown, code: string): boolean {
  for (let at = err as { code?: string; cause?: unknown } | undefined; at; at = at.cause as typeof at) if (at.code === code) return true;
  return false;
}

interface Outcome {
  rejected: { index: number; err: unknown }[];
  /** Writes acknowledged although issued after a rejection had been seen. */
  ackedAfterFailure: number[];
}

/** Issues writes in bursts, recording each in `history` and how it settled. */
async function workload(db: Store, history: History, random: () => number, sync: SyncMode, count: number): Promise<Outcome> {
  const outcome: Outcome = { rejected: [], ackedAfterFailure: [] };
  const settling: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const key = `k${Math.floor(random() * 12)}`;
    let write: Write;
    let promise: Promise<void>;
    const roll = random();
    if (roll < 0.6) {
      const value = `${i}-${'v'.repeat(Math.floor(random() * 200))}`;
      write = history.issue([[key, value]]);
      promise = db.set(key, value);
    } else if (roll < 0.8) {
      write = history.issue([[key, null]]);
      promise = db.delete(key);
    } else {
      const ops = [
        { type: 'put' as const, key, value: `batch-${i}` },
        { type: 'del' as const, key: `k${Math.floor(random() * 12)}` },
      ];
      write = history.issue(ops.map((op) => [op.key, op.type === 'put' ? op.value : null]), true);
      promise = db.batch(ops);
    }
    const index = history.writes.length - 1;
    const afterFailure = outcome.rejected.length > 0;
    settling.push(
      history.track(write, promise, sync === 'always').then(() => {
        if (write.state === 'acked' && afterFailure) outcome.ackedAfterFailure.push(index);
      }),
    );
    promise.catch((err) => outcome.rejected.push({ index, err }));
    if (random() < 0.4) await Promise.all(settling);
  }
  await Promise.all(settling);
  return outcome;
}

async function trial(operation: (typeof OPERATIONS)[number], errno: string, seed: number): Promise<'served' | 'refused' | 'untouched'> {
  const random = rng(seed);
  const sync = SYNC_MODES[Math.floor(random() * SYNC_MODES.length)];
  const disk = new PowerLossFileSystem(random);
  await disk.mkdir('/disk');
  const fileSystem = new FaultyFileSystem(disk);
  fileSystem.partialWrites = random() < 0.5;
  const options = { fileSystem, sync, maxFileSize: 1024, syncInterval: 1 };
  const history = new History();
  const db = await open(DIR, options);
  // Writes are frequent, the other operations rare (file creation, hints): fail one of the first few of those.
  fileSystem.failNext(operation, errno, Math.floor(random() * (operation === 'write' ? 12 : 4)));
  const outcome = await workload(db, history, random, sync, 60);
  const failure = fileSystem.injected[0];
  let closed = true;
  await db.close().catch((err) => {
    closed = false;
    expect(err).toBeInstanceOf(KvcaskError);
    expect(causedBy(err, errno), 'close() rejects only for the injected failure').toBe(true);
  });

  let verdict: 'served' | 'refused' | 'untouched' = 'untouched';
  if (outcome.rejected.length > 0) {
    verdict = 'refused';
    for (const { err } of outcome.rejected) {
      expect(err).toBeInstanceOf(KvcaskError);
      expect([codes.IO, codes.FAILED]).toContain((err as KvcaskError).code);
      expect(causedBy(err, errno), `${(err as Error).message} keeps ${errno} as its cause`).toBe(true);
    }
    expect(outcome.rejected.some(({ err }) => (err as KvcaskError).code === codes.IO), 'the write the failure hit rejects with KVCASK_IO').toBe(true);
    // Once the store has failed it refuses every later write until reopened.
    expect(outcome.ackedAfterFailure, 'writes acknowledged after the store failed').toEqual([]);
    if (failure?.operation === 'datasync') {
      // The fdatasync that failed is never tried again and taken as success.
      expect(fileSystem.datasyncs.slice(failure.call), `fdatasync of ${failure.path} retried`).not.toContain(failure.path);
    }
  } else if (failure !== undefined) {
    // The failure missed every write: it hit a hint (the file is rescanned at the next open instead) or a directory sync of one.
    verdict = 'served';
    expect(failure.path, `a ${operation} failure that no write saw`).toMatch(/\.(hint|tmp|merging)$|\/MERGE(\.tmp)?$|^\/disk\/store$/);
  }
  if (sync === 'always' || closed) history.closed();

  // Open again on a disk that fails once more, now during recovery.
  fileSystem.failNext(operation, errno, Math.floor(random() * 4));
  const injectedBefore = fileSystem.injected.length;
  await open(DIR, options).then(
    (again) => again.close().catch(() => {}),
    (err) => {
      expect(err, 'a failed open() rejects with a KvcaskError').toBeInstanceOf(KvcaskError);
      expect(causedBy(err, errno) || fileSystem.injected.length === injectedBefore).toBe(true);
    },
  );

  // A healthy disk again: everything acknowledged is there, and the rest is a prefix of what was issued.
  const healthy = await open(DIR, { fileSystem: disk, maxFileSize: 1024 });
  const actual = new Map<string, string>();
  for await (const [key, value] of healthy.range()) actual.set(key.toString(), value.toString());
  history.matchPrefix(actual);
  await healthy.set('after', 'reopened');
  await healthy.close();
  return verdict;
}

describe('disk errors', () => {
  const only = process.env.KVCASK_SEED === undefined ? undefined : Number(process.env.KVCASK_SEED);
  for (const operation of OPERATIONS) {
    for (const errno of ERRNOS) {
      it(`rejects with ${errno} from a failed ${operation} in its cause, then serves or refuses writes, and loses no acknowledged write`, async () => {
        const verdicts: Record<string, number> = { served: 0, refused: 0, untouched: 0 };
        const seeds = only === undefined ? Array.from({ length: TRIALS_PER_CASE }, (_, i) => OPERATIONS.indexOf(operation) * 1000 + ERRNOS.indexOf(errno) * 100 + i) : [only];
        for (const seed of seeds) {
          try {
            verdicts[await trial(operation, errno, seed)]++;
          } catch (err) {
            throw new Error(`disk-error trial failed; replay with KVCASK_SEED=${seed}: ${(err as Error).message}`, { cause: err });
          }
        }
        console.log(`disk errors, ${operation} ${errno}: ${JSON.stringify(verdicts)}`);
        // Every case must actually hit the store, or it proves nothing.
        if (only === undefined) expect(verdicts.refused + verdicts.served).toBeGreaterThan(TRIALS_PER_CASE / 2);
      });
    }
  }
});
