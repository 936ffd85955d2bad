/**
 * An ordered set under a comparator, used for the store's ordered key index.
 *
 * Layout follows Python's sortedcontainers SortedList: a list of short sorted chunks plus the last element
 * of each chunk. Inserting or deleting only shifts one chunk (at most 2*load entries) instead of the whole
 * set, and a lookup is two binary searches.
 */

export interface Bounds<T = string> {
  gt?: T;
  gte?: T;
  lt?: T;
  lte?: T;
}

export type Compare<T> = (a: T, b: T) => number;

/** First index whose element is >= key (arr.length if none). */
function lowerBound<T>(arr: readonly T[], key: T, compare: Compare<T>): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(arr[mid], key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose element is > key (arr.length if none). */
function upperBound<T>(arr: readonly T[], key: T, compare: Compare<T>): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(arr[mid], key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SortedList<T> {
  private readonly load: number;
  private chunks: T[][] = [];
  /** maxes[i] === last element of chunks[i]; lets a seek skip whole chunks. */
  private maxes: T[] = [];
  private count = 0;

  constructor(
    private readonly compare: Compare<T>,
    load = 512,
  ) {
    if (!Number.isInteger(load) || load < 1) throw new RangeError(`load must be a positive integer, got ${load}`);
    this.load = load;
  }

  get size(): number {
    return this.count;
  }

  /** Inserts key; returns false if it was already present. */
  add(key: T): boolean {
    const { chunks, maxes } = this;
    if (chunks.length === 0) {
      chunks.push([key]);
      maxes.push(key);
      this.count = 1;
      return true;
    }
    let ci = lowerBound(maxes, key, this.compare);
    if (ci === chunks.length) {
      // Larger than everything: append to the last chunk, which is the common case for monotonic keys.
      ci--;
      chunks[ci].push(key);
      maxes[ci] = key;
    } else {
      const chunk = chunks[ci];
      const i = lowerBound(chunk, key, this.compare);
      if (i < chunk.length && this.compare(chunk[i], key) === 0) return false;
      chunk.splice(i, 0, key);
    }
    this.count++;
    if (chunks[ci].length > 2 * this.load) this.split(ci);
    return true;
  }

  /** Removes key; returns false if it was absent. */
  delete(key: T): boolean {
    const { chunks, maxes } = this;
    const ci = lowerBound(maxes, key, this.compare);
    if (ci === chunks.length) return false;
    const chunk = chunks[ci];
    const i = lowerBound(chunk, key, this.compare);
    if (i === chunk.length || this.compare(chunk[i], key) !== 0) return false;
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

  has(key: T): boolean {
    const ci = lowerBound(this.maxes, key, this.compare);
    if (ci === this.chunks.length) return false;
    const chunk = this.chunks[ci];
    const i = lowerBound(chunk, key, this.compare);
    return i < chunk.length && this.compare(chunk[i], key) === 0;
  }

  clear(): void {
    this.chunks = [];
    this.maxes = [];
    this.count = 0;
  }

  /** Replaces the contents with `sorted`, which must be strictly ascending: linear, with no comparison. */
  assign(sorted: ArrayLike<T>): void {
    this.clear();
    for (let start = 0; start < sorted.length; start += this.load) {
      const chunk: T[] = [];
      for (let i = start; i < Math.min(start + this.load, sorted.length); i++) chunk.push(sorted[i]);
      this.chunks.push(chunk);
      this.maxes.push(chunk[chunk.length - 1]);
    }
    this.count = sorted.length;
  }

  /**
   * Collects up to `max` keys, in ascending order (or descending if `reverse`), that lie within bounds,
   * starting just after `after` (exclusive; in reverse order "after" means strictly smaller) when `after` is given.
   * Pushes them onto `out` and returns the number pushed.
   *
   * Each call seeks afresh by key rather than resuming a stored position, so paging with `after` = the last
   * key returned neither skips nor repeats keys that stay in the set across mutations between calls.
   */
  collect(out: T[], max: number, bounds: Bounds<T>, reverse: boolean, after?: T): number {
    if (!(max > 0) || this.count === 0) return 0;

    // Fold gt/gte (and lt/lte) into one bound each; `after` is just one more exclusive bound on the start side.
    const compare = this.compare;
    let lo: T | undefined;
    let loExcl = false;
    let hi: T | undefined;
    let hiExcl = false;
    const tightenLo = (k: T | undefined, excl: boolean): void => {
      if (k === undefined) return;
      const order = lo === undefined ? 1 : compare(k, lo);
      if (order > 0) {
        lo = k;
        loExcl = excl;
      } else if (order === 0 && excl) loExcl = true;
    };
    const tightenHi = (k: T | undefined, excl: boolean): void => {
      if (k === undefined) return;
      const order = hi === undefined ? -1 : compare(k, hi);
      if (order < 0) {
        hi = k;
        hiExcl = excl;
      } else if (order === 0 && excl) hiExcl = true;
    };
    tightenLo(bounds.gte, false);
    tightenLo(bounds.gt, true);
    tightenHi(bounds.lte, false);
    tightenHi(bounds.lt, true);
    if (after !== undefined) {
      if (reverse) tightenHi(after, true);
      else tightenLo(after, true);
    }
    if (lo !== undefined && hi !== undefined) {
      const order = compare(lo, hi);
      if (order > 0 || (order === 0 && (loExcl || hiExcl))) return 0;
    }

    const { chunks, maxes } = this;
    let n = 0;
    if (!reverse) {
      let ci = 0;
      let i = 0;
      if (lo !== undefined) {
        ci = loExcl ? upperBound(maxes, lo, this.compare) : lowerBound(maxes, lo, this.compare);
        if (ci === chunks.length) return 0;
        i = loExcl ? upperBound(chunks[ci], lo, this.compare) : lowerBound(chunks[ci], lo, this.compare);
      }
      for (; ci < chunks.length; ci++, i = 0) {
        const chunk = chunks[ci];
        for (; i < chunk.length; i++) {
          const key = chunk[i];
          if (hi !== undefined) {
            const order = compare(key, hi);
            if (order > 0 || (hiExcl && order === 0)) return n;
          }
          out.push(key);
          if (++n >= max) return n;
        }
      }
    } else {
      let ci = chunks.length - 1;
      let i = chunks[ci].length - 1;
      if (hi !== undefined) {
        // First chunk that may hold keys beyond hi; everything before it is entirely within hi.
        const c = hiExcl ? lowerBound(maxes, hi, this.compare) : upperBound(maxes, hi, this.compare);
        if (c < chunks.length) {
          ci = c;
          i = (hiExcl ? lowerBound(chunks[ci], hi, this.compare) : upperBound(chunks[ci], hi, this.compare)) - 1;
        }
      }
      for (;;) {
        const chunk = chunks[ci];
        for (; i >= 0; i--) {
          const key = chunk[i];
          if (lo !== undefined) {
            const order = compare(key, lo);
            if (order < 0 || (loExcl && order === 0)) return n;
          }
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
  *[Symbol.iterator](): IterableIterator<T> {
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

const compareStrings: Compare<string> = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** Binary strings (one char per byte) in byte order: JS string order is byte order for them. */
export class SortedStringSet extends SortedList<string> {
  constructor(load?: number) {
    super(compareStrings, load);
  }
}
