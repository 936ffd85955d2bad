import { describe, expect, it, vi } from 'vitest';
import { codes, open, type OpenOptions } from '../lib/index.js';
import { FaultyFileSystem } from './support/faulty-fs.js';
import { tempDir } from './support/temp-dir.js';

/**
 * node:fs, except that while `slow` is set every synchronous read of a data
 * file or segment takes over a millisecond (a disk, not the page cache), and
 * while `holding` is set asynchronous reads wait until `release()`.
 */
class SlowDisk extends FaultyFileSystem {
  slow = false;
  holding = false;
  readonly closed: string[] = [];
  /** Asynchronous reads issued while `slow` was set. */
  readonly asyncReads: { path: string; length: number }[] = [];
  private held: (() => void)[] = [];

  constructor() {
    super();
    // The base class's operations are fields, not methods: wrapped here rather than overridden.
    const { close, read, readSync } = this;
    this.close = (fd) => {
      this.closed.push(this.pathOf(fd));
      return close(fd);
    };
    this.readSync = (fd, buffer, offset, length, position) => {
      if (this.slow && /\.(data|kvs)$/.test(this.pathOf(fd))) {
        const until = performance.now() + 1.5;
        while (performance.now() < until);
      }
      return readSync(fd, buffer, offset, length, position);
    };
    this.read = async (fd, buffer, offset, length, position) => {
      if (this.slow) this.asyncReads.push({ path: this.pathOf(fd), length });
      if (this.holding) await new Promise<void>((resolve) => this.held.push(resolve));
      return read(fd, buffer, offset, length, position);
    };
  }

  release(): void {
    for (const resolve of this.held.splice(0)) resolve();
  }
}

const value = (i: number) => `value ${i} ${'x'.repeat(i % 40)}`;

/** A store of 300 keys in sealed files (segments after compact()), 20 more in the active file, one deleted, one queued; and the keys to ask for. */
async function storeWithEveryKindOfFile(options: OpenOptions, compacted: boolean) {
  const dir = tempDir();
  const db = await open(dir, { maxFileSize: 4096, autoMerge: false, ...options });
  const model = new Map<string, string>();
  for (let i = 0; i < 300; i++) {
    await db.set(`k${i}`, value(i));
    model.set(`k${i}`, value(i));
  }
  if (compacted) await db.compact();
  for (let i = 300; i < 320; i++) {
    await db.set(`k${i}`, value(i));
    model.set(`k${i}`, value(i));
  }
  await db.delete('k7');
  model.delete('k7');
  void db.set('queued', 'not yet written');
  model.set('queued', 'not yet written');
  const keys = ['k319', 'missing', 'k0', 'k7', 'queued', 'k150', 'k0', 'k299', 'k305'];
  return { db, keys, expected: keys.map((key) => model.get(key)) };
}

describe('getMany', () => {
  it('returns values in the order asked, undefined for missing keys, from files and pending writes alike', async () => {
    const dir = tempDir();
    const db = await open(dir, { maxFileSize: 2048 });
    for (let i = 0; i < 100; i++) await db.set(`k${i}`, `v${i}`);
    void db.set('pending', 'p');
    const values = await db.getMany(['k5', 'missing', 'k99', 'pending', 'k0']);
    expect(values.map((v) => v?.toString())).toEqual(['v5', undefined, 'v99', 'p', 'v0']);
    await db.close();
  });

  for (const index of ['memory', 'disk'] as const) {
    for (const [kind, compacted, compression] of [
      ['data files', false, 'lz4'],
      ['compressed segments', true, 'lz4'],
      ['raw segments', true, 'none'],
    ] as const) {
      it(`reads the active file, ${kind}, deletes and queued writes in order with index: '${index}', from the page cache and from a slow disk alike`, async () => {
        const disk = new SlowDisk();
        const { db, keys, expected } = await storeWithEveryKindOfFile({ index, compression, blockCacheSize: 0, fileSystem: disk }, compacted);
        expect((await db.getMany(keys)).map((v) => v?.toString())).toEqual(expected);
        disk.slow = true;
        const slowly = db.getMany(keys);
        disk.slow = false;
        expect((await slowly).map((v) => v?.toString())).toEqual(expected);
        // The first slow read sent the rest of the sealed files' reads to the thread pool.
        expect(disk.asyncReads.length).toBeGreaterThan(0);
        await db.close();
      });
    }
  }

  it('serves reads that answer fast without the thread pool, and goes parallel once a read is slow, fetching neighbours together', async () => {
    const disk = new SlowDisk();
    const db = await open(tempDir(), { maxFileSize: 4096, autoMerge: false, fileSystem: disk });
    for (let i = 0; i < 300; i++) await db.set(`k${i}`, value(i));
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
    // A clock that says every read took a microsecond: the page cache.
    let now = 0;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => (now += 0.001));
    const read = vi.spyOn(disk, 'read');
    try {
      expect((await db.getMany(keys)).map(String)).toEqual(keys.map((_, i) => value(i)));
      expect(read).not.toHaveBeenCalled();
    } finally {
      clock.mockRestore();
    }
    disk.slow = true;
    const values = db.getMany(keys);
    disk.slow = false;
    expect((await values).map(String)).toEqual(keys.map((_, i) => value(i)));
    // One slow synchronous read, then records next to each other in a file fetched by one read: far fewer reads than keys.
    expect(disk.asyncReads.length).toBeGreaterThan(0);
    expect(disk.asyncReads.length).toBeLessThan(keys.length / 4);
    await db.close();
  });

  it('rejects with KVCASK_CORRUPTION when a record read on the thread pool is damaged', async () => {
    const disk = new SlowDisk();
    const dir = tempDir();
    const db = await open(dir, { maxFileSize: 4096, autoMerge: false, fileSystem: disk });
    for (let i = 0; i < 100; i++) await db.set(`k${i}`, value(i));
    const { readFileSync, writeFileSync } = await import('node:fs');
    const path = `${dir}/00001000.data`;
    const bytes = readFileSync(path);
    const at = bytes.indexOf(value(3));
    bytes[at] ^= 0x20;
    writeFileSync(path, bytes);
    disk.slow = true;
    // k1 is read synchronously (and slowly), k3 then on the thread pool.
    const reading = db.getMany(['k1', 'k3']);
    disk.slow = false;
    await expect(reading).rejects.toMatchObject({ code: codes.CORRUPTION, file: path });
    expect(disk.asyncReads.length).toBeGreaterThan(0);
    await db.close();
  });

  it('keeps reading files a merge retires while its reads are in flight, and closes them once the reads end', async () => {
    for (const index of ['memory', 'disk'] as const) {
      const disk = new SlowDisk();
      const db = await open(tempDir(), { maxFileSize: 4096, autoMerge: false, index, fileSystem: disk });
      for (let i = 0; i < 300; i++) await db.set(`k${i}`, value(i));
      const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
      disk.slow = true;
      disk.holding = true;
      const reading = db.getMany(keys);
      disk.slow = false;
      disk.holding = false;
      // Written after the call: not seen by it.
      await db.set('k299', 'newer');
      const merged = await db.compact();
      expect(merged.filesMerged).toBeGreaterThan(1);
      const waitedFor = disk.asyncReads.map((read) => read.path);
      // The slow reads went to the thread pool, so the checks below have files to look at.
      expect(waitedFor.length).toBeGreaterThan(0);
      expect(waitedFor.some((path) => disk.closed.includes(path))).toBe(false);
      disk.release();
      expect((await reading).map(String)).toEqual(keys.map((_, i) => value(i)));
      for (const path of new Set(waitedFor)) expect(disk.closed).toContain(path);
      expect(db.getSync('k299')?.toString()).toBe('newer');
      await db.close();
    }
  });
});
