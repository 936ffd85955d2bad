import { cpSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codes, open, type RangeOptions, type Store } from '../lib/index.js';
import { rng } from './support/random.js';
import { tempDir } from './support/temp-dir.js';

const SMALL = { maxFileSize: 4096, autoMerge: false } as const;

async function listed(db: Pick<Store, 'range'>, options?: RangeOptions): Promise<string[]> {
  const out: string[] = [];
  for await (const [key, value] of db.range(options)) out.push(`${key}=${value}`);
  return out;
}

/** Waits for background work (index files being written) by closing and reopening. */
async function reopen(db: Store, dir: string, options: object): Promise<Store> {
  await db.close();
  return open(dir, options);
}

function indexFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.kvx'));
}

/** Damages one byte of the directory's first index file. */
function damageIndexFile(dir: string, at: number): void {
  const victim = join(dir, indexFiles(dir)[0]);
  const bytes = readFileSync(victim);
  bytes[at] ^= 0xff;
  writeFileSync(victim, bytes);
}

describe("index: 'disk'", () => {
  it('answers every read, range and count exactly as the memory index does, across seals, merges and reopens', async () => {
    const random = rng(4242);
    const dirs = { memory: tempDir(), disk: tempDir() };
    const options = { memory: { ...SMALL, index: 'memory' as const }, disk: { ...SMALL, index: 'disk' as const } };
    const stores: Record<'memory' | 'disk', Store> = { memory: await open(dirs.memory, options.memory), disk: await open(dirs.disk, options.disk) };
    const keyOf = (i: number) => `k${String(i).padStart(4, '0')}`;
    for (let step = 0; step < 2000; step++) {
      const roll = random();
      const key = keyOf(Math.floor(random() * 400));
      for (const mode of ['memory', 'disk'] as const) {
        const db = stores[mode];
        if (roll < 0.6) await db.set(key, `v${step}-${'x'.repeat(step % 50)}`);
        else if (roll < 0.8) await db.delete(key);
        else if (roll < 0.9) await db.batch([{ type: 'put', key, value: `b${step}` }, { type: 'del', key: keyOf((step * 7) % 400) }]);
        else if (roll < 0.93) await db.compact();
        else if (roll < 0.95) stores[mode] = await reopen(db, dirs[mode], options[mode]);
      }
      if (step % 250 === 0 || step === 1999) {
        for (let i = 0; i < 400; i++) {
          expect(stores.disk.getSync(keyOf(i))?.toString(), keyOf(i)).toBe(stores.memory.getSync(keyOf(i))?.toString());
          expect(stores.disk.has(keyOf(i))).toBe(stores.memory.has(keyOf(i)));
        }
        const low = keyOf(Math.floor(random() * 400));
        const high = keyOf(Math.floor(random() * 400));
        for (const range of [{}, { reverse: true }, { gte: low, lt: high }, { gt: low, lte: high, reverse: true }, { prefix: 'k01' }, { limit: 17, gt: low }]) {
          expect(await listed(stores.disk, range)).toEqual(await listed(stores.memory, range));
        }
        const [m, d] = [stores.memory.stats(), stores.disk.stats()];
        expect(d.keys).toBe(m.keys);
        expect(d.liveBytes).toBe(m.liveBytes);
      }
    }
    expect(indexFiles(dirs.disk).length).toBeGreaterThan(0);
    await stores.memory.close();
    await stores.disk.close();
  });

  it('holds no keys in memory after a reopen, and reads them all from the index files', async () => {
    const dir = tempDir();
    let db = await open(dir, { ...SMALL, index: 'disk' });
    for (let i = 0; i < 2000; i++) await db.set(`key-${i}`, `value-${i}`);
    db = await reopen(db, dir, { ...SMALL, index: 'disk' });
    expect(db.keydir.size).toBe(0);
    expect(db.stats().keys).toBe(2000);
    for (let i = 0; i < 2000; i++) expect(db.getSync(`key-${i}`)?.toString()).toBe(`value-${i}`);
    expect(db.getSync('key-2000')).toBeUndefined();
    expect((await listed(db, { prefix: 'key-199' })).length).toBe(11);
    await db.close();
  });

  it('reopens from the counts a clean close saved, and counts from the indexes after a crash', async () => {
    const dir = tempDir();
    let db = await open(dir, { ...SMALL, index: 'disk' });
    for (let i = 0; i < 500; i++) await db.set(`key-${i % 300}`, `value-${i}`);
    for (let i = 0; i < 50; i++) await db.delete(`key-${i}`);
    const expected = db.stats();
    db = await reopen(db, dir, { ...SMALL, index: 'disk' });
    expect(db.stats().recovery.countedFiles).toBe(0);
    expect(db.stats().keys).toBe(250);
    expect(db.stats().liveBytes).toBe(expected.liveBytes);
    // A crash: the files as they are while the store is open, without the counts a close would save.
    await db.set('after', 'reopen');
    const crashed = tempDir();
    cpSync(dir, crashed, { recursive: true, filter: (source) => !source.endsWith('LOCK') });
    await db.close();
    const recovered = await open(crashed, { ...SMALL, index: 'disk' });
    expect(recovered.stats().recovery.countedFiles).toBeGreaterThan(0);
    expect(recovered.stats().keys).toBe(251);
    expect(recovered.stats().liveBytes).toBe(expected.liveBytes + recovered.stats().files.at(-1)!.liveBytes);
    expect(recovered.getSync('after')?.toString()).toBe('reopen');
    expect(recovered.getSync('key-10')).toBeUndefined();
    expect(recovered.getSync('key-100')?.toString()).toBe('value-400');
    await recovered.close();
  });

  it('rebuilds an index file with a damaged header from its data file', async () => {
    const dir = tempDir();
    let db = await open(dir, { ...SMALL, index: 'disk' });
    for (let i = 0; i < 300; i++) await db.set(`key-${i}`, `value-${i}`);
    await db.close();
    damageIndexFile(dir, 6);
    db = await open(dir, { ...SMALL, index: 'disk' });
    expect(db.stats().recovery.rebuiltIndexes).toBe(1);
    for (let i = 0; i < 300; i++) expect(db.getSync(`key-${i}`)?.toString()).toBe(`value-${i}`);
    await db.close();
  });

  it('reports a sealed data file cut at a frame boundary as damage, though it scans clean, because its index file recorded it longer', async () => {
    const dir = tempDir();
    let db = await open(dir, { ...SMALL, index: 'disk' });
    for (let i = 0; i < 300; i++) await db.set(`key-${i}`, `value-${i}`);
    await db.close();
    const data = join(dir, '00001000.data');
    const index = join(dir, '00001000.kvx');
    const bytes = readFileSync(data);
    const lastFrame = bytes.lastIndexOf('KVFR');
    const lostKey = bytes.subarray(lastFrame + 36, lastFrame + 36 + bytes.readUInt16LE(lastFrame + 30)).toString();
    expect(lostKey).toMatch(/^key-\d+$/);
    truncateSync(data, lastFrame);
    const indexSize = statSync(index).size;
    await expect(open(dir, { ...SMALL, index: 'disk', strict: true })).rejects.toMatchObject({ code: codes.CORRUPTION, file: index });
    db = await open(dir, { ...SMALL, index: 'disk' });
    expect(db.getSync(lostKey)).toBeUndefined();
    expect(db.stats().recovery.damaged).toEqual([{ file: index, offset: expect.any(Number), length: indexSize }]);
    expect(db.stats().recovery.rebuiltIndexes).toBe(1);
    await db.close();
  });

  it('refuses to answer from a damaged index page, then rebuilds the index and answers right', async () => {
    const dir = tempDir();
    let db = await open(dir, { maxFileSize: 64 * 1024, autoMerge: false, index: 'disk' });
    for (let i = 0; i < 1000; i++) await db.set(`key-${String(i).padStart(4, '0')}`, `value-${i}`);
    await db.close();
    // Somewhere in the first entry page, after the header.
    damageIndexFile(dir, 4096 + 100);
    db = await open(dir, { maxFileSize: 64 * 1024, autoMerge: false, index: 'disk', indexCacheSize: 0 });
    let failure: unknown;
    for (let i = 0; i < 1000 && failure === undefined; i++) {
      try {
        db.getSync(`key-${String(i).padStart(4, '0')}`);
      } catch (err) {
        failure = err;
      }
    }
    expect(failure).toMatchObject({ code: 'KVCASK_CORRUPTION' });
    expect((failure as { file: string }).file).toMatch(/\.kvx$/);
    for (let attempt = 0; attempt < 100 && db.stats().recovery.rebuiltIndexes === 0; attempt++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(db.stats().recovery.rebuiltIndexes).toBe(1);
    for (let i = 0; i < 1000; i++) expect(db.getSync(`key-${String(i).padStart(4, '0')}`)?.toString()).toBe(`value-${i}`);
    await db.close();
  });

  it("keeps a snapshot's view while later writes are sealed, indexed and merged", async () => {
    const dir = tempDir();
    const db = await open(dir, { ...SMALL, index: 'disk' });
    for (let i = 0; i < 300; i++) await db.set(`key-${i}`, `old-${i}`);
    await db.compact();
    const snapshot = db.openSnapshot();
    const before = await listed(snapshot);
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 0) await db.delete(`key-${i}`);
      else await db.set(`key-${i}`, `new-${i}`);
    }
    await db.compact();
    expect(await listed(snapshot)).toEqual(before);
    expect(snapshot.getSync('key-3')?.toString()).toBe('old-3');
    expect(db.getSync('key-3')).toBeUndefined();
    expect(db.getSync('key-4')?.toString()).toBe('new-4');
    snapshot.release();
    await db.close();
  });
});
