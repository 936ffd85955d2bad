import type { Store } from '../lib/index.js';

/** The `i`th key: 16 bytes from a 64-bit mix of i, so every phase and mode sees the same keys without storing them. */
export function keyAt(i: number, into = Buffer.allocUnsafe(16)): Buffer {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  let l = Math.imul((i / 0x100000000) ^ 0xc2b2ae35, 0x27d4eb2f) >>> 0;
  for (let word = 0; word < 4; word++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    l = Math.imul(l ^ (l >>> 13) ^ h, 0x297a2d39) >>> 0;
    into.writeUInt32LE((h ^ l) >>> 0, word * 4);
    h = (h + 0x6d2b79f5 + word) >>> 0;
  }
  return into;
}

/** Writes keys 0 to count - 1, each with `value`, 10,000 writes in flight at a time. */
export async function setDerivedKeys(db: Store, count: number, value: Buffer): Promise<void> {
  for (let i = 0; i < count; i += 10_000) {
    const writes: Promise<void>[] = [];
    for (let j = i; j < Math.min(count, i + 10_000); j++) writes.push(db.set(keyAt(j), value));
    await Promise.all(writes);
  }
}

/**
 * `length` keys of a store holding keys 0 to count - 1, in access order (a
 * stride of 7919 spreads them over the store) and copied beforehand, so that
 * fetching a key in a timed loop costs the store nothing.
 */
export const presentKeys = (count: number, length: number): Buffer[] => Array.from({ length }, (_, i) => keyAt((i * 7919) % count));

/** `length` keys that a store holding keys 0 to count - 1 does not have. */
export const absentKeys = (count: number, length: number): Buffer[] => Array.from({ length }, (_, i) => keyAt(count + i));
