import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { accessSequence, type Dataset, makeDataset } from '../dataset.js';
import { zipfian } from '../zipf.js';
import { bytesOnDisk, NotAvailable, type Peer, type PeerStore } from './adapter.js';
import { concurrentLoop, type Figure, perCall } from './measure.js';
import type { SuiteOptions } from './options.js';

/** One store's results at one value size. */
export interface StoreRun {
  store: string;
  package: string;
  version: string;
  valueSize: number;
  keys: number;
  durability: { durable: string; noSync: string };
  figures: Figure[];
  rssBeforeLoadBytes?: number;
  rssAfterLoadBytes?: number;
  bytesOnDiskAfterLoad?: number;
  /** Why there are no figures: this build lacks the configuration. */
  unavailable?: string;
  error?: string;
}

const LOAD_CHUNK = 10_000;
const READS_PER_CALL = 100;
const GET_MANY = 100;
const RANGE = 10_000;
const YCSB = [
  { name: 'YCSB A (50% reads, 50% updates)', reads: 0.5 },
  { name: 'YCSB B (95% reads, 5% updates)', reads: 0.95 },
  { name: 'YCSB C (reads only)', reads: 1 },
];

function packageVersion(name: string): string {
  const path = name === 'kvcask' ? '../../../package.json' : `../../../node_modules/${name}/package.json`;
  return (JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { version: string }).version;
}

const collectGarbage = (globalThis as { gc?: () => void }).gc ?? (() => {});
const rss = () => {
  collectGarbage();
  return process.memoryUsage.rss();
};

class Workloads {
  private cursor = 0;
  private missCursor = 0;
  private readonly sorted: Buffer[];
  private readonly pickZipfian: () => number;
  private readonly sequence: Buffer[];

  constructor(
    private readonly data: Dataset,
    private readonly options: SuiteOptions,
    private readonly figures: Figure[],
  ) {
    this.sorted = [...data.keys].sort(Buffer.compare);
    this.pickZipfian = zipfian(data.keys.length, data.random);
    this.sequence = accessSequence(data.keys);
  }

  /** Hits in a fixed stride through the keys, copied in access order: the same sequence for every store. */
  private nextKey = () => {
    this.cursor = (this.cursor + 1) % this.sequence.length;
    return this.sequence[this.cursor];
  };
  private nextMissing = () => {
    this.missCursor = (this.missCursor + 1) % this.data.missing.length;
    return this.data.missing[this.missCursor];
  };
  private randomKey = () => this.data.keys[Math.floor(this.data.random() * this.data.keys.length)];
  private updateCursor = 0;
  private nextUpdate = () => {
    this.updateCursor = (this.updateCursor + 1) % this.data.updates.length;
    return this.data.updates[this.updateCursor];
  };

  private async record(workload: string, durability: Figure['durability'], run: () => Promise<Omit<Figure, 'workload' | 'durability'>>, unit?: string) {
    const figure: Figure = { workload, durability, ...(await run()), ...(unit ? { unit } : {}) };
    this.figures.push(figure);
    const latency = figure.p50Ms === undefined ? '' : `, p50 ${(figure.p50Ms * 1000).toFixed(1)} µs, p99 ${((figure.p99Ms ?? NaN) * 1000).toFixed(1)} µs`;
    console.log(`    ${workload} [${durability}]: ${Math.round(figure.opsPerSec).toLocaleString('en')} ops/s${latency}`);
  }

  async writes(db: PeerStore, durability: Figure['durability']): Promise<void> {
    for (const writers of this.options.writers) {
      await this.record(`set, ${writers} writer${writers === 1 ? '' : 's'}`, durability, () =>
        concurrentLoop(() => db.put(this.randomKey(), this.nextUpdate()), writers, this.options.timeMs),
      );
    }
  }

  async reads(db: PeerStore): Promise<void> {
    const { timeMs } = this.options;
    const getSync = db.getSync?.bind(db);
    if (getSync) {
      await this.record('get hit (sync)', 'n/a', () =>
        perCall(() => {
          for (let i = 0; i < READS_PER_CALL; i++) if (getSync(this.nextKey()) === undefined) throw new Error('a loaded key is missing');
        }, timeMs, READS_PER_CALL),
      );
    }
    await this.record('get hit (async)', 'n/a', () =>
      perCall(async () => {
        for (let i = 0; i < READS_PER_CALL; i++) if ((await db.get(this.nextKey())) === undefined) throw new Error('a loaded key is missing');
      }, timeMs, READS_PER_CALL),
    );
    await this.record(
      getSync ? 'get miss (sync)' : 'get miss (async)',
      'n/a',
      () =>
        getSync
          ? perCall(() => {
              for (let i = 0; i < READS_PER_CALL; i++) getSync(this.nextMissing());
            }, timeMs, READS_PER_CALL)
          : perCall(async () => {
              for (let i = 0; i < READS_PER_CALL; i++) await db.get(this.nextMissing());
            }, timeMs, READS_PER_CALL),
    );
    await this.record(`getMany of ${GET_MANY}`, 'n/a', () => perCall(() => db.getMany(Array.from({ length: GET_MANY }, this.nextKey)), timeMs, 1), `call of ${GET_MANY} keys`);
    const span = Math.min(RANGE, Math.floor(this.sorted.length / 2));
    await this.record(
      `range of ${span.toLocaleString('en')}`,
      'n/a',
      () =>
        perCall(async () => {
          const start = this.sorted[Math.floor(this.data.random() * (this.sorted.length - span))];
          const read = await db.range(start, span);
          if (read !== span) throw new Error(`range read ${read} entries, expected ${span}`);
        }, timeMs, 1),
      'range',
    );
  }

  /** YCSB's core mixes over the loaded keys, zipfian key choice; reads are synchronous where the store has a synchronous get. */
  async ycsb(db: PeerStore, durability: Figure['durability'], withReadOnly: boolean): Promise<void> {
    const { keys, random } = this.data;
    const read = db.getSync ? (key: Buffer) => db.getSync!(key) : (key: Buffer) => db.get(key);
    for (const mix of YCSB) {
      if (mix.reads === 1 && !withReadOnly) continue;
      await this.record(mix.name, mix.reads === 1 ? 'n/a' : durability, () =>
        concurrentLoop(() => {
          const key = keys[this.pickZipfian()];
          return random() < mix.reads ? read(key) : db.put(key, this.nextUpdate());
        }, this.options.ycsbClients, this.options.timeMs),
      );
    }
  }
}

/**
 * Runs every workload on one store: bulk load with the store's no-sync
 * setting, then the reads, the durable writer sweep and the YCSB mixes with
 * its durable setting, then the writer sweep and the mixes with writes again
 * with its no-sync setting.
 */
export async function runStore(peer: Peer, options: SuiteOptions, valueSize: number): Promise<StoreRun> {
  const run: StoreRun = {
    store: peer.name,
    package: peer.packageName,
    version: packageVersion(peer.packageName),
    valueSize,
    keys: options.keys,
    durability: peer.durability,
    figures: [],
  };
  const data = makeDataset(options.keys, valueSize);
  mkdirSync(options.dir, { recursive: true });
  const root = mkdtempSync(join(options.dir, 'kvcask-peers-'));
  const dir = join(root, 'store');
  mkdirSync(dir);
  try {
    run.rssBeforeLoadBytes = rss();
    let db = await peer.open(dir, false);
    const started = performance.now();
    await db.load(data.keys, data.value, LOAD_CHUNK);
    const loadMs = performance.now() - started;
    run.rssAfterLoadBytes = rss();
    const closeStarted = performance.now();
    await db.close();
    const loadAndCloseMs = loadMs + performance.now() - closeStarted;
    run.figures.push({ workload: `bulk load (chunks of ${LOAD_CHUNK.toLocaleString('en')}, then close)`, durability: 'no-sync', opsPerSec: (data.keys.length * 1000) / loadAndCloseMs });
    run.bytesOnDiskAfterLoad = bytesOnDisk(dir);
    console.log(`    bulk load: ${Math.round(run.figures[0].opsPerSec).toLocaleString('en')} ops/s; RSS +${((run.rssAfterLoadBytes - run.rssBeforeLoadBytes) / 2 ** 20).toFixed(0)} MiB; ${(run.bytesOnDiskAfterLoad / 2 ** 20).toFixed(0)} MiB on disk`);

    const workloads = new Workloads(data, options, run.figures);
    db = await peer.open(dir, true);
    await workloads.reads(db);
    await workloads.writes(db, 'durable');
    await workloads.ycsb(db, 'durable', true);
    await db.close();

    db = await peer.open(dir, false);
    await workloads.writes(db, 'no-sync');
    await workloads.ycsb(db, 'no-sync', false);
    await db.close();
  } catch (error) {
    if (error instanceof NotAvailable) run.unavailable = error.message;
    else run.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return run;
}
