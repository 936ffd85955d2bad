import { describe, expect, it } from 'vitest';
import { hashOf, Keydir } from '../lib/keydir.js';
import { randomBytes, rng } from './support/random.js';

interface Where {
  fileId: number;
  offset: number;
}

/** Every key of `keys` the keydir answers differently from the reference (one expect per check: per-key expects made the test slow). */
function expectAgrees(keydir: Keydir, reference: Map<string, Where>, keys: Buffer[]): void {
  const wrong: string[] = [];
  for (const key of keys) {
    const want = reference.get(key.toString('hex'));
    const slot = keydir.find(key);
    const got = slot < 0 ? undefined : `${keydir.fileOf(slot)}@${keydir.offsetOf(slot)} ${keydir.keyOf(slot).toString('hex')}`;
    const expected = want === undefined ? undefined : `${want.fileId}@${want.offset} ${key.toString('hex')}`;
    if (got !== expected) wrong.push(`${key.toString('hex')}: ${got} instead of ${expected}`);
  }
  expect(wrong).toEqual([]);
}

describe('keydir table growth', () => {
  it.each([
    ['in steps', true],
    ['at once (as open() asks)', false],
  ])('answers every lookup right while its table doubles %s, through updates, removals, relocations and reused slots', (_, growInSteps) => {
    const random = rng(29);
    const keydir = new Keydir();
    keydir.growInSteps = growInSteps;
    const reference = new Map<string, Where>();
    const pool = Array.from({ length: 60_000 }, () => randomBytes(random, 1 + Math.floor(random() * 24), [0, 1, 0xff, 97]));
    for (let step = 1; step <= 400_000; step++) {
      const key = pool[Math.floor(random() * pool.length)];
      const id = key.toString('hex');
      const roll = random();
      // Mostly inserts early (so the table doubles several times), then a churn that reuses freed slots mid-growth.
      const removeShare = step < 150_000 ? 0.15 : 0.45;
      if (roll < removeShare) {
        keydir.remove(key);
        reference.delete(id);
      } else if (roll < removeShare + 0.1 && reference.has(id)) {
        const from = reference.get(id)!;
        const to = { fileId: from.fileId + 100, offset: step };
        expect(keydir.relocate(hashOf(key), from.fileId, from.offset, to.fileId, to.offset)).toBe(true);
        reference.set(id, to);
      } else {
        const where = { fileId: step % 13, offset: step };
        keydir.put(key, where.fileId, where.offset, 1);
        reference.set(id, where);
      }
      if (step % 97 === 0) expect(keydir.size).toBe(reference.size);
      if (step % 97 === 0) expectAgrees(keydir, reference, [key, pool[Math.floor(random() * pool.length)]]);
      if (step % 40_000 === 0) expectAgrees(keydir, reference, pool);
    }
    expectAgrees(keydir, reference, pool);
    const ordered: number[] = [];
    keydir.collect(ordered, Infinity, {}, false);
    expect(ordered.map((slot) => keydir.keyOf(slot).toString('hex'))).toEqual(
      [...reference.keys()].map((hex) => Buffer.from(hex, 'hex')).sort(Buffer.compare).map((key) => key.toString('hex')),
    );
  });

  it('builds the doubled table alongside from 65% full on, while the old one answers, and finishes it before 70%', () => {
    const keydir = new Keydir();
    const key = (i: number) => Buffer.from(`key-${i}`);
    // The first table has 1,024 entries: 665 keys are under 65% of it, 666 over.
    for (let i = 0; i < 665; i++) keydir.put(key(i), 1, i, 1);
    const before = keydir.memoryBytes();
    keydir.put(key(665), 1, 665, 1);
    const growing = keydir.memoryBytes();
    // The next table (2,048 entries of 20 bytes) and its per-slot positions now exist beside the first.
    expect(growing - before).toBeGreaterThanOrEqual(2048 * 20);
    for (let i = 666; i < 700; i++) {
      keydir.put(key(i), 1, i, 1);
      expect(keydir.offsetOf(keydir.find(key(i - 300)))).toBe(i - 300);
    }
    // 700 keys is under 70% of 1,024, where the doubling must be done: it was done in steps, and the old table is gone.
    expect(keydir.memoryBytes()).toBeLessThan(growing);
    for (let i = 0; i < 700; i++) expect(keydir.offsetOf(keydir.find(key(i)))).toBe(i);
  });

  it('forgets keys removed while the table doubles, whose slots are not reused before it takes over', () => {
    const keydir = new Keydir();
    const key = (i: number) => Buffer.from(`key-${i}`);
    // Past 65% of 1,024 entries and 5 more: the copy is under way, through about a third of the table, so about a
    // third of these keys have copies.
    for (let i = 0; i < 671; i++) keydir.put(key(i), 1, i, 1);
    for (let i = 0; i < 150; i++) keydir.remove(key(i));
    // Enough inserts to finish the copy, too few to reuse every freed slot.
    for (let i = 671; i < 691; i++) keydir.put(key(i), 1, i, 1);
    const wrong: number[] = [];
    for (let i = 0; i < 691; i++) if ((keydir.find(key(i)) >= 0) !== i >= 150) wrong.push(i);
    expect(wrong).toEqual([]);
    expect(keydir.size).toBe(541);
  });
});
