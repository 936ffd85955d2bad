import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

const keyOf = (i: number) => `key-${String(i).padStart(5, '0')}`;

describe('stats().indexCache', () => {
  it("counts the index pages a disk-index store reads and holds, and leaves a memory-index store's at zero", async () => {
    const dir = tempDir();
    const options = { index: 'disk' as const, maxFileSize: 64 * 1024, autoMerge: false, indexCacheSize: 1024 * 1024 };
    let db = await open(dir, options);
    for (let i = 0; i < 3000; i++) await db.set(keyOf(i), `value ${i}`);
    // Closing writes every sealed file's index; the next open loads none of their pages.
    await db.close();
    db = await open(dir, options);
    const { indexCache: before } = db.stats();
    expect(before).toEqual({ bytes: 0, budget: 1024 * 1024, hits: 0, misses: 0 });
    expect(db.stats().files.filter((file) => file.sealed).length).toBeGreaterThan(1);

    expect(db.getSync(keyOf(10))?.toString()).toBe('value 10');
    const once = db.stats().indexCache;
    expect(once.misses).toBeGreaterThanOrEqual(1);
    expect(once.bytes).toBe(once.misses * 5264);

    expect(db.getSync(keyOf(10))?.toString()).toBe('value 10');
    const twice = db.stats().indexCache;
    expect(twice.misses).toBe(once.misses);
    // The second lookup finds every page the first one touched in the cache.
    expect(twice.hits - once.hits).toBe(once.hits + once.misses);
    await db.close();

    const memory = await open(tempDir(), { indexCacheSize: 4096 });
    await memory.set('k', 'v');
    expect(memory.getSync('k')?.toString()).toBe('v');
    expect(memory.stats().indexCache).toEqual({ bytes: 0, budget: 4096, hits: 0, misses: 0 });
    await memory.close();
  });
});
