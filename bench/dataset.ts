import { randomBytes as fill, rng as prng } from '../test/support/random.js';

/** The benchmarks' data: `count` random 16-byte keys, keys known to be absent, and one value. Seeded, so every store and every run sees the same bytes. */
export interface Dataset {
  keys: Buffer[];
  missing: Buffer[];
  value: Buffer;
  /** Values for updates, each different from `value` and from one another, so no store can skip an update as a no-op (SQLite writes nothing when a row's new content equals the old). */
  updates: Buffer[];
  /** The PRNG, continued after the data was drawn, for key choices during the run. */
  random: () => number;
}

export const KEY_SIZE = 16;
const UPDATE_VARIANTS = 1024;

export function makeDataset(count: number, valueSize: number, missingCount = 100_000): Dataset {
  if (valueSize < 4) throw new RangeError(`values must have at least 4 bytes, got ${valueSize}`);
  const random = prng(42);
  const keys = Array.from({ length: count }, () => fill(random, KEY_SIZE));
  const missing = Array.from({ length: missingCount }, () => fill(random, KEY_SIZE));
  const value = fill(random, valueSize);
  const updates = Array.from({ length: UPDATE_VARIANTS }, (_, i) => {
    const update = Buffer.from(value);
    update.writeUInt32LE((update.readUInt32LE(0) ^ (i + 1)) >>> 0, 0);
    return update;
  });
  return { keys, missing, value, updates, random };
}

/** Length of an access sequence: long enough to spread over the store, short enough to stay warm in the CPU caches' neighbourhood. */
export const SEQUENCE_LENGTH = 200_000;

/**
 * The keys a benchmark reads, in the order it reads them: a fixed stride
 * through `keys` (so store offsets and index entries are random), each copied
 * into a fresh Buffer laid out in that order. Indexing the big key array at a
 * stride inside the timed loop would add a cache miss per read that belongs to
 * the benchmark, not to the store (see docs/performance.md, "Access sequence").
 */
export function accessSequence(keys: readonly Buffer[], length = SEQUENCE_LENGTH): Buffer[] {
  return Array.from({ length: Math.min(length, keys.length) }, (_, i) => Buffer.from(keys[(i * 7919) % keys.length]));
}
