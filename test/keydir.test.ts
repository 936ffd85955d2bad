import { describe, expect, it } from 'vitest';
import { Keydir } from '../lib/keydir.js';
import { randomBytes, rng } from './support/random.js';

/** A keydir and the keys it should hold, changed together; expectOrdered() checks its key order against them. */
function modelled() {
  const keydir = new Keydir();
  const reference = new Map<string, Buffer>();
  const change = (key: Buffer, remove: boolean, offset: number) => {
    if (remove) {
      keydir.remove(key);
      reference.delete(key.toString('hex'));
    } else {
      keydir.put(key, 1, offset, 0);
      reference.set(key.toString('hex'), key);
    }
  };
  const expectOrdered = () => {
    const ordered: number[] = [];
    keydir.collect(ordered, Infinity, {}, false);
    expect(ordered.map((slot) => keydir.keyOf(slot))).toEqual([...reference.values()].sort(Buffer.compare));
  };
  return { keydir, change, expectOrdered };
}

describe('keydir', () => {
  it('agrees with a Map over random puts and removes, through table growth, deletions and arena compaction', () => {
    const random = rng(11);
    const keydir = new Keydir();
    const reference = new Map<string, number>();
    const pool = Array.from({ length: 40_000 }, () => randomBytes(random, Math.floor(random() * 40), [0, 1, 2, 0xff, 65, 66]));
    for (let step = 0; step < 300_000; step++) {
      const key = pool[Math.floor(random() * pool.length)];
      const id = key.toString('hex');
      if (random() < 0.45) {
        keydir.remove(key);
        reference.delete(id);
      } else {
        keydir.put(key, step % 7, step, key.length);
        reference.set(id, step);
      }
      if (step % 50_000 === 0) expect(keydir.size).toBe(reference.size);
    }
    expect(keydir.size).toBe(reference.size);
    for (const key of pool) {
      const want = reference.get(key.toString('hex'));
      const slot = keydir.find(key);
      if (want === undefined) expect(slot).toBe(-1);
      else {
        expect(keydir.offsetOf(slot)).toBe(want);
        expect(keydir.keyOf(slot)).toEqual(key);
      }
    }
    const ordered: number[] = [];
    keydir.collect(ordered, Infinity, {}, false);
    const keys = ordered.map((slot) => keydir.keyOf(slot));
    const sorted = [...reference.keys()].map((hex) => Buffer.from(hex, 'hex')).sort(Buffer.compare);
    expect(keys).toEqual(sorted);
  });

  it('compacts its key arena after mass removal without losing the keys that remain', () => {
    const keydir = new Keydir();
    const keys = Array.from({ length: 100_000 }, (_, i) => Buffer.from(`key-${i}-${'x'.repeat(20)}`));
    keys.forEach((key, i) => keydir.put(key, 1, i, 0));
    const before = keydir.memoryBytes();
    keys.forEach((key, i) => i % 10 !== 0 && keydir.remove(key));
    // Removing keys alone frees 8 bytes each of the sorted list; only compaction gives back the arena's megabytes.
    expect(before - keydir.memoryBytes()).toBeGreaterThan(90_000 * 8 + 2_000_000);
    const wrong = keys.filter((key, i) => {
      const slot = keydir.find(key);
      return i % 10 === 0 ? slot < 0 || !keydir.keyOf(slot).equals(key) : slot >= 0;
    });
    expect(wrong).toEqual([]);
  });

  it('keeps key order through removals and slot reuse while the order is deferred, and after it is built', () => {
    const random = rng(12);
    const { keydir, change, expectOrdered } = modelled();
    const pool = Array.from({ length: 20_000 }, () => randomBytes(random, Math.floor(random() * 20), [0, 1, 0x7f, 0xff]));
    const step = (i: number) => change(pool[Math.floor(random() * pool.length)], random() < 0.3, i);
    for (let i = 0; i < 5_000; i++) step(i);
    keydir.deferOrder();
    for (let i = 0; i < 60_000; i++) step(i);
    keydir.buildOrder();
    expectOrdered();
    for (let i = 0; i < 20_000; i++) step(i);
    expectOrdered();
    // A range asked for while the order is deferred builds it first.
    keydir.deferOrder();
    for (let i = 0; i < 20_000; i++) step(i);
    expectOrdered();
  });

  it('sorts keys added since the last range into the order, a few by insertion and many by sorting again, through removals and reused slots', () => {
    const random = rng(13);
    const { change, expectOrdered } = modelled();
    const pool = Array.from({ length: 4_000 }, () => randomBytes(random, 1 + Math.floor(random() * 12), [0, 1, 0x7f, 0xff]));
    // About 2,600 keys live: a range after a few changes inserts them, after hundreds (over a tenth) sorts everything again.
    for (let range = 0; range < 80; range++) {
      const changes = range % 2 === 0 ? 1 + Math.floor(random() * 20) : 200 + Math.floor(random() * 2_000);
      for (let i = 0; i < changes; i++) change(pool[Math.floor(random() * pool.length)], random() < 0.35, i);
      expectOrdered();
    }
  });
  it('holds no growing list of new keys while no range is read, and the next range is still in key order', () => {
    const random = rng(14);
    const { keydir, change, expectOrdered } = modelled();
    const pending = () => (keydir as unknown as { pending: number[] }).pending.length;
    expectOrdered();
    // Keys come and go, as a disk-mode memory part's do when a sealed file's keys leave it: no range in between.
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 5_000; i++) change(Buffer.from(`r${round}-${i}`), false, i);
      for (let i = 0; i < 5_000; i++) if (random() < 0.9) change(Buffer.from(`r${round}-${i}`), true, i);
      expect(pending()).toBeLessThan(10_000);
    }
    expectOrdered();
  });
});
