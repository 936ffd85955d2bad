import { describe, expect, it } from 'vitest';
import { BlockCache } from '../lib/cache.js';

describe('block cache', () => {
  it('forgets every block of one file id and keeps those of its neighbours', () => {
    const cache = new BlockCache(1 << 20);
    for (const id of [9, 10, 11, 0xffffffff]) {
      cache.set(BlockCache.keyOf(id, 0), Buffer.alloc(10));
      cache.set(BlockCache.keyOf(id, 0x1fffff), Buffer.alloc(100));
    }
    cache.forgetFile(10);
    expect(cache.size).toBe(3 * 110);
    expect(cache.get(BlockCache.keyOf(9, 0x1fffff))).toBeDefined();
    expect(cache.get(BlockCache.keyOf(11, 0))).toBeDefined();
    expect(cache.get(BlockCache.keyOf(10, 0))).toBeUndefined();
    cache.forgetFile(0xffffffff);
    expect(cache.size).toBe(2 * 110);
    expect(cache.get(BlockCache.keyOf(0xffffffff, 0x1fffff))).toBeUndefined();
  });

  it('evicts a block not read since it was cached before one that was read, and never passes its budget', () => {
    const cache = new BlockCache(300);
    for (const n of [0, 1, 2]) cache.set(BlockCache.keyOf(1, n), Buffer.alloc(100, n));
    expect(cache.get(BlockCache.keyOf(1, 0))?.[0]).toBe(0);
    cache.set(BlockCache.keyOf(1, 3), Buffer.alloc(100, 3));
    expect(cache.size).toBe(300);
    // Block 0 was read, so it got a second chance; block 1 was the oldest unread one.
    expect(cache.get(BlockCache.keyOf(1, 1))).toBeUndefined();
    expect(cache.get(BlockCache.keyOf(1, 0))?.[0]).toBe(0);
    for (let n = 4; n < 40; n++) {
      cache.set(BlockCache.keyOf(1, n), Buffer.alloc(1 + (n % 150), n));
      expect(cache.size).toBeLessThanOrEqual(300);
    }
    cache.set(BlockCache.keyOf(1, 99), Buffer.alloc(301));
    expect(cache.get(BlockCache.keyOf(1, 99))).toBeUndefined();
  });
});
