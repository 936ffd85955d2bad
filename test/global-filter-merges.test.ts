import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';
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
