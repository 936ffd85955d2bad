import { describe, expect, it } from 'vitest';
import { codes } from '../lib/errors.js';
import { GlobalFilter } from '../lib/global-filter.js';

describe('GlobalFilter', () => {
  it('round-trips through its file bytes with the files it covers', () => {
    const filter = GlobalFilter.forKeys(1000);
    for (let i = 0; i < 1000; i++) filter.bloom.add(Buffer.from(`key-${i}`));
    filter.added = 1000;
    const files = [{ id: 3, dataLength: 4096, count: 600 }, { id: 7, dataLength: 2048, count: 400 }];
    const { filter: back, files: backFiles } = GlobalFilter.decode(filter.encode(files), 'FILTER');
    expect(backFiles).toEqual(files);
    expect(back.capacity).toBe(filter.capacity);
    expect(back.added).toBe(1000);
    for (let i = 0; i < 1000; i++) expect(back.bloom.mayContain(Buffer.from(`key-${i}`))).toBe(true);
  });

  it('rejects bytes that fail a check with KVCASK_CORRUPTION', () => {
    const bytes = GlobalFilter.forKeys(10).encode([{ id: 1, dataLength: 100, count: 10 }]);
    for (const bad of [bytes.subarray(0, 20), bytes.subarray(0, bytes.length - 1), Buffer.concat([bytes, Buffer.alloc(4)])]) {
      expect(() => GlobalFilter.decode(bad, 'FILTER')).toThrow(expect.objectContaining({ code: codes.CORRUPTION }));
    }
    const flipped = Buffer.from(bytes);
    flipped[40] ^= 1;
    expect(() => GlobalFilter.decode(flipped, 'FILTER')).toThrow(expect.objectContaining({ code: codes.CORRUPTION }));
  });

  it('asks to be rebuilt once it took in more keys than it was sized for, or when it is far larger than needed', () => {
    const filter = GlobalFilter.forKeys(1_000_000);
    expect(filter.needsRebuild(1_000_000)).toBe(false);
    filter.added = filter.capacity;
    expect(filter.needsRebuild(1_000_000)).toBe(false);
    filter.added = filter.capacity + 1;
    expect(filter.needsRebuild(1_000_000)).toBe(true);
    expect(GlobalFilter.forKeys(1_000_000).needsRebuild(200_000)).toBe(true);
  });

  it('stays at the largest Bloom filter for more keys than that holds, instead of failing to build or asking to be rebuilt for ever', () => {
    const keys = 2 ** 31;
    const filter = GlobalFilter.forKeys(keys);
    expect(filter.capacity).toBe(2 ** 29);
    expect(filter.bloom.byteLength).toBe(2 ** 29);
    filter.added = keys;
    expect(filter.needsRebuild(keys)).toBe(false);
  });
});
