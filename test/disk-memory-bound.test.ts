import { describe, expect, it } from 'vitest';
import { open, type Store } from '../lib/index.js';
import { PowerLossFileSystem } from './support/power-loss-fs.js';
import { rng } from './support/random.js';
import { tempDir } from './support/temp-dir.js';

const BUDGET = 200;
const KEYS = 3000;
/** Writes in flight at once: the memory part may also hold theirs. */
const IN_FLIGHT = 50;
const keyOf = (i: number) => `key-${String(i).padStart(5, '0')}`;
const valueOf = (i: number) => `value of ${i}`;

/** Writes every key, IN_FLIGHT at a time, and returns the most keys the memory part held at any point. */
async function load(db: Store): Promise<number> {
  let most = 0;
  for (let i = 0; i < KEYS; i += IN_FLIGHT) {
    const writes: Promise<void>[] = [];
    for (let j = i; j < i + IN_FLIGHT; j++) writes.push(db.set(keyOf(j), valueOf(j)));
    most = Math.max(most, db.keydir.size);
    await Promise.all(writes);
    most = Math.max(most, db.keydir.size);
  }
  return most;
}

function expectEveryKey(db: Store): void {
  for (let i = 0; i < KEYS; i++) expect(db.getSync(keyOf(i))?.toString()).toBe(valueOf(i));
}

describe("index: 'disk' memory bound (maxMemoryKeys)", () => {
  it('keeps the memory part within twice maxMemoryKeys plus the writes in flight during a load larger than it, and every key reads back, also after reopen', async () => {
    const dir = tempDir();
    const options = { index: 'disk', sync: 'none', autoMerge: false, maxMemoryKeys: BUDGET } as const;
    const db = await open(dir, options);
    const most = await load(db);
    expect(most).toBeLessThanOrEqual(2 * BUDGET + IN_FLIGHT);
    // Sealed by key count, far below maxFileSize: many files.
    expect(db.stats().files.length).toBeGreaterThanOrEqual(KEYS / BUDGET);
    expectEveryKey(db);
    await db.close();
    const reopened = await open(dir, options);
    expect(reopened.keydir.size).toBe(0);
    expect(reopened.stats().keys).toBe(KEYS);
    expectEveryKey(reopened);
    await reopened.close();
  });

  it('keeps every acknowledged key across a power loss as soon as a load sealed by key count is acknowledged, before its indexing is known to be done', async () => {
    const random = rng(4);
    const disk = new PowerLossFileSystem(random);
    await disk.mkdir('/disk');
    await disk.syncDir('/');
    const options = { index: 'disk', sync: 'always', autoMerge: false, maxMemoryKeys: BUDGET, fileSystem: disk } as const;
    const db = await open('/disk/db', options);
    await load(db);
    const image = disk.powerLoss(random, 'any');
    await db.close().catch(() => {});
    const reopened = await open('/disk/db', { ...options, fileSystem: image });
    expectEveryKey(reopened);
    expect(reopened.stats().keys).toBe(KEYS);
    await reopened.close();
  });

  it('counts overwrites and deletes of keys held by files still waiting for their index', async () => {
    const dir = tempDir();
    const db = await open(dir, { index: 'disk', sync: 'none', autoMerge: false, maxMemoryKeys: 10 });
    for (let round = 0; round < 3; round++) {
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 100; i++) writes.push(i % 7 === round ? db.delete(keyOf(i)) : db.set(keyOf(i), `${round}:${i}`));
      await Promise.all(writes);
    }
    const expected = new Map<string, string>();
    for (let i = 0; i < 100; i++) if (i % 7 !== 2) expected.set(keyOf(i), `2:${i}`);
    expect(db.stats().keys).toBe(expected.size);
    await db.close();
    const reopened = await open(dir, { index: 'disk', maxMemoryKeys: 10 });
    const found = new Map<string, string>();
    for await (const [key, value] of reopened.range()) found.set(key.toString(), value.toString());
    expect(found).toEqual(expected);
    expect(reopened.stats().keys).toBe(expected.size);
    await reopened.close();
  });

  it('rejects a maxMemoryKeys that is not an integer with a TypeError, and one below 1 with a RangeError', async () => {
    await expect(open(tempDir(), { index: 'disk', maxMemoryKeys: 1.5 })).rejects.toThrow(TypeError);
    await expect(open(tempDir(), { index: 'disk', maxMemoryKeys: '10' as unknown as number })).rejects.toThrow(TypeError);
    await expect(open(tempDir(), { index: 'disk', maxMemoryKeys: 0 })).rejects.toThrow(RangeError);
  });
});
