import { describe, expect, it } from 'vitest';
import { sortByKey } from '../lib/key-sort.js';
import { randomBytes, rng } from './support/random.js';

/** Lays the keys out in an arena as the keydir does (u16 length, then bytes), in a shuffled order; returns the sorted keys. */
function sortThroughArena(keys: Buffer[], seed: number): Buffer[] {
  const random = rng(seed);
  const arena = Buffer.alloc(keys.reduce((sum, key) => sum + 2 + key.length, 0));
  const at = new Uint32Array(keys.length);
  let used = 0;
  keys.forEach((key, i) => {
    at[i] = used;
    arena.writeUInt16LE(key.length, used);
    key.copy(arena, used + 2);
    used += 2 + key.length;
  });
  const items = Uint32Array.from(keys, (_, i) => i);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  sortByKey(arena, items, (item) => at[item]);
  return Array.from(items, (item) => keys[item]);
}

function distinct(keys: Buffer[]): Buffer[] {
  return [...new Map(keys.map((key) => [key.toString('hex'), key])).values()];
}

describe('sortByKey', () => {
  it('orders random binary keys of every length from 0 to 40 as Buffer.compare does', () => {
    const random = rng(3);
    const keys = distinct(Array.from({ length: 30_000 }, () => randomBytes(random, Math.floor(random() * 41))));
    expect(sortThroughArena(keys, 4)).toEqual([...keys].sort(Buffer.compare));
  });

  it('puts a key before the same key followed by zero bytes, and zero bytes before any other byte', () => {
    const keys = ['', '00', '0000', '00000000000000', '0000000000000000', '000000000000000000', '01', '0001', 'ff', 'ff00', 'ffff'].map((hex) => Buffer.from(hex, 'hex'));
    expect(sortThroughArena(keys, 5)).toEqual([...keys].sort(Buffer.compare));
  });

  it('orders keys that share prefixes longer than one pass, differ only near their end or are prefixes of one another', () => {
    const random = rng(6);
    const shared = randomBytes(random, 50);
    const keys: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) {
      const prefix = shared.subarray(0, [0, 6, 7, 8, 14, 21, 50][i % 7]);
      keys.push(Buffer.concat([prefix, randomBytes(random, Math.floor(random() * 10), [0, 1, 0xff])]));
    }
    for (let i = 0; i < 5000; i++) keys.push(Buffer.from(`user:${String(i).padStart(12, '0')}`));
    const unique = distinct(keys);
    expect(sortThroughArena(unique, 7)).toEqual([...unique].sort(Buffer.compare));
  });

  it('leaves zero or one item as it is', () => {
    expect(sortThroughArena([], 8)).toEqual([]);
    expect(sortThroughArena([Buffer.from('only')], 8)).toEqual([Buffer.from('only')]);
  });
});
