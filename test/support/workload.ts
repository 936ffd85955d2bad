import { open, type OpenOptions, type Store } from '../../lib/index.js';
import type { Effect, History } from './history.js';

/** What an operation of the workload gets to work with. */
export interface WorkloadContext {
  db: Store;
  random: () => number;
  /** Issues a write and records it in the history; its promise is tracked, not awaited. */
  write(effects: Effect[], start: (db: Store) => Promise<unknown>, written?: boolean): void;
  /** Waits for every write issued so far to settle. */
  settle(): Promise<void>;
  /** Closes the store cleanly and opens it again. */
  reopen(): Promise<void>;
  key(): string;
  value(): string;
}

export interface OperationKind {
  name: string;
  /** Relative frequency. */
  weight: number;
  run(ctx: WorkloadContext): void | Promise<void>;
}

/**
 * The operations a crash workload draws from. A new store operation (a merge,
 * say) is one more entry here: its writes go through ctx.write with their
 * effects on the key space (none for a merge), and every crash test that uses
 * the workload exercises it.
 */
export const OPERATION_KINDS: OperationKind[] = [
  {
    name: 'set',
    weight: 10,
    run(ctx) {
      const key = ctx.key();
      const value = ctx.value();
      ctx.write([[key, value]], (db) => db.set(key, value));
    },
  },
  {
    name: 'delete',
    weight: 4,
    run(ctx) {
      const key = ctx.key();
      ctx.write([[key, null]], (db) => db.delete(key));
    },
  },
  {
    name: 'batch',
    weight: 3,
    run(ctx) {
      const ops = Array.from({ length: 2 + Math.floor(ctx.random() * 5) }, () =>
        ctx.random() < 0.75 ? { type: 'put' as const, key: ctx.key(), value: ctx.value() } : { type: 'del' as const, key: ctx.key() },
      );
      ctx.write(
        ops.map((op): Effect => [op.key, op.type === 'put' ? op.value : null]),
        (db) => db.batch(ops),
        true,
      );
    },
  },
  // A full merge, running alongside the writes; it changes no key.
  { name: 'compact', weight: 0.5, run: (ctx) => ctx.write([], (db) => db.compact()) },
  { name: 'settle', weight: 3, run: (ctx) => ctx.settle() },
  { name: 'reopen', weight: 0.4, run: (ctx) => ctx.reopen() },
];

const TOTAL_WEIGHT = OPERATION_KINDS.reduce((sum, kind) => sum + kind.weight, 0);

export function pickOperation(random: () => number): OperationKind {
  let roll = random() * TOTAL_WEIGHT;
  for (const kind of OPERATION_KINDS) if ((roll -= kind.weight) < 0) return kind;
  return OPERATION_KINDS[OPERATION_KINDS.length - 1];
}

export interface WorkloadRun {
  /** The store, if it is open at the end (it may be half dead after a crash). */
  db: Store | null;
  /** Every write's settled promise. */
  settled: Promise<void>[];
}

/**
 * Runs `length` random operations against the store in `dir`, recording every
 * write in `history`. Writes are issued without waiting, in bursts, so that
 * groups of various sizes form. Stops early once `stop()` says so (the power
 * went out). A failed open ends the run with no store.
 */
export async function runWorkload(options: {
  dir: string;
  openOptions: OpenOptions;
  history: History;
  random: () => number;
  length: number;
  keys: number;
  stop: () => boolean;
}): Promise<WorkloadRun> {
  const { dir, openOptions, history, random } = options;
  const durableOnAck = (openOptions.sync ?? 'always') === 'always';
  const settled: Promise<void>[] = [];
  let db: Store;
  try {
    db = await open(dir, openOptions);
  } catch {
    return { db: null, settled };
  }
  let serial = 0;
  const ctx: WorkloadContext = {
    get db() {
      return db;
    },
    random,
    write(effects, start, written) {
      const write = history.issue(effects, written);
      let promise: Promise<unknown>;
      try {
        promise = start(db);
      } catch (err) {
        promise = Promise.reject(err);
      }
      settled.push(history.track(write, promise, durableOnAck));
    },
    async settle() {
      await Promise.all(settled);
    },
    async reopen() {
      await Promise.all(settled);
      await db.close();
      history.closed();
      db = await open(dir, openOptions);
    },
    key: () => `k${String(Math.floor(random() * options.keys)).padStart(2, '0')}`,
    value: () => `v${serial++}-${'x'.repeat(Math.floor(random() * random() * 300))}`,
  };
  for (let i = 0; i < options.length && !options.stop(); i++) {
    try {
      await pickOperation(random).run(ctx);
    } catch (err) {
      // A close or open the power cut short.
      if (options.stop()) break;
      throw err;
    }
    if (random() < 0.3) await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(settled);
  return { db, settled };
}
