/**
 * Keys travel inside the store as binary strings: one char per byte (latin1).
 * JS compares such strings in byte order and hashes them natively, so one
 * string serves as map key, sort key and the bytes written to disk. An ASCII
 * string already is its own binary string, which makes string keys free.
 */
export type Bytes = Uint8Array | string;

export function keyToBinary(key: unknown, name = 'key'): string {
  if (typeof key === 'string') {
    return Buffer.byteLength(key, 'utf8') === key.length ? key : Buffer.from(key, 'utf8').toString('latin1');
  }
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
  throw new TypeError(`${name} must be a string or a Uint8Array, got ${describe(key)}`);
}

export function binaryToBuffer(key: string): Buffer {
  return Buffer.from(key, 'latin1');
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
