/**
 * A Bloom filter over key bytes, stored in an index file (docs/format.md,
 * "Bloom filter"), so that a lookup of a key a file does not hold reads none
 * of its pages. The bit positions are part of the on-disk format: changing the
 * hashes below makes every stored filter answer wrongly, so they may change
 * only with the index file's version.
 */

/** The most bits a filter may have: bit positions are computed in 32 bits. */
const MAX_BITS = 0x100000000;
const MAX_HASH_COUNT = 30;

/** murmur3's finalizer: spreads every input bit over the whole word. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Two independent 32-bit hashes of `key` from one pass over its bytes (FNV-1a,
 * and a multiply-xorshift with murmur2's constant), each finalized by `mix`.
 * Results go to module slots rather than an array, so a lookup allocates nothing.
 */
let first = 0;
let second = 0;
function hashPair(key: Uint8Array): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const byte = key[i];
    a = Math.imul(a ^ byte, 0x01000193);
    b = Math.imul(b ^ byte, 0x5bd1e995);
    b ^= b >>> 15;
  }
  first = mix(a);
  second = mix(b);
}

/** A key's two filter hashes, taken once and tested against many filters (one per sealed file). */
export class KeyHashes {
  first = 0;
  second = 0;

  of(key: Uint8Array): this {
    hashPair(key);
    this.first = first;
    this.second = second;
    return this;
  }
}

export class BloomFilter {
  private readonly bits: Buffer;
  private readonly bitCount: number;

  private constructor(
    bits: Buffer,
    readonly hashCount: number,
  ) {
    this.bits = bits;
    this.bitCount = bits.length * 8;
  }

  /** An empty filter sized for `count` keys at `bitsPerKey` bits each (at least 64 bits), with the hash count that minimises false positives. */
  static forCount(count: number, bitsPerKey = 10): BloomFilter {
    if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
    if (typeof bitsPerKey !== 'number' || !(bitsPerKey >= 1 && bitsPerKey <= 64)) throw new RangeError(`bitsPerKey must be from 1 to 64, got ${bitsPerKey}`);
    const bytes = Math.max(8, Math.ceil((count * bitsPerKey) / 8));
    if (bytes * 8 > MAX_BITS) throw new RangeError(`a Bloom filter for ${count} keys would pass ${MAX_BITS} bits`);
    const hashCount = Math.min(MAX_HASH_COUNT, Math.max(1, Math.round(bitsPerKey * Math.LN2)));
    return new BloomFilter(Buffer.alloc(bytes), hashCount);
  }

  /** A filter over stored bits (not copied). */
  static fromBytes(bits: Buffer, hashCount: number): BloomFilter {
    if (!Buffer.isBuffer(bits)) throw new TypeError('bits must be a Buffer');
    if (bits.length === 0 || bits.length * 8 > MAX_BITS) throw new RangeError(`a Bloom filter has 1 to ${MAX_BITS / 8} bytes, got ${bits.length}`);
    if (!Number.isInteger(hashCount) || hashCount < 1 || hashCount > MAX_HASH_COUNT) {
      throw new RangeError(`hashCount must be an integer from 1 to ${MAX_HASH_COUNT}, got ${hashCount}`);
    }
    return new BloomFilter(bits, hashCount);
  }

  add(key: Uint8Array): void {
    hashPair(key);
    const bits = this.bits;
    const m = this.bitCount;
    let h = first;
    for (let i = 0; i < this.hashCount; i++) {
      const bit = h % m;
      bits[bit >>> 3] |= 1 << (bit & 7);
      h = (h + second) >>> 0;
    }
  }

  /** False only if `key` was never added; true for every added key and for about 1% of the others (at 10 bits per key). */
  mayContain(key: Uint8Array): boolean {
    hashPair(key);
    return this.mayContainHashes(first, second);
  }

  /** mayContain() for a key whose hashes were taken once (KeyHashes), to test it against many filters. */
  mayContainHashes(firstHash: number, secondHash: number): boolean {
    const bits = this.bits;
    const m = this.bitCount;
    let h = firstHash;
    for (let i = 0; i < this.hashCount; i++) {
      const bit = h % m;
      if ((bits[bit >>> 3] & (1 << (bit & 7))) === 0) return false;
      h = (h + secondHash) >>> 0;
    }
    return true;
  }

  /** The bit array, to store: bit `b` is bit `b % 8` of byte `b / 8`. */
  get bytes(): Buffer {
    return this.bits;
  }
}
