import { type Bytes, describe, keyToBinary } from './encoding.js';
import type { Location, Snapshot } from './keydir.js';
import type { Bounds } from './sorted-set.js';

export interface RangeOptions {
  gt?: Bytes;
  gte?: Bytes;
  lt?: Bytes;
  lte?: Bytes;
  /** Only keys that start with these bytes; combines with the other bounds. */
  prefix?: Bytes;
  /** At most this many entries. Default: no limit. */
  limit?: number;
  /** Descending key order. Default false. */
  reverse?: boolean;
  signal?: AbortSignal;
}

export interface ResolvedRange {
  bounds: Bounds;
  limit: number;
  reverse: boolean;
  signal: AbortSignal | undefined;
}

/** The smallest binary string greater than every string that starts with `prefix`, or undefined if none is. */
function prefixEnd(prefix: string): string | undefined {
  let end = prefix.length;
  while (end > 0 && prefix.charCodeAt(end - 1) === 0xff) end--;
  if (end === 0) return undefined;
  return prefix.slice(0, end - 1) + String.fromCharCode(prefix.charCodeAt(end - 1) + 1);
}

function tighterLower(a: string | undefined, b: string | undefined): string | undefined {
  return a === undefined ? b : b === undefined ? a : a > b ? a : b;
}

function tighterUpper(a: string | undefined, b: string | undefined): string | undefined {
  return a === undefined ? b : b === undefined ? a : a < b ? a : b;
}

export function resolveRange(options: unknown): ResolvedRange {
  if (options === undefined) return { bounds: {}, limit: Infinity, reverse: false, signal: undefined };
  if (typeof options !== 'object' || options === null) throw new TypeError(`range options must be an object, got ${describe(options)}`);
  const given = options as RangeOptions;
  const bounds: Bounds = {};
  for (const name of ['gt', 'gte', 'lt', 'lte'] as const) {
    if (given[name] !== undefined) bounds[name] = keyToBinary(given[name], name);
  }
  if (given.prefix !== undefined) {
    const prefix = keyToBinary(given.prefix, 'prefix');
    bounds.gte = tighterLower(bounds.gte, prefix);
    bounds.lt = tighterUpper(bounds.lt, prefixEnd(prefix));
  }
  let limit = Infinity;
  if (given.limit !== undefined && given.limit !== Infinity && given.limit !== -1) {
    if (!Number.isInteger(given.limit) || given.limit < 0) throw new TypeError(`limit must be a non-negative integer, got ${String(given.limit)}`);
    limit = given.limit;
  }
  if (given.reverse !== undefined && typeof given.reverse !== 'boolean') throw new TypeError('reverse must be a boolean');
  if (given.signal !== undefined && !(given.signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  return { bounds, limit, reverse: given.reverse === true, signal: given.signal };
}

/**
 * The next up to `max` keys of a range as seen by `snapshot`, after `after`,
 * with their locations. The live keys and the keys changed since the
 * snapshot are merged, and the page stops where either list might be missing
 * keys, so that no key is skipped.
 */
export function nextPage(
  snapshot: Snapshot,
  range: ResolvedRange,
  after: string | undefined,
  max: number,
  keys: string[],
  locations: Location[],
): void {
  const live: string[] = [];
  snapshot.keydir.order.collect(live, max, range.bounds, range.reverse, after);
  let candidates = live;
  if (snapshot.changedOrder.size > 0) {
    const changed: string[] = [];
    snapshot.changedOrder.collect(changed, max, range.bounds, range.reverse, after);
    candidates = mergeSorted(live, changed, live.length === max, changed.length === max, range.reverse);
  }
  for (const key of candidates) {
    // A key deleted since the snapshot still counts as progress, so that paging moves past it.
    keys.push(key);
    locations.push(snapshot.locationOf(key) ?? DELETED);
  }
}

/** Marks a key that the snapshot does not contain; callers skip it but page past it. */
export const DELETED: Location = Object.freeze({ fileId: -1, offset: -1, valueLength: -1 });

function mergeSorted(a: string[], b: string[], aFull: boolean, bFull: boolean, reverse: boolean): string[] {
  const before = (x: string, y: string) => (reverse ? x > y : x < y);
  // A full list may continue past its last key: nothing beyond that is known to be complete.
  let stop: string | undefined;
  if (aFull) stop = a[a.length - 1];
  if (bFull && (stop === undefined || before(b[b.length - 1], stop))) stop = b[b.length - 1];
  const merged: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let next: string;
    if (j >= b.length || (i < a.length && before(a[i], b[j]))) next = a[i++];
    else if (i >= a.length || before(b[j], a[i])) next = b[j++];
    else {
      next = a[i++];
      j++;
    }
    if (stop !== undefined && before(stop, next)) break;
    merged.push(next);
  }
  return merged;
}
