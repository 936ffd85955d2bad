/**
 * How keys and values given by users become bytes. Keys are compared, hashed
 * and stored as bytes; strings are encoded as UTF-8.
 */
export type Bytes = Uint8Array | string;

/** The key's bytes: the caller's own array when it passed one, else its UTF-8 encoding. */
export function keyBytes(key: unknown, name = 'key'): Uint8Array {
  if (key instanceof Uint8Array) return key;
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  throw new TypeError(`${name} must be a string or a Uint8Array, got ${describe(key)}`);
}

/** A copy of the key's bytes, for keys that must outlive the caller's next change to its array. */
export function ownedKeyBytes(key: unknown, name = 'key'): Buffer {
  if (key instanceof Uint8Array) return Buffer.from(key);
  return keyBytes(key, name) as Buffer;
}

/** Byte length of a value, checking its type. */
export function valueLength(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (value instanceof Uint8Array) return value.byteLength;
  throw new TypeError(`value must be a string or a Uint8Array, got ${describe(value)}`);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an instance of ${(value as object).constructor?.name ?? 'Object'}`;
  return typeof value;
}
