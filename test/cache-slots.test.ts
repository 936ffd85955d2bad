import { describe, expect, it } from 'vitest';
import { BlockCache } from '../lib/cache.js';

describe('slots a reader keeps from BlockCache.set()', () => {
  it('serve their block while cached, and are marked gone once it is evicted, replaced or forgotten', () => {
    const cache = new BlockCache(3 * 100);
    const first = cache.set(BlockCache.indexKeyOf(1, 0), Buffer.alloc(100, 1))!;
    const second = cache.set(BlockCache.indexKeyOf(1, 1), Buffer.alloc(100, 2))!;
    const third = cache.set(BlockCache.keyOf(2, 0), Buffer.alloc(100, 3))!;
    expect(cache.touch(first)[0]).toBe(1);
    expect(cache.hits).toBe(1);
    // The clock passes over `first` (used) and evicts `second`.
    cache.set(BlockCache.keyOf(2, 1), Buffer.alloc(100, 4));
    expect([first.gone, second.gone, third.gone]).toEqual([false, true, false]);
    cache.set(BlockCache.keyOf(2, 0), Buffer.alloc(100, 5));
    expect(third.gone).toBe(true);
    cache.forgetIndex(1);
    expect(first.gone).toBe(true);
    expect(cache.set(BlockCache.keyOf(3, 0), Buffer.alloc(400))).toBeNull();
  });
});
