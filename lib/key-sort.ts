/**
 * Sorts items by keys kept in a byte arena (a u16 length, then the bytes),
 * in byte order, a key that is a prefix of another first: the order of
 * Keydir's compareSlots.
 *
 * Comparing two keys in the arena reads two random places of it; sorting
 * millions of keys that way (or inserting them one by one into a sorted list)
 * costs cache misses per comparison, which made open() slow and superlinear.
 * Here each item gets a record holding the next 7 bytes of its key inline,
 * and the records are radix-sorted in place a byte at a time, each pass
 * scanning a range in order; only items whose 7 bytes tie are read again
 * from the arena, 7 bytes further on. Random keys mostly differ in their
 * first 3 bytes; keys sharing a long prefix cost one more pass over the arena
 * per 7 bytes of it.
 *
 * A record is 3 words: bytes d..d+3 (big-endian), bytes d+4..d+6 and the
 * count of key bytes left from d capped at 8 (so that an ended key sorts
 * before one going on with zero bytes; 8 means "more after these 7"), and
 * the item. Compared as (word 0, word 1), unsigned.
 */
const BYTES_PER_PASS = 7;
const MORE = 8;
const WORDS = 3;
/** Ranges up to this many records are insertion-sorted. */
const SMALL = 16;

/** Records a sort step handles between two yields of sortSteps: a few milliseconds of work. */
const STEP_RECORDS = 1 << 16;

/** Sorts `items` in place by the key each has at arena position `keyAt(item)`. */
export function sortByKey(arena: Uint8Array, items: Uint32Array, keyAt: (item: number) => number): void {
  for (const _ of sortSteps(arena, items, keyAt));
}

/** sortByKey() for background work: awaits `pause` every few milliseconds of sorting, so that a million keys do not hold the event loop. */
export async function sortByKeySliced(arena: Uint8Array, items: Uint32Array, keyAt: (item: number) => number, pause: () => Promise<void>): Promise<void> {
  for (const _ of sortSteps(arena, items, keyAt)) await pause();
}

/** The sort, yielding after every STEP_RECORDS records or so of work. */
function* sortSteps(arena: Uint8Array, items: Uint32Array, keyAt: (item: number) => number): Generator<void> {
  const records = new Uint32Array(items.length * WORDS);
  for (let i = 0; i < items.length; i++) records[i * WORDS + 2] = items[i];
  // Ranges still to sort, each with the depth its records were filled at: an explicit stack, as keys may share 64 KiB.
  const pending: number[] = [0, items.length, 0];
  fill(records, 0, items.length, arena, keyAt, 0);
  yield;
  // Records handled since the last yield: ranges of keys that tie on 7 bytes are many and small, one yield each would cost more than their sort.
  let work = 0;
  while (pending.length > 0) {
    const depth = pending.pop()!;
    const end = pending.pop()!;
    const start = pending.pop()!;
    if (end - start <= SMALL) insertionSort(records, start, end);
    else yield* radixSort(records, start, end);
    for (let run = start; run < end; ) {
      let next = run + 1;
      while (next < end && sameRecord(records, run, next)) next++;
      if (next - run > 1 && (records[run * WORDS + 1] & 0xff) === MORE) {
        fill(records, run, next, arena, keyAt, depth + BYTES_PER_PASS);
        pending.push(run, next, depth + BYTES_PER_PASS);
      }
      run = next;
    }
    work += end - start;
    if (work >= STEP_RECORDS) {
      work = 0;
      yield;
    }
  }
  for (let i = 0; i < items.length; i++) items[i] = records[i * WORDS + 2];
}

function fill(records: Uint32Array, start: number, end: number, arena: Uint8Array, keyAt: (item: number) => number, depth: number): void {
  for (let r = start * WORDS; r < end * WORDS; r += WORDS) {
    const at = keyAt(records[r + 2]);
    const left = (arena[at] | (arena[at + 1] << 8)) - depth;
    const from = at + 2 + depth;
    records[r] = ((byteOf(arena, from, left, 0) << 24) | (byteOf(arena, from, left, 1) << 16) | (byteOf(arena, from, left, 2) << 8) | byteOf(arena, from, left, 3)) >>> 0;
    records[r + 1] = ((byteOf(arena, from, left, 4) << 24) | (byteOf(arena, from, left, 5) << 16) | (byteOf(arena, from, left, 6) << 8) | Math.min(left, MORE)) >>> 0;
  }
}

/** Byte `j` of a key whose bytes from here on start at `from` and number `left`; 0 past its end. */
function byteOf(arena: Uint8Array, from: number, left: number, j: number): number {
  return j < left ? arena[from + j] : 0;
}

function sameRecord(records: Uint32Array, a: number, b: number): boolean {
  return records[a * WORDS] === records[b * WORDS] && records[a * WORDS + 1] === records[b * WORDS + 1];
}

/** Negative, zero or positive as record `a` sorts before, with or after the pivot (high, low). */
function compareTo(records: Uint32Array, a: number, high: number, low: number): number {
  const h = records[a * WORDS];
  if (h !== high) return h < high ? -1 : 1;
  const l = records[a * WORDS + 1];
  return l === low ? 0 : l < low ? -1 : 1;
}

function swap(records: Uint32Array, a: number, b: number): void {
  for (let w = 0; w < WORDS; w++) {
    const t = records[a * WORDS + w];
    records[a * WORDS + w] = records[b * WORDS + w];
    records[b * WORDS + w] = t;
  }
}

/** Bytes of a record that order it: 7 key bytes and the count of bytes left. */
const DIGITS = 8;

/** Byte `digit` (0: most significant) of the record's words 0 and 1. */
function digitOf(records: Uint32Array, r: number, digit: number): number {
  return (records[r * WORDS + (digit >>> 2)] >>> (24 - 8 * (digit & 3))) & 0xff;
}

/**
 * MSD radix sort in place (American flag sort), a byte at a time: each pass
 * scans its range in order, and a byte all records share costs one count.
 * Yields after each STEP_RECORDS records or so of work (sortSteps).
 */
function* radixSort(records: Uint32Array, start: number, end: number): Generator<void> {
  let work = 0;
  const counts = new Uint32Array(256);
  const next = new Uint32Array(256);
  const ends = new Uint32Array(256);
  const stack: number[] = [start, end, 0];
  while (stack.length > 0) {
    const digit = stack.pop()!;
    const hi = stack.pop()!;
    const lo = stack.pop()!;
    if (work >= STEP_RECORDS) {
      work = 0;
      yield;
    }
    if (hi - lo <= SMALL) {
      insertionSort(records, lo, hi);
      continue;
    }
    if (digit === DIGITS) continue;
    work += hi - lo;
    counts.fill(0);
    for (let r = lo; r < hi; r++) counts[digitOf(records, r, digit)]++;
    if (counts[digitOf(records, lo, digit)] === hi - lo) {
      stack.push(lo, hi, digit + 1);
      continue;
    }
    for (let b = 0, at = lo; b < 256; b++) {
      next[b] = at;
      at += counts[b];
      ends[b] = at;
    }
    for (let b = 0; b < 256; b++) {
      while (next[b] < ends[b]) {
        const d = digitOf(records, next[b], digit);
        if (d === b) next[b]++;
        else swap(records, next[b], next[d]++);
      }
    }
    for (let b = 0, at = lo; b < 256; b++) {
      if (counts[b] > 1) stack.push(at, at + counts[b], digit + 1);
      at += counts[b];
    }
  }
}

function insertionSort(records: Uint32Array, start: number, end: number): void {
  for (let i = start + 1; i < end; i++) {
    for (let j = i; j > start && compareTo(records, j, records[(j - 1) * WORDS], records[(j - 1) * WORDS + 1]) < 0; j--) swap(records, j, j - 1);
  }
}
