import { describe, expect, it } from 'vitest';
import { DiskIndex } from '../lib/disk-index.js';
import { GlobalFilter } from '../lib/global-filter.js';
import { open } from '../lib/index.js';
import type { IndexFile } from '../lib/index-file.js';
import { tempDir } from './support/temp-dir.js';

const SMALL = { maxFileSize: 4096, autoMerge: false, index: 'disk' } as const;

describe('lookups with the global filter', () => {
  it('answer hits and misses right across deletes, merges and reopens', async () => {
    const dir = tempDir();
    let db = await open(dir, SMALL);
    const expected = new Map<string, string>();
    for (let i = 0; i < 500; i++) {
      await db.set(`key-${i}`, `value-${i}`);
      expected.set(`key-${i}`, `value-${i}`);
    }
    for (let i = 0; i < 500; i += 3) {
      await db.delete(`key-${i}`);
      expected.delete(`key-${i}`);
    }
    for (let i = 0; i < 500; i += 5) {
      await db.set(`key-${i}`, `again-${i}`);
      expected.set(`key-${i}`, `again-${i}`);
    }
    const check = async () => {
      await db.diskIndex!.filled();
      expect(db.diskIndex!.fullyFiltered).toBe(true);
      for (let i = 0; i < 600; i++) {
        expect(db.getSync(`key-${i}`)?.toString(), `key-${i}`).toBe(expected.get(`key-${i}`));
        expect(db.has(`key-${i}`)).toBe(expected.has(`key-${i}`));
      }
    };
    await check();
    await db.compact();
    // A merge's outputs hold only keys of its inputs, so the filter is taken to cover them.
    await check();
    await db.close();
    db = await open(dir, SMALL);
    await check();
    await db.compact();
    await db.close();
    db = await open(dir, SMALL);
    await check();
    await db.close();
  });
});

describe("DiskIndex.replace() with a merge's outputs", () => {
  /** An index file whose keys are never read, so that only replace() can make it covered. */
  const unread = (fileId: number) => ({ fileId, count: 1, dataLength: 100, coveredBy: null, forEachKey: () => new Promise<boolean>(() => {}) }) as unknown as IndexFile;
  const covering = (ids: number[]) => ({ filter: GlobalFilter.forKeys(10), files: ids.map((id) => ({ id, dataLength: 100, count: 1 })) });

  it('takes them as covered when the filter covered every input, and not otherwise', () => {
    const disk = new DiskIndex();
    disk.indexes = [unread(2), unread(1)];
    disk.startFilter(covering([1, 2]));
    expect(disk.fullyFiltered).toBe(true);
    disk.replace(new Set([1, 2]), [unread(3)], true);
    expect(disk.fullyFiltered).toBe(true);
    // Not a merge's outputs: they may hold keys the filter never took in.
    disk.replace(new Set([3]), [unread(4)]);
    expect(disk.fullyFiltered).toBe(false);
  });

  it('does not when an input was not covered or not among the indexes', () => {
    const partly = new DiskIndex();
    partly.indexes = [unread(2), unread(1)];
    partly.startFilter(covering([1]));
    partly.replace(new Set([1, 2]), [unread(3)], true);
    expect(partly.indexes.map((index) => index.coveredBy === null)).toEqual([true]);
    const missing = new DiskIndex();
    missing.indexes = [unread(1)];
    missing.startFilter(covering([1]));
    missing.replace(new Set([1, 9]), [unread(3)], true);
    expect(missing.fullyFiltered).toBe(false);
  });
});
