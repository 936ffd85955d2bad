import { describe, it, expect } from 'vitest';
import { SortedStringSet, type Bounds } from '../lib/sorted-list.js';
import { rng as mulberry32 } from './support/random.js';

// A tiny alphabet with the byte extremes makes collisions, prefixes and the empty key frequent.
const ALPHABET = ['\x00', '\x01', 'a', 'b', '\x7f', '\x80', '\xff'];

function randomKey(rand: () => number): string {
  const len = Math.floor(rand() * 4);
  let s = '';
  for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

/** Reference model: a plain sorted array. */
class RefSet {
  keys: string[] = [];
  private index(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  add(key: string): boolean {
    const i = this.index(key);
    if (this.keys[i] === key) return false;
    this.keys.splice(i, 0, key);
    return true;
  }
  delete(key: string): boolean {
    const i = this.index(key);
    if (this.keys[i] !== key) return false;
    this.keys.splice(i, 1);
    return true;
  }
  has(key: string): boolean {
    return this.keys[this.index(key)] === key;
  }
}

/** Applies one insert or delete to the set under test and to the reference alike. */
function mutate(s: SortedStringSet, ref: RefSet, key: string, add: boolean): void {
  if (add) {
    s.add(key);
    ref.add(key);
  } else {
    s.delete(key);
    ref.delete(key);
  }
}

function inBounds(key: string, b: Bounds): boolean {
  if (b.gt !== undefined && !(key > b.gt)) return false;
  if (b.gte !== undefined && !(key >= b.gte)) return false;
  if (b.lt !== undefined && !(key < b.lt)) return false;
  if (b.lte !== undefined && !(key <= b.lte)) return false;
  return true;
}

function isBeyondAfter(key: string, after: string | undefined, reverse: boolean): boolean {
  return after === undefined || (reverse ? key < after : key > after);
}

function expectedCollect(ref: RefSet, max: number, b: Bounds, reverse: boolean, after?: string): string[] {
  const all = ref.keys.filter((k) => inBounds(k, b) && isBeyondAfter(k, after, reverse));
  if (reverse) all.reverse();
  return all.slice(0, Math.max(0, max));
}

function randomBounds(rand: () => number): Bounds {
  // Each of the 16 presence combinations of gt/gte/lt/lte is equally likely.
  const mask = Math.floor(rand() * 16);
  const b: Bounds = {};
  if (mask & 1) b.gt = randomKey(rand);
  if (mask & 2) b.gte = randomKey(rand);
  if (mask & 4) b.lt = randomKey(rand);
  if (mask & 8) b.lte = randomKey(rand);
  return b;
}

/** Checks the chunk layout the class promises: sorted, no empty chunks, maxes in sync, chunks bounded. */
function expectWellFormed(set: SortedStringSet, load: number): void {
  const { chunks, maxes } = set as unknown as { chunks: string[][]; maxes: string[] };
  expect(maxes.length).toBe(chunks.length);
  let total = 0;
  let prev: string | undefined;
  for (let c = 0; c < chunks.length; c++) {
    const chunk = chunks[c];
    expect(chunk.length).toBeGreaterThan(0);
    expect(chunk.length).toBeLessThanOrEqual(2 * load);
    expect(maxes[c]).toBe(chunk[chunk.length - 1]);
    for (const k of chunk) {
      if (prev !== undefined) expect(k > prev).toBe(true);
      prev = k;
    }
    total += chunk.length;
  }
  expect(total).toBe(set.size);
}

function chunkCount(set: SortedStringSet): number {
  return (set as unknown as { chunks: string[][] }).chunks.length;
}

describe('SortedStringSet', () => {
  it('starts empty and reports nothing', () => {
    const s = new SortedStringSet();
    expect(s.size).toBe(0);
    expect(s.has('')).toBe(false);
    expect(s.delete('a')).toBe(false);
    expect([...s]).toEqual([]);
    const out: string[] = [];
    expect(s.collect(out, 10, {}, false)).toBe(0);
    expect(s.collect(out, 10, {}, true)).toBe(0);
    expect(out).toEqual([]);
  });

  it('rejects a load that is not a positive integer', () => {
    expect(() => new SortedStringSet(0)).toThrow(RangeError);
    expect(() => new SortedStringSet(1.5)).toThrow(RangeError);
  });

  it('treats the empty string as an ordinary key that sorts first', () => {
    const s = new SortedStringSet(2);
    for (const k of ['b', '\xff', '', '\x00', 'a']) expect(s.add(k)).toBe(true);
    expect(s.add('')).toBe(false);
    expect(s.has('')).toBe(true);
    expect([...s]).toEqual(['', '\x00', 'a', 'b', '\xff']);
    const out: string[] = [];
    expect(s.collect(out, 2, { gte: '' }, false)).toBe(2);
    expect(out).toEqual(['', '\x00']);
    out.length = 0;
    s.collect(out, 10, { lte: '' }, true);
    expect(out).toEqual(['']);
    out.length = 0;
    s.collect(out, 10, {}, true, '\x00');
    expect(out).toEqual(['']);
    expect(s.delete('')).toBe(true);
    expect(s.has('')).toBe(false);
    expect(s.size).toBe(4);
  });

  it('orders keys by byte value including 0x00 and 0xff', () => {
    const s = new SortedStringSet(4);
    const keys = ['\xff', '\xff\x00', '\x00', '\x00\xff', 'a', 'a\x00', '\x80', '\x7f\xff'];
    for (const k of keys) s.add(k);
    expect([...s]).toEqual(['\x00', '\x00\xff', 'a', 'a\x00', '\x7f\xff', '\x80', '\xff', '\xff\x00']);
  });

  it('applies the tighter bound when both gt and gte or lt and lte are given', () => {
    const s = new SortedStringSet(2);
    for (const k of ['a', 'b', 'c', 'd', 'e']) s.add(k);
    const get = (b: Bounds, reverse = false): string[] => {
      const out: string[] = [];
      s.collect(out, 100, b, reverse);
      return out;
    };
    expect(get({ gt: 'b', gte: 'b' })).toEqual(['c', 'd', 'e']);
    expect(get({ gt: 'a', gte: 'c' })).toEqual(['c', 'd', 'e']);
    expect(get({ gt: 'c', gte: 'a' })).toEqual(['d', 'e']);
    expect(get({ lt: 'd', lte: 'd' }, true)).toEqual(['c', 'b', 'a']);
    expect(get({ lt: 'e', lte: 'c' }, true)).toEqual(['c', 'b', 'a']);
    expect(get({ gte: 'c', lte: 'c' })).toEqual(['c']);
    expect(get({ gt: 'c', lte: 'c' })).toEqual([]);
    expect(get({ gte: 'd', lte: 'b' })).toEqual([]);
  });

  it('appends to out without clearing it and returns only the number pushed', () => {
    const s = new SortedStringSet();
    for (const k of ['x', 'y', 'z']) s.add(k);
    const out = ['keep'];
    expect(s.collect(out, 2, {}, false)).toBe(2);
    expect(out).toEqual(['keep', 'x', 'y']);
    expect(s.collect(out, 0, {}, false)).toBe(0);
    expect(out).toEqual(['keep', 'x', 'y']);
  });

  it('splits chunks as they grow and removes them as they empty', () => {
    const load = 4;
    const s = new SortedStringSet(load);
    for (let i = 0; i < 200; i++) s.add(String.fromCharCode(i));
    expect(chunkCount(s)).toBeGreaterThan(200 / (2 * load));
    expectWellFormed(s, load);
    for (let i = 0; i < 200; i++) {
      expect(s.delete(String.fromCharCode(i))).toBe(true);
      expectWellFormed(s, load);
    }
    expect(chunkCount(s)).toBe(0);
    expect(s.size).toBe(0);
  });

  it('takes a sorted array whole in chunks of its load, and then adds and deletes as if built one key at a time', () => {
    const s = new SortedStringSet(4);
    s.add('zz');
    const keys = Array.from({ length: 23 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    s.assign(keys);
    expect(s.size).toBe(23);
    expect([...s]).toEqual(keys);
    expect(chunkCount(s)).toBe(6);
    expectWellFormed(s, 4);
    expect(s.has('zz')).toBe(false);
    expect(s.add('k05a')).toBe(true);
    expect(s.add('k05')).toBe(false);
    expect(s.delete('k22')).toBe(true);
    const out: string[] = [];
    s.collect(out, 3, { gt: 'k04' }, false);
    expect(out).toEqual(['k05', 'k05a', 'k06']);
    expectWellFormed(s, 4);
    s.assign([]);
    expect(s.size).toBe(0);
    expect([...s]).toEqual([]);
  });

  it('forgets everything on clear and is reusable afterwards', () => {
    const s = new SortedStringSet(4);
    for (let i = 0; i < 50; i++) s.add(String.fromCharCode(i));
    s.clear();
    expect(s.size).toBe(0);
    expect([...s]).toEqual([]);
    expect(s.add('q')).toBe(true);
    expect([...s]).toEqual(['q']);
  });

  for (const load of [1, 4, 16]) {
    describe(`with load ${load}`, () => {
      it('agrees with a sorted array on add, delete, has and size over random operations', () => {
        const rand = mulberry32(1000 + load);
        const s = new SortedStringSet(load);
        const ref = new RefSet();
        for (let step = 0; step < 20000; step++) {
          const key = randomKey(rand);
          const r = rand();
          // Drift between insert-heavy and delete-heavy phases so the set grows, shrinks and empties.
          const addBias = Math.floor(step / 2500) % 2 === 0 ? 0.7 : 0.3;
          if (r < addBias) expect(s.add(key)).toBe(ref.add(key));
          else if (r < 0.9) expect(s.delete(key)).toBe(ref.delete(key));
          else expect(s.has(key)).toBe(ref.has(key));
          expect(s.size).toBe(ref.keys.length);
          if (step % 500 === 0) {
            expectWellFormed(s, load);
            expect([...s]).toEqual(ref.keys);
          }
        }
        expectWellFormed(s, load);
        expect([...s]).toEqual(ref.keys);
      });

      it('collects exactly what a filtered sorted array gives for random bounds, max, direction and after', () => {
        const rand = mulberry32(2000 + load);
        const s = new SortedStringSet(load);
        const ref = new RefSet();
        for (let step = 0; step < 5000; step++) {
          mutate(s, ref, randomKey(rand), rand() < 0.6);
          const bounds = randomBounds(rand);
          const reverse = rand() < 0.5;
          const max = rand() < 0.1 ? 0 : Math.floor(rand() * 20) + 1;
          const after = rand() < 0.5 ? randomKey(rand) : undefined;
          const out: string[] = [];
          const n = s.collect(out, max, bounds, reverse, after);
          expect(out).toEqual(expectedCollect(ref, max, bounds, reverse, after));
          expect(n).toBe(out.length);
        }
      });

      it('pages through a range while keys are inserted and deleted between pages without skipping or repeating any key that stayed', () => {
        const rand = mulberry32(3000 + load);
        for (let round = 0; round < 300; round++) {
          const s = new SortedStringSet(load);
          const ref = new RefSet();
          const initial = Math.floor(rand() * 150);
          for (let i = 0; i < initial; i++) mutate(s, ref, randomKey(rand), true);
          const bounds = randomBounds(rand);
          const reverse = rand() < 0.5;
          const pageSize = Math.floor(rand() * 7) + 1;

          // Keys present at the start and never deleted must each be returned exactly once.
          const survivors = new Set(ref.keys.filter((k) => inBounds(k, bounds)));
          const seen = new Set<string>();
          let after: string | undefined;
          for (let page = 0; page < 1000; page++) {
            const out: string[] = [];
            const n = s.collect(out, pageSize, bounds, reverse, after);
            expect(n).toBe(out.length);
            expect(n).toBeLessThanOrEqual(pageSize);
            for (let i = 0; i < out.length; i++) {
              const k = out[i];
              expect(inBounds(k, bounds)).toBe(true);
              expect(isBeyondAfter(k, after, reverse)).toBe(true);
              if (i > 0) expect(reverse ? k < out[i - 1] : k > out[i - 1]).toBe(true);
              expect(s.has(k)).toBe(true);
              expect(seen.has(k)).toBe(false);
              seen.add(k);
            }
            if (n > 0) {
              // Nothing currently in range between `after` and the page's last key may be missing from the page.
              const last = out[n - 1];
              const between = ref.keys.filter(
                (k) => inBounds(k, bounds) && isBeyondAfter(k, after, reverse) && (reverse ? k >= last : k <= last),
              );
              if (reverse) between.reverse();
              expect(out).toEqual(between);
            }
            if (n < pageSize) {
              // A short page means the range is exhausted.
              expect(out).toEqual(expectedCollect(ref, Infinity, bounds, reverse, after));
              break;
            }
            after = out[n - 1];

            const mutations = Math.floor(rand() * 6);
            for (let m = 0; m < mutations; m++) {
              const k = randomKey(rand);
              const add = rand() < 0.5;
              mutate(s, ref, k, add);
              if (!add) survivors.delete(k);
            }
          }
          for (const k of survivors) expect(seen.has(k)).toBe(true);
        }
      });
    });
  }
});
