/**
 * Key order (Buffer.compare's: bytewise, a prefix before the longer key)
 * computed in JavaScript: Buffer.compare is a call into C++ that costs more
 * than comparing two short keys, and lookups and range merges compare keys
 * many times per answer.
 */

/** Order of `key` against `length` bytes of `buffer` at `start`, without a view per call. */
export function compareKey(key: Uint8Array, buffer: Uint8Array, start: number, length: number): number {
  const common = key.length < length ? key.length : length;
  for (let i = 0; i < common; i++) {
    const difference = key[i] - buffer[start + i];
    if (difference !== 0) return difference;
  }
  return key.length - length;
}

/** Order of two keys: negative, zero or positive as Buffer.compare(a, b). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return compareKey(a, b, 0, b.length);
}

/**
 * The first 4 bytes of a key as a big-endian u32, zeros after a shorter key:
 * if one key's prefix is below another's, the key sorts before it too.
 */
export function prefixOf(bytes: Uint8Array, start: number, length: number): number {
  return (
    (((length > 0 ? bytes[start] : 0) << 24) | ((length > 1 ? bytes[start + 1] : 0) << 16) | ((length > 2 ? bytes[start + 2] : 0) << 8) | (length > 3 ? bytes[start + 3] : 0)) >>>
    0
  );
}
