import { describe, expect, it } from 'vitest';
import { codes, open, type Store } from '../lib/index.js';
import { FaultyFileSystem } from './support/faulty-fs.js';
import { rng } from './support/random.js';
import { tempDir } from './support/temp-dir.js';

const SMALL = { maxFileSize: 4096, autoMerge: false } as const;
const keyOf = (i: number) => `key-${String(i).padStart(4, '0')}`;

/** Per-file live keys and bytes, by file id. */
function liveByFile(db: Store): Map<number, [number, number]> {
  return new Map(db.stats().files.map((file) => [file.id, [file.liveKeys, file.liveBytes]]));
}

/** Live keys and bytes of the whole store (the modes lay records out in different files: disk mode seals at close). */
function liveTotals(db: Store): [number, number] {
  const stats = db.stats();
  return [stats.keys, stats.liveBytes];
}

describe("index: 'disk' live counts", () => {
  it('counts keys overwritten and deleted on disk exactly as the memory index does, before and after their files are sealed', async () => {
    const random = rng(77);
    const dirs = { memory: tempDir(), disk: tempDir() };
    const stores = { memory: await open(dirs.memory, { ...SMALL, index: 'memory' }), disk: await open(dirs.disk, { ...SMALL, index: 'disk' }) };
    const both = async (action: (db: Store) => Promise<unknown>) => {
      await action(stores.memory);
      await action(stores.disk);
    };
    for (let i = 0; i < 300; i++) await both((db) => db.set(keyOf(i), `first ${i}`));
    for (const mode of ['memory', 'disk'] as const) {
      await stores[mode].close();
      stores[mode] = await open(dirs[mode], { ...SMALL, index: mode });
    }
    for (let step = 0; step < 1500; step++) {
      const key = keyOf(Math.floor(random() * 400));
      const roll = random();
      if (roll < 0.6) await both((db) => db.set(key, `v${step}`.repeat(1 + (step % 5))));
      else if (roll < 0.8) await both((db) => db.delete(key));
      else {
        const deleted = keyOf(Math.floor(random() * 400));
        await both((db) => db.batch([{ type: 'put', key, value: `b${step}` }, { type: 'del', key: deleted }]));
      }
      // Counts read at any moment, mid-file or right after a seal, must already be exact.
      if (step % 97 === 0) {
        expect(liveTotals(stores.disk)).toEqual(liveTotals(stores.memory));
      }
    }
    expect(liveTotals(stores.disk)).toEqual(liveTotals(stores.memory));
    const expectedKeys = stores.memory.stats().keys;
    await stores.memory.close();
    await stores.disk.close();
    const reopened = await open(dirs.disk, { ...SMALL, index: 'disk' });
    expect(reopened.stats().keys).toBe(expectedKeys);
    await reopened.close();
  });

  it('merges files whose records were overwritten just before the merge started, with every count settled', async () => {
    const dir = tempDir();
    let db = await open(dir, { ...SMALL, index: 'disk' });
    for (let i = 0; i < 400; i++) await db.set(keyOf(i), `old ${i}`);
    await db.close();
    db = await open(dir, { ...SMALL, index: 'disk' });
    // Every old record is hidden by the memory part; none of it has been looked up on disk yet.
    for (let i = 0; i < 400; i += 2) await db.set(keyOf(i), `new ${i}`);
    const summary = await db.compact();
    expect(summary.filesMerged).toBeGreaterThan(0);
    expect(db.stats().keys).toBe(400);
    for (let i = 0; i < 400; i++) expect(db.getSync(keyOf(i))?.toString()).toBe(i % 2 === 0 ? `new ${i}` : `old ${i}`);
    await db.close();
    db = await open(dir, { ...SMALL, index: 'disk' });
    expect(db.stats().keys).toBe(400);
    await db.close();
  });

  it('settles thousands of owed lookups, in slices, before the file that hides them is indexed', async () => {
    const dir = tempDir();
    let db = await open(dir, { index: 'disk', autoMerge: false });
    await db.batch(Array.from({ length: 6000 }, (_, i) => ({ type: 'put' as const, key: keyOf(i), value: `old ${i}` })));
    await db.close();
    db = await open(dir, { index: 'disk', autoMerge: false });
    // 4,000 keys hidden (3,000 overwritten, 1,000 deleted) plus 2,000 new ones, all in one active file.
    await db.batch(Array.from({ length: 3000 }, (_, i) => ({ type: 'put' as const, key: keyOf(2 * i), value: `new ${i}` })));
    await db.batch(Array.from({ length: 1000 }, (_, i) => ({ type: 'del' as const, key: keyOf(2 * i + 1) })));
    await db.batch(Array.from({ length: 2000 }, (_, i) => ({ type: 'put' as const, key: keyOf(6000 + i), value: `fresh ${i}` })));
    // close() seals the active file: its index joins the others only after every owed lookup is settled.
    await db.close();
    db = await open(dir, { index: 'disk', autoMerge: false });
    const stats = db.stats();
    expect(stats.keys).toBe(7000);
    expect(stats.files.find((file) => file.id === Math.min(...stats.files.map((f) => f.id)))?.liveKeys).toBe(6000 - 4000);
    await db.close();
  });

  it('takes nothing back from a key on disk when a write that hid it fails', async () => {
    const dir = tempDir();
    const fileSystem = new FaultyFileSystem();
    let db = await open(dir, { index: 'disk', autoMerge: false, fileSystem });
    await db.set('kept', 'old');
    await db.set('other', 'value');
    await db.close();
    db = await open(dir, { index: 'disk', autoMerge: false, fileSystem });
    const before = liveByFile(db);
    fileSystem.failNext('write', 'EIO');
    const failed = db.set('kept', 'new');
    const deleteFailed = db.delete('other');
    await expect(failed).rejects.toMatchObject({ code: codes.IO });
    await expect(deleteFailed).rejects.toMatchObject({ code: codes.IO });
    expect(db.stats().keys).toBe(2);
    expect(liveByFile(db).get([...before.keys()][0])).toEqual(before.get([...before.keys()][0]));
    expect(db.getSync('kept')?.toString()).toBe('old');
    await db.close().catch(() => {});
    db = await open(dir, { index: 'disk' });
    expect(db.stats().keys).toBe(2);
    await db.close();
  });
});
