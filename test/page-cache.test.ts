import { describe, expect, it } from 'vitest';
import { PageCache } from '../lib/page-cache.js';

/** Takes a slot for `page` and writes `mark` over it, as a reader filling it would. */
function fill(cache: PageCache, slotOf: Int32Array, page: number, mark: number): number {
  const slot = cache.take(slotOf, page);
  if (slot >= 0) cache.bufferOf(slot).fill(mark, cache.baseOf(slot), cache.baseOf(slot) + cache.slotBytes);
  return slot;
}

function bytesOf(cache: PageCache, slotOf: Int32Array, page: number): number[] {
  const slot = slotOf[page];
  const base = cache.baseOf(slot);
  return [...cache.bufferOf(slot).subarray(base, base + cache.slotBytes)];
}

describe('page cache', () => {
  it('evicts the page not read since the clock passed, and tells its file the page is gone', () => {
    const cache = new PageCache(3 * 100, 100);
    const file = PageCache.slotsFor(10);
    for (const page of [0, 1, 2]) fill(cache, file, page, page + 1);
    cache.touch(file[0]);
    expect(cache.hits).toBe(1);
    fill(cache, file, 3, 4);
    // Page 0 was read, so it got a second chance; page 1 was the first unread one.
    expect([...file.subarray(0, 4)].map((slot) => slot >= 0)).toEqual([true, false, true, true]);
    expect(cache.size).toBe(300);
    for (const page of [0, 2, 3]) expect(new Set(bytesOf(cache, file, page))).toEqual(new Set([page + 1]));
  });

  it('never holds more than its budget, and a budget under one slot holds nothing', () => {
    const cache = new PageCache(1000, 64);
    const files = [PageCache.slotsFor(500), PageCache.slotsFor(500)];
    for (let n = 0; n < 1000; n++) {
      fill(cache, files[n % 2], n >> 1, n & 0xff);
      if (n % 3 === 0) cache.touch(files[n % 2][n >> 1]);
      expect(cache.size).toBeLessThanOrEqual(1000);
    }
    const held = files.flatMap((file) => [...file].filter((slot) => slot >= 0));
    expect(held.length).toBe(Math.floor(1000 / 64));
    expect(new Set(held).size).toBe(held.length);
    const none = new PageCache(63, 64);
    const file = PageCache.slotsFor(1);
    expect(none.take(file, 0)).toBe(-1);
    expect(file[0]).toBe(-1);
    expect(none.size).toBe(0);
  });

  it('frees the slots of a released file for others, leaving other files\' pages intact', () => {
    const cache = new PageCache(4 * 100, 100);
    const closed = PageCache.slotsFor(2);
    const open = PageCache.slotsFor(4);
    fill(cache, closed, 0, 10);
    fill(cache, closed, 1, 11);
    fill(cache, open, 0, 20);
    fill(cache, open, 1, 21);
    cache.release(closed);
    expect([...closed]).toEqual([-1, -1]);
    expect(cache.size).toBe(200);
    fill(cache, open, 2, 22);
    fill(cache, open, 3, 23);
    expect(cache.size).toBe(400);
    for (const page of [0, 1, 2, 3]) expect(new Set(bytesOf(cache, open, page))).toEqual(new Set([20 + page]));
    cache.drop(open, 1);
    expect(open[1]).toBe(-1);
    expect(cache.size).toBe(300);
  });
  it('holds pages in as many chunks as its budget allows, each page\'s bytes its own', () => {
    const cache = new PageCache(10_000 * 4, 4);
    const file = PageCache.slotsFor(12_000);
    for (let page = 0; page < 10_000; page++) cache.bufferOf(cache.take(file, page)).writeUInt32LE(page, cache.baseOf(file[page]));
    expect(cache.size).toBe(40_000);
    for (let page = 0; page < 10_000; page++) expect(cache.bufferOf(file[page]).readUInt32LE(cache.baseOf(file[page]))).toBe(page);
    // Full: the next page takes the slot of the first page the clock finds unread.
    cache.take(file, 10_000);
    expect(file[0]).toBe(-1);
    expect(cache.size).toBe(40_000);
  });
});
