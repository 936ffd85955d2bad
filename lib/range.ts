import { type Bytes, describe, ownedKeyBytes } from './encoding.js';
import type { Snapshot } from './keydir.js';
import type { Bounds } from './sorted-list.js';

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
  bounds: Bounds<Buffer>;
  /** The same bounds as binary strings (one char per byte), for the keys a snapshot tracks. */
  textBounds: Bounds<string>;
  limit: number;
  reverse: boolean;
  signal: AbortSignal | undefined;
}

/** The smallest key greater than every key that starts with `prefix`, or undefined if there is none. */
function prefixEnd(prefix: Buffer): Buffer | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const bound = Buffer.from(prefix.subarray(0, end));
  bound[end - 1]++;
  return bound;
}

function tighterLower(a: Buffer | undefined, b: Buffer | undefined): Buffer | undefined {
  return a === undefined ? b : b === undefined ? a : Buffer.compare(a, b) > 0 ? a : b;
}

function tighterUpper(a: Buffer | undefined, b: Buffer | undefined): Buffer | undefined {
  return a === undefined ? b : b === undefined ? a : Buffer.compare(a, b) < 0 ? a : b;
}

export function resolveRange(options: unknown): ResolvedRange {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError(`range options must be an object, got ${describe(options)}`);
  }
  const given = (options ?? {}) as RangeOptions;
  const bounds: Bounds<Buffer> = {};
  for (const name of ['gt', 'gte', 'lt', 'lte'] as const) {
    if (given[name] !== undefined) bounds[name] = ownedKeyBytes(given[name], name);
  }
  if (given.prefix !== undefined) {
    const prefix = ownedKeyBytes(given.prefix, 'prefix');
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
  const textBounds: Bounds<string> = {};
  for (const name of ['gt', 'gte', 'lt', 'lte'] as const) if (bounds[name]) textBounds[name] = bounds[name].toString('latin1');
  return { bounds, textBounds, limit, reverse: given.reverse === true, signal: given.signal };
}

/** One page of a range: keys and, per key, file id, offset and value length (file id -1: deleted since the snapshot). */
export interface Page {
  keys: Buffer[];
  locations: number[];
}

/**
 * Appends to `page` the next up to `max` keys of a range as seen by
 * `snapshot`, after `after`. Keys changed since the snapshot are merged with
 * the live keys, and the page stops where either list might be missing keys,
 * so that no key is skipped.
 */
export function nextPage(snapshot: Snapshot, range: ResolvedRange, after: Buffer | undefined, max: number, page: Page): void {
  const keydir = snapshot.keydir;
  const slots: number[] = [];
  keydir.collect(slots, max, range.bounds, range.reverse, after);
  if (snapshot.changedOrder.size === 0) {
    for (const slot of slots) {
      page.keys.push(keydir.keyOf(slot));
      page.locations.push(keydir.fileOf(slot), keydir.offsetOf(slot), keydir.valueLengthOf(slot));
    }
    return;
  }
  // Writes happened since the snapshot: merge, as binary strings, with the keys they changed.
  const live = slots.map((slot) => keydir.keyOf(slot).toString('latin1'));
  const changed: string[] = [];
  snapshot.changedOrder.collect(changed, max, range.textBounds, range.reverse, after?.toString('latin1'));
  for (const key of mergeSorted(live, changed, live.length === max, changed.length === max, range.reverse)) {
    const location = snapshot.locationOf(key);
    page.keys.push(Buffer.from(key, 'latin1'));
    if (location === null) page.locations.push(-1, 0, 0);
    else page.locations.push(location.fileId, location.offset, location.valueLength);
  }
}

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
