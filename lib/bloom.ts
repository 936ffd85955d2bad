/**
 * A blocked Bloom filter over key bytes, stored in an index file
 * (docs/format.md, "Bloom filter"), so that a lookup of a key a file does not
 * hold reads none of its pages. Each key sets 8 bits inside one 32-byte block
 * (one bit in each of the block's eight 32-bit words), so a probe touches one
 * cache line instead of k scattered ones: with a dozen files probed per
 * lookup, that is most of a miss's cost. The bit positions are part of the
 * on-disk format: changing the hashes below makes every stored filter answer
 * wrongly, so they may change only with the index file's version.
 */

const BLOCK_WORDS = 8;
const BLOCK_BYTES = BLOCK_WORDS * 4;
/** At most 2^24 blocks (512 MiB): block numbers stay exact in the double arithmetic below. */
const MAX_BLOCKS = 0x1000000;
/** The largest filter's size in bits. */
export const BLOOM_MAX_BITS = MAX_BLOCKS * BLOCK_BYTES * 8;
const TWO_32 = 0x100000000;
/** Odd multipliers, one per word of a block: each turns the second hash into that word's bit (its top 5 bits). */
const WORD_SALTS = [0x2f0b3c9d, 0x6a5d39e9, 0x9e3779b1, 0xc2b2ae3d, 0x27d4eb2f, 0x165667b1, 0xd3a2646d, 0xfd7046c5];
/** Every key sets one bit per word of its block. */
export const BLOOM_HASH_COUNT = BLOCK_WORDS;

/** murmur3's finalizer: spreads every input bit over the whole word. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Two independent 32-bit hashes of `length` bytes of `bytes` at `start`
 * (FNV-1a, and a multiply-xorshift with murmur2's constant), each finalized
 * by `mix`, from one pass over the bytes; the unfinished FNV-1a is kept too,
 * for the in-memory keydir's hash (keydir.ts tableHash), so that a disk-mode
 * lookup reads the key once for both. Results go to module slots rather than
 * an array, so a lookup allocates nothing.
 */
let first = 0;
let second = 0;
let fnv = 0;
function hashPair(bytes: Uint8Array, start: number, length: number): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ length;
  for (let i = start; i < start + length; i++) {
    const byte = bytes[i];
    a = Math.imul(a ^ byte, 0x01000193);
    b = Math.imul(b ^ byte, 0x5bd1e995);
    b ^= b >>> 15;
  }
  fnv = a;
  first = mix(a);
  second = mix(b);
}

/** A key's two filter hashes, taken once and tested against many filters (one per sealed file, and the global one). */
export class KeyHashes {
  first = 0;
  second = 0;
  /** FNV-1a of the key before any finalizer (see hashPair). */
  fnv = 0;

  of(key: Uint8Array): this {
    return this.ofBytes(key, 0, key.length);
  }

  /** The hashes of the key stored as `length` bytes of `bytes` at `start`. */
  ofBytes(bytes: Uint8Array, start: number, length: number): this {
    hashPair(bytes, start, length);
    this.first = first;
    this.second = second;
    this.fnv = fnv;
    return this;
  }
}

export class BloomFilter {
  private readonly words: Uint32Array;
  private readonly blockCount: number;
  readonly hashCount = BLOOM_HASH_COUNT;

  private constructor(words: Uint32Array) {
    this.words = words;
    this.blockCount = words.length / BLOCK_WORDS;
  }

  /** An empty filter sized for `count` keys at `bitsPerKey` bits each (at least one 256-bit block). */
  static forCount(count: number, bitsPerKey = 10): BloomFilter {
    if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
    if (typeof bitsPerKey !== 'number' || !(bitsPerKey >= 1 && bitsPerKey <= 64)) throw new RangeError(`bitsPerKey must be from 1 to 64, got ${bitsPerKey}`);
    const blocks = Math.max(1, Math.ceil((count * bitsPerKey) / (BLOCK_BYTES * 8)));
    if (blocks > MAX_BLOCKS) throw new RangeError(`a Bloom filter for ${count} keys would pass ${MAX_BLOCKS} blocks`);
    return new BloomFilter(new Uint32Array(blocks * BLOCK_WORDS));
  }

  /** A filter over stored bytes (copied: words are read little-endian whatever the machine). */
  static fromBytes(bytes: Buffer, hashCount: number): BloomFilter {
    if (!Buffer.isBuffer(bytes)) throw new TypeError('bytes must be a Buffer');
    if (bytes.length === 0 || bytes.length % BLOCK_BYTES !== 0 || bytes.length / BLOCK_BYTES > MAX_BLOCKS) {
      throw new RangeError(`a Bloom filter has 1 to ${MAX_BLOCKS} blocks of ${BLOCK_BYTES} bytes, got ${bytes.length} bytes`);
    }
    if (hashCount !== BLOOM_HASH_COUNT) throw new RangeError(`a blocked Bloom filter sets ${BLOOM_HASH_COUNT} bits per key, not ${hashCount}`);
    const words = new Uint32Array(bytes.length / 4);
    for (let i = 0; i < words.length; i++) words[i] = bytes.readUInt32LE(4 * i);
    return new BloomFilter(words);
  }

  add(key: Uint8Array): void {
    hashPair(key, 0, key.length);
    this.addHashes(first, second);
  }

  /** add() for a key whose hashes were taken already (KeyHashes). */
  addHashes(firstHash: number, secondHash: number): void {
    const base = this.blockOf(firstHash);
    for (let i = 0; i < BLOCK_WORDS; i++) this.words[base + i] |= 1 << (Math.imul(secondHash, WORD_SALTS[i]) >>> 27);
  }

  /** False only if `key` was never added; true for every added key and for about 1% of the others (at 10 bits per key). */
  mayContain(key: Uint8Array): boolean {
    hashPair(key, 0, key.length);
    return this.mayContainHashes(first, second);
  }

  /** mayContain() for a key whose hashes were taken once (KeyHashes), to test it against many filters. */
  mayContainHashes(firstHash: number, secondHash: number): boolean {
    const words = this.words;
    const base = this.blockOf(firstHash);
    for (let i = 0; i < BLOCK_WORDS; i++) {
      if ((words[base + i] & (1 << (Math.imul(secondHash, WORD_SALTS[i]) >>> 27))) === 0) return false;
    }
    return true;
  }

  /**
   * A word of the key's block, read only to bring the block into the CPU's
   * cache: reads that do not depend on one another wait for memory together.
   */
  touch(firstHash: number): number {
    return this.words[this.blockOf(firstHash)];
  }

  /** The first word of the key's block: the first hash scaled to the block count (no modulo bias, no division). */
  private blockOf(firstHash: number): number {
    return Math.floor((firstHash / TWO_32) * this.blockCount) * BLOCK_WORDS;
  }

  /** The filter's bytes, to store: word `w` of block `b` is the u32 (little-endian) at byte 32b + 4w. */
  get bytes(): Buffer {
    const bytes = Buffer.allocUnsafe(this.words.length * 4);
    for (let i = 0; i < this.words.length; i++) bytes.writeUInt32LE(this.words[i], 4 * i);
    return bytes;
  }

  /** Bytes of memory the filter holds. */
  get byteLength(): number {
    return this.words.byteLength;
  }
}
