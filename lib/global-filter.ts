import { crc32 } from 'node:zlib';
import { BLOOM_HASH_COUNT, BLOOM_MAX_BITS, BloomFilter } from './bloom.js';
import { corruption } from './errors.js';

/**
 * With index: 'disk', one Bloom filter over the keys of every sealed file, so
 * that a miss costs one filter probe instead of one per sealed file. It only
 * ever takes keys in: a merge that drops keys leaves it over-approximate
 * (a little slower, never wrong). It is rebuilt, in the background, when it
 * has taken in more keys than it was sized for (its false-positive rate would
 * climb past about 3%), or when it is sized for more than five times the keys
 * the index files hold (it would waste memory). Which files it covers is
 * tracked per IndexFile (IndexFile.coveredBy), never assumed.
 *
 * Saved at a clean close in FILTER (docs/format.md, "Global filter"), read
 * back and removed at open; missing, damaged or of another version, it is
 * built again from the index files. Layout:
 *
 *   header (32 B): "KVCF" u32 | version u16 | 0 u16 | file count u32 | bits length u32 | capacity f64 | keys added f64
 *   per covered file (12 B): id u32 | data length u32 | entry count u32
 *   bits: the blocked Bloom filter's words (bloom.ts), bits length bytes
 *   trailer: crc32 u32 of every byte before it
 */
export const FILTER_FILE = 'FILTER';
const MAGIC = 0x4643564b; // "KVCF"
const VERSION = 1;
const HEADER = 32;
const PER_FILE = 12;
const BITS_PER_KEY = 8;
/**
 * Room for this many times the keys it is built for, so that it is not
 * rebuilt after every seal: built, it has 10 bits per key (1.25% false
 * positives measured, docs/performance.md), full, 8 (3.3%), so 1.0 to 1.25
 * bytes per key.
 */
const HEADROOM = 1.25;
const MIN_CAPACITY = 65_536;
/**
 * The largest filter's key count (2^29 keys in 512 MiB): past it the filter
 * stays at that size and its false positives grow, which slows misses and
 * never makes an answer wrong.
 */
const MAX_CAPACITY = Math.floor(BLOOM_MAX_BITS / BITS_PER_KEY);

/** A file whose every key the filter holds, as the index file described it. */
export interface CoveredFile {
  id: number;
  dataLength: number;
  count: number;
}

export class GlobalFilter {
  /** Keys put in so far (a key in several files counts once per file). */
  added = 0;

  private constructor(
    readonly bloom: BloomFilter,
    /** The key count it was sized for, at BITS_PER_KEY bits each. */
    readonly capacity: number,
  ) {}

  /** An empty filter with room for `keys` keys and some more. */
  static forKeys(keys: number): GlobalFilter {
    const capacity = Math.min(MAX_CAPACITY, Math.max(MIN_CAPACITY, Math.ceil(keys * HEADROOM)));
    return new GlobalFilter(BloomFilter.forCount(capacity, BITS_PER_KEY), capacity);
  }

  /** Whether a filter built for `keys` keys would now answer better (fuller than sized for) or be much smaller. */
  needsRebuild(keys: number): boolean {
    // A filter at the largest size stays: a rebuild would give the same size.
    const overfull = this.added > this.capacity && this.capacity < MAX_CAPACITY;
    return overfull || (this.capacity > MIN_CAPACITY && keys * 4 * HEADROOM < this.capacity);
  }

  encode(files: readonly CoveredFile[]): Buffer {
    const bits = this.bloom.bytes;
    const buffer = Buffer.alloc(HEADER + PER_FILE * files.length + bits.length + 4);
    buffer.writeUInt32LE(MAGIC, 0);
    buffer.writeUInt16LE(VERSION, 4);
    buffer.writeUInt32LE(files.length, 8);
    buffer.writeUInt32LE(bits.length, 12);
    buffer.writeDoubleLE(this.capacity, 16);
    buffer.writeDoubleLE(this.added, 24);
    files.forEach((file, i) => {
      const at = HEADER + PER_FILE * i;
      buffer.writeUInt32LE(file.id, at);
      buffer.writeUInt32LE(file.dataLength, at + 4);
      buffer.writeUInt32LE(file.count, at + 8);
    });
    bits.copy(buffer, HEADER + PER_FILE * files.length);
    buffer.writeUInt32LE(crc32(buffer.subarray(0, buffer.length - 4)), buffer.length - 4);
    return buffer;
  }

  /** The filter and the files it covers, from FILTER's bytes; KVCASK_CORRUPTION if any check fails. */
  static decode(buffer: Buffer, path: string): { filter: GlobalFilter; files: CoveredFile[] } {
    if (buffer.length < HEADER + 4 || buffer.readUInt32LE(0) !== MAGIC) throw corruption('not a filter file', path, 0);
    if (buffer.readUInt16LE(4) !== VERSION) throw corruption(`filter file of version ${buffer.readUInt16LE(4)}`, path, 4);
    const count = buffer.readUInt32LE(8);
    const bitsLength = buffer.readUInt32LE(12);
    const bitsAt = HEADER + PER_FILE * count;
    if (buffer.length !== bitsAt + bitsLength + 4) throw corruption(`filter file of ${buffer.length} bytes cannot hold ${count} files and ${bitsLength} bytes of bits`, path, 8);
    if (crc32(buffer.subarray(0, buffer.length - 4)) !== buffer.readUInt32LE(buffer.length - 4)) throw corruption('filter file failed its checksum', path, buffer.length - 4);
    const capacity = buffer.readDoubleLE(16);
    const added = buffer.readDoubleLE(24);
    if (!Number.isSafeInteger(capacity) || capacity < 1 || !Number.isSafeInteger(added) || added < 0) throw corruption('filter file has a bad key count', path, 16);
    let bloom: BloomFilter;
    try {
      bloom = BloomFilter.fromBytes(buffer.subarray(bitsAt, bitsAt + bitsLength), BLOOM_HASH_COUNT);
    } catch (err) {
      throw corruption(`filter file bits: ${(err as Error).message}`, path, bitsAt);
    }
    const files: CoveredFile[] = [];
    for (let i = 0; i < count; i++) {
      const at = HEADER + PER_FILE * i;
      files.push({ id: buffer.readUInt32LE(at), dataLength: buffer.readUInt32LE(at + 4), count: buffer.readUInt32LE(at + 8) });
    }
    const filter = new GlobalFilter(bloom, capacity);
    filter.added = added;
    return { filter, files };
  }
}
