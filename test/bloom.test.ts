import { describe, expect, it } from 'vitest';
import { BloomFilter } from '../lib/bloom.js';
import { randomBytes, rng } from './support/random.js';

function randomKeys(seed: number, count: number): Buffer[] {
  const random = rng(seed);
  return Array.from({ length: count }, () => randomBytes(random, 8 + Math.floor(random() * 33)));
}

describe('Bloom filter', () => {
  it('never reports an added key as absent, over 100,000 random keys', () => {
    const keys = randomKeys(1, 100_000);
    const filter = BloomFilter.forCount(keys.length);
    for (const key of keys) filter.add(key);
    expect(keys.filter((key) => !filter.mayContain(key))).toHaveLength(0);
  });

  it('reports under 2% of 100,000 absent keys as maybe present at 10 bits per key', () => {
    const keys = randomKeys(2, 100_000);
    const filter = BloomFilter.forCount(keys.length);
    for (const key of keys) filter.add(key);
    const added = new Set(keys.map((key) => key.toString('hex')));
    const absent = randomKeys(3, 100_000).filter((key) => !added.has(key.toString('hex')));
    const falsePositives = absent.filter((key) => filter.mayContain(key)).length;
    expect(absent.length).toBeGreaterThan(99_000);
    expect(falsePositives / absent.length).toBeLessThan(0.02);
  });

  it('tells apart keys that differ in one byte or only in length', () => {
    const filter = BloomFilter.forCount(3);
    filter.add(Buffer.from('key-0001'));
    filter.add(Buffer.alloc(0));
    expect(filter.mayContain(Buffer.from('key-0001'))).toBe(true);
    expect(filter.mayContain(Buffer.alloc(0))).toBe(true);
    const near = ['key-0002', 'key-000', 'key-00010', 'key-0011', '\u0000'].map((text) => Buffer.from(text));
    // One 256-bit block, 8 bits per key, 2 keys: a false positive is possible but these fixed keys show none.
    expect(near.filter((key) => filter.mayContain(key))).toHaveLength(0);
  });

  it('answers the same after a round trip through its bytes and hash count', () => {
    const keys = randomKeys(4, 5_000);
    const filter = BloomFilter.forCount(keys.length);
    for (const key of keys.slice(0, 2_500)) filter.add(key);
    const copy = BloomFilter.fromBytes(Buffer.from(filter.bytes), filter.hashCount);
    expect(copy.hashCount).toBe(8);
    expect(keys.map((key) => copy.mayContain(key))).toEqual(keys.map((key) => filter.mayContain(key)));
  });

  it('is sized at about 10 bits per key in whole 32-byte blocks, at least one', () => {
    expect(BloomFilter.forCount(0).bytes.length).toBe(32);
    expect(BloomFilter.forCount(1_000).bytes.length).toBe(1_280);
    expect(BloomFilter.forCount(1_000, 20).bytes.length).toBe(2_528);
  });

  it('sets all of a key\'s bits inside one 32-byte block', () => {
    const filter = BloomFilter.forCount(10_000);
    for (const key of randomKeys(5, 200)) {
      const before = filter.bytes;
      filter.add(key);
      const after = filter.bytes;
      const changedBlocks = new Set<number>();
      for (let i = 0; i < after.length; i++) if (after[i] !== before[i]) changedBlocks.add(Math.floor(i / 32));
      expect(changedBlocks.size).toBe(1);
    }
  });

  it('rejects bad sizes and hash counts', () => {
    expect(() => BloomFilter.forCount(-1)).toThrow(RangeError);
    expect(() => BloomFilter.forCount(1.5)).toThrow(RangeError);
    expect(() => BloomFilter.fromBytes(Buffer.alloc(0), 8)).toThrow(RangeError);
    expect(() => BloomFilter.fromBytes(Buffer.alloc(40), 8)).toThrow(RangeError);
    expect(() => BloomFilter.fromBytes(Buffer.alloc(32), 7)).toThrow(RangeError);
    expect(() => BloomFilter.fromBytes(new Uint8Array(32) as Buffer, 8)).toThrow(TypeError);
  });
});
