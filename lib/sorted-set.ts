/**
 * Ordered set of binary strings (every char code 0..255), used as the store's ordered key index.
 *
 * Layout follows Python's sortedcontainers SortedList: a list of short sorted chunks plus the last key
 * of each chunk. Inserting or deleting only shifts one chunk (at most 2*load entries) instead of the whole
 * key space, and a lookup is two binary searches. Because keys are latin1 renderings of bytes, plain JS
 * string comparison is byte order, so no comparator callback is needed on the hot path.
 */

export interface Bounds {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
}

/** First index whose element is >= key (arr.length if none). */
function lowerBound(arr: readonly string[], key: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose element is > key (arr.length if none). */
function upperBound(arr: readonly string[], key: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SortedStringSet {
  private readonly load: number;
  private chunks: string[][] = [];
  /** maxes[i] === last key of chunks[i]; lets a seek skip whole chunks. */
  private maxes: string[] = [];
  private count = 0;

  constructor(load = 512) {
    if (!Number.isInteger(load) || load < 1) throw new RangeError(`load must be a positive integer, got ${load}`);
    this.load = load;
  }

  get size(): number {
    return this.count;
  }

  /** Inserts key; returns false if it was already present. */
  add(key: string): boolean {
    const { chunks, maxes } = this;
    if (chunks.length === 0) {
      chunks.push([key]);
      maxes.push(key);
      this.count = 1;
      return true;
    }
    let ci = lowerBound(maxes, key);
    if (ci === chunks.length) {
      // Larger than everything: append to the last chunk, which is the common case for monotonic keys.
      ci--;
      chunks[ci].push(key);
      maxes[ci] = key;
    } else {
      const chunk = chunks[ci];
      const i = lowerBound(chunk, key);
      if (chunk[i] === key) return false;
      chunk.splice(i, 0, key);
    }
    this.count++;
    if (chunks[ci].length > 2 * this.load) this.split(ci);
    return true;
  }

  /** Removes key; returns false if it was absent. */
  delete(key: string): boolean {
    const { chunks, maxes } = this;
    const ci = lowerBound(maxes, key);
    if (ci === chunks.length) return false;
    const chunk = chunks[ci];
    const i = lowerBound(chunk, key);
    if (chunk[i] !== key) return false;
    chunk.splice(i, 1);
    this.count--;
    if (chunk.length === 0) {
      chunks.splice(ci, 1);
      maxes.splice(ci, 1);
    } else {
      if (i === chunk.length) maxes[ci] = chunk[i - 1];
      // Without merging, delete-heavy workloads could leave many tiny chunks and make maxes as long as the set.
      if (chunk.length < this.load >> 1 && chunks.length > 1) this.merge(ci === chunks.length - 1 ? ci - 1 : ci);
    }
    return true;
  }

  has(key: string): boolean {
    const ci = lowerBound(this.maxes, key);
    if (ci === this.chunks.length) return false;
    const chunk = this.chunks[ci];
    return chunk[lowerBound(chunk, key)] === key;
  }

  clear(): void {
    this.chunks = [];
    this.maxes = [];
    this.count = 0;
  }

  /**
   * Collects up to `max` keys, in ascending order (or descending if `reverse`), that lie within bounds,
   * starting just after `after` (exclusive; in reverse order "after" means strictly smaller) when `after` is given.
   * Pushes them onto `out` and returns the number pushed.
   *
   * Each call seeks afresh by key rather than resuming a stored position, so paging with `after` = the last
   * key returned neither skips nor repeats keys that stay in the set across mutations between calls.
   */
  collect(out: string[], max: number, bounds: Bounds, reverse: boolean, after?: string): number {
    if (!(max > 0) || this.count === 0) return 0;

    // Fold gt/gte (and lt/lte) into one bound each; `after` is just one more exclusive bound on the start side.
    let lo: string | undefined;
    let loExcl = false;
    let hi: string | undefined;
    let hiExcl = false;
    const tightenLo = (k: string | undefined, excl: boolean): void => {
      if (k === undefined) return;
      if (lo === undefined || k > lo) {
        lo = k;
        loExcl = excl;
      } else if (k === lo && excl) loExcl = true;
    };
    const tightenHi = (k: string | undefined, excl: boolean): void => {
      if (k === undefined) return;
      if (hi === undefined || k < hi) {
        hi = k;
        hiExcl = excl;
      } else if (k === hi && excl) hiExcl = true;
    };
    tightenLo(bounds.gte, false);
    tightenLo(bounds.gt, true);
    tightenHi(bounds.lte, false);
    tightenHi(bounds.lt, true);
    if (after !== undefined) {
      if (reverse) tightenHi(after, true);
      else tightenLo(after, true);
    }
    if (lo !== undefined && hi !== undefined && (lo > hi || (lo === hi && (loExcl || hiExcl)))) return 0;

    const { chunks, maxes } = this;
    let n = 0;
    if (!reverse) {
      let ci = 0;
      let i = 0;
      if (lo !== undefined) {
        ci = loExcl ? upperBound(maxes, lo) : lowerBound(maxes, lo);
        if (ci === chunks.length) return 0;
        i = loExcl ? upperBound(chunks[ci], lo) : lowerBound(chunks[ci], lo);
      }
      for (; ci < chunks.length; ci++, i = 0) {
        const chunk = chunks[ci];
        for (; i < chunk.length; i++) {
          const key = chunk[i];
          if (hi !== undefined && (key > hi || (hiExcl && key === hi))) return n;
          out.push(key);
          if (++n >= max) return n;
        }
      }
    } else {
      let ci = chunks.length - 1;
      let i = chunks[ci].length - 1;
      if (hi !== undefined) {
        // First chunk that may hold keys beyond hi; everything before it is entirely within hi.
        const c = hiExcl ? lowerBound(maxes, hi) : upperBound(maxes, hi);
        if (c < chunks.length) {
          ci = c;
          i = (hiExcl ? lowerBound(chunks[ci], hi) : upperBound(chunks[ci], hi)) - 1;
        }
      }
      for (;;) {
        const chunk = chunks[ci];
        for (; i >= 0; i--) {
          const key = chunk[i];
          if (lo !== undefined && (key < lo || (loExcl && key === lo))) return n;
          out.push(key);
          if (++n >= max) return n;
        }
        if (--ci < 0) break;
        i = chunks[ci].length - 1;
      }
    }
    return n;
  }

  /** Ascending iterator over all keys (for tests/debug; may be invalidated by mutation). */
  *[Symbol.iterator](): IterableIterator<string> {
    for (const chunk of this.chunks) yield* chunk;
  }

  private split(ci: number): void {
    const left = this.chunks[ci];
    const right = left.splice(left.length >> 1);
    this.chunks.splice(ci + 1, 0, right);
    this.maxes.splice(ci, 1, left[left.length - 1], right[right.length - 1]);
  }

  /** Merges chunks[ci] with chunks[ci + 1], re-splitting if the result is oversized. */
  private merge(ci: number): void {
    const merged = this.chunks[ci].concat(this.chunks[ci + 1]);
    this.chunks.splice(ci, 2, merged);
    this.maxes.splice(ci, 2, merged[merged.length - 1]);
    if (merged.length > 2 * this.load) this.split(ci);
  }
}
