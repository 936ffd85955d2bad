import { crc32 } from 'node:zlib';
import { BLOOM_HASH_COUNT, BloomFilter, KeyHashes } from './bloom.js';
import type { GlobalFilter } from './global-filter.js';
import { KvcaskError, codes, corruption, ioError } from './errors.js';
import type { FileSystem } from './filesystem.js';
import { PageCache } from './page-cache.js';
import { FILE_HEADER_SIZE, MAX_KEY_SIZE, recordSize } from './record.js';
import { compareBytes, compareKey, prefixOf } from './key-order.js';
import { sortByKeySliced } from './key-sort.js';
import { indexFileName } from './segment.js';
import { noPause } from './time-slice.js';

/**
 * The on-disk index of one sealed data file or segment (`<id>.kvx`): for each
 * key in that file, its newest record there, in key order, in 4 KiB pages.
 * Only the header, the first key of each page (the fences) and a Bloom filter
 * are kept in memory, so a lookup is a binary search in memory and one
 * positional read of a page. docs/format.md ("Index file") is the reference:
 *
 *   header (80 B, padded to one page) | pages | fences | bloom bits | trailer (8 B)
 *   page  = crc32 u32 | page index u32 | count u16 | 0 u16 | entry start u16 × count | entries | zeros
 *   entry = key length u16 | key | offset u32 | value length u32 | flags u8 | seq u64
 *   fence = entry count u16 | span (pages) u16 | key length u16 | first key of the page
 */
export const INDEX_VERSION = 2;
export const INDEX_PAGE_SIZE = 4096;
const INDEX_MAGIC = 0x5843564b; // "KVCX"
const TRAILER_MAGIC = 0x4558564b; // "KVXE"
const HEADER_SIZE = 80;
const TRAILER_SIZE = 8;
const PAGE_HEADER_SIZE = 12;
/** Entry bytes besides the key: key length, offset, value length, flags, seq. */
const ENTRY_FIXED = 2 + 4 + 4 + 1 + 8;
const FENCE_FIXED = 6;
const FLAG_TOMBSTONE = 1;
/** Pages an index file may have: a limit of the format, which open() checks. */
const MAX_PAGES = 0x200000;
const TWO_32 = 0x100000000;
/** Pages are written in chunks of this many, to issue few writes without holding the whole file. */
const CHUNK_PAGES = 64;

export interface IndexLocation {
  /** Offset of the record in the data file, or its logical offset in a segment. */
  offset: number;
  valueLength: number;
  tombstone: boolean;
  seq: number;
}

export interface IndexEntry extends IndexLocation {
  key: Buffer;
}

function writeU64(buffer: Buffer, value: number, at: number): void {
  buffer.writeUInt32LE(value % TWO_32, at);
  buffer.writeUInt32LE(Math.floor(value / TWO_32), at + 4);
}

function readU64(buffer: Buffer, at: number): number {
  return buffer.readUInt32LE(at) + buffer.readUInt32LE(at + 4) * TWO_32;
}

/** Slots of a cached page's hash table for `count` entries: at most two thirds full, so a probe rarely goes past its first slot. */
function tableSlots(count: number): number {
  return count + (count >>> 1) + 1;
}

/**
 * Bytes of a page cache slot (PageCache): a page of INDEX_PAGE_SIZE and the
 * table of as many entries as it can hold (each at least ENTRY_FIXED bytes
 * and a 2-byte start).
 */
export const PAGE_SLOT_BYTES = INDEX_PAGE_SIZE + 4 * tableSlots(Math.floor((INDEX_PAGE_SIZE - PAGE_HEADER_SIZE) / (ENTRY_FIXED + 2)));

/** Hashes of a page's keys while its table is made, and of findSync()'s key: neither is the caller's. */
const tableHashes = new KeyHashes();
const ownHashes = new KeyHashes();
/** Where pageBytes() left the page in the buffer it returned, and whether a table follows it: module slots, so that a lookup allocates nothing. */
let pageBase = 0;
let pageHasTable = false;

/** Index (0..count) of the first entry of the checked page at `base` whose key is ≥ `key`, or > `key` when `exclusive`. */
function firstAtOrAfter(bytes: Uint8Array, base: number, count: number, key: Uint8Array, exclusive: boolean): number {
  let low = 0;
  let high = count;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const start = base + u16At(bytes, base + PAGE_HEADER_SIZE + 2 * middle);
    const order = compareKey(key, bytes, start + 2, u16At(bytes, start));
    if (order > 0 || (exclusive && order === 0)) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Little-endian reads at positions the page check already bounded, for the
 * lookup path: Buffer's readUInt*LE re-check bounds on every call and showed
 * up in profiles of index lookups.
 */
function u16At(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8);
}

function u32At(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16)) + bytes[at + 3] * 0x1000000;
}

/**
 * The entries in key order, by the radix sort the keydir uses (key-sort.ts)
 * over a packed copy of their keys: comparison sorts call Buffer.compare for
 * every pair whose first bytes tie, as most keys with a common prefix do.
 */
async function inKeyOrder(entries: readonly IndexEntry[], pause: () => Promise<void>): Promise<IndexEntry[]> {
  let bytes = 0;
  for (const entry of entries) bytes += 2 + entry.key.length;
  const arena = Buffer.allocUnsafe(bytes);
  const keyAt = new Uint32Array(entries.length);
  const order = new Uint32Array(entries.length);
  for (let i = 0, cursor = 0; i < entries.length; i++) {
    const { key } = entries[i];
    keyAt[i] = cursor;
    order[i] = i;
    arena.writeUInt16LE(key.length, cursor);
    key.copy(arena, cursor + 2);
    cursor += 2 + key.length;
    if (i % PAUSE_EVERY === 0) await pause();
  }
  await sortByKeySliced(arena, order, (i) => keyAt[i], pause);
  return Array.from(order, (i) => entries[i]);
}

/** Entries handled between two calls of writeIndexFile's `pause`. */
const PAUSE_EVERY = 4096;

/** Page bytes an entry takes: its slot in the page's start table, and the entry itself. */
function pageBytesOf(keyLength: number): number {
  return 2 + ENTRY_FIXED + keyLength;
}

function isUint32(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < TWO_32;
}

function checkEntry(entry: IndexEntry, dataLength: number): void {
  if (entry === null || typeof entry !== 'object') throw new TypeError('an index entry must be an object');
  if (!Buffer.isBuffer(entry.key)) throw new TypeError('an index entry key must be a Buffer');
  if (typeof entry.tombstone !== 'boolean') throw new TypeError('an index entry tombstone must be a boolean');
  if (!isUint32(entry.offset) || !isUint32(entry.valueLength)) throw new RangeError('index entry offset and valueLength must be u32 integers');
  if (!Number.isSafeInteger(entry.seq) || entry.seq < 0) throw new RangeError(`index entry seq must be a non-negative safe integer, got ${entry.seq}`);
  if (entry.key.length > MAX_KEY_SIZE) throw new RangeError(`index entry key is ${entry.key.length} bytes, more than ${MAX_KEY_SIZE}`);
  // The reader rejects a page with such an entry, so it must never be written.
  if (entry.offset < FILE_HEADER_SIZE || entry.offset + recordSize(entry.key.length, entry.valueLength) > dataLength) {
    throw new RangeError(`index entry at offset ${entry.offset} does not fit in a data file of ${dataLength} bytes`);
  }
}

/** How sorted entries fall into pages: each page's first entry, and its span in page-size units. */
function layPages(sorted: readonly IndexEntry[]): { firsts: number[]; spans: number[] } {
  const firsts: number[] = [];
  const spans: number[] = [];
  const capacity = INDEX_PAGE_SIZE - PAGE_HEADER_SIZE;
  let used = capacity;
  for (let i = 0; i < sorted.length; i++) {
    const need = pageBytesOf(sorted[i].key.length);
    if (used + need <= capacity) {
      used += need;
      continue;
    }
    firsts.push(i);
    if (need > capacity) {
      // An entry that fits no page gets a page of its own, as many page sizes long as it needs.
      spans.push(Math.ceil((PAGE_HEADER_SIZE + need) / INDEX_PAGE_SIZE));
      used = capacity;
    } else {
      spans.push(1);
      used = need;
    }
  }
  return { firsts, spans };
}

function encodePage(target: Buffer, at: number, length: number, page: number, sorted: readonly IndexEntry[], from: number, to: number): void {
  const count = to - from;
  target.writeUInt32LE(page, at + 4);
  target.writeUInt16LE(count, at + 8);
  target.writeUInt16LE(0, at + 10);
  let cursor = at + PAGE_HEADER_SIZE + 2 * count;
  for (let i = from; i < to; i++) {
    const { key, offset, valueLength, tombstone, seq } = sorted[i];
    target.writeUInt16LE(cursor - at, at + PAGE_HEADER_SIZE + 2 * (i - from));
    target.writeUInt16LE(key.length, cursor);
    key.copy(target, cursor + 2);
    cursor += 2 + key.length;
    target.writeUInt32LE(offset, cursor);
    target.writeUInt32LE(valueLength, cursor + 4);
    target[cursor + 8] = tombstone ? FLAG_TOMBSTONE : 0;
    writeU64(target, seq, cursor + 9);
    cursor += 17;
  }
  target.fill(0, cursor, at + length);
  target.writeUInt32LE(crc32(target.subarray(at + 4, at + length)), at);
}

/**
 * Writes `<dir>/<id>.kvx` for the entries of one data file or segment
 * (any order, one per key), atomically (under `name`, when a merge writes it
 * under a pending name): a temporary file, fdatasync, rename,
 * directory fsync. Pages are encoded a chunk at a time.
 */
export async function writeIndexFile(
  fsys: FileSystem,
  dir: string,
  fileId: number,
  dataLength: number,
  entries: IndexEntry[],
  name = indexFileName(fileId),
  pause: () => Promise<void> = noPause,
): Promise<void> {
  if (!isUint32(fileId)) throw new RangeError(`fileId must be a u32 integer, got ${fileId}`);
  if (!isUint32(dataLength)) throw new RangeError(`dataLength must be a u32 integer, got ${dataLength}`);
  if (!Array.isArray(entries)) throw new TypeError('entries must be an array');
  for (let i = 0; i < entries.length; i++) {
    checkEntry(entries[i], dataLength);
    if (i % PAUSE_EVERY === 0) await pause();
  }
  const sorted = await inKeyOrder(entries, pause);
  for (let i = 1; i < sorted.length; i++) {
    // compareBytes, a loop in JS: for keys that differ early it costs less than Buffer.equals' call into C++.
    if (compareBytes(sorted[i - 1].key, sorted[i].key) === 0) throw new RangeError(`index entries repeat the key ${sorted[i].key.toString('hex')} (hex)`);
    if (i % PAUSE_EVERY === 0) await pause();
  }
  if (sorted.length >= TWO_32) throw new RangeError('an index file holds fewer than 2^32 entries');
  const { firsts, spans } = layPages(sorted);
  if (firsts.length >= MAX_PAGES) throw new RangeError(`an index file holds fewer than ${MAX_PAGES} pages`);

  let fencesLength = 0;
  for (const first of firsts) fencesLength += FENCE_FIXED + sorted[first].key.length;
  const fences = Buffer.allocUnsafe(fencesLength);
  let slots = 0;
  for (let page = 0, at = 0; page < firsts.length; page++) {
    const first = sorted[firsts[page]].key;
    const end = page + 1 < firsts.length ? firsts[page + 1] : sorted.length;
    fences.writeUInt16LE(end - firsts[page], at);
    fences.writeUInt16LE(spans[page], at + 2);
    fences.writeUInt16LE(first.length, at + 4);
    first.copy(fences, at + FENCE_FIXED);
    at += FENCE_FIXED + first.length;
    slots += spans[page];
  }
  await pause();
  const bloom = BloomFilter.forCount(sorted.length);
  for (let i = 0; i < sorted.length; i++) {
    bloom.add(sorted[i].key);
    if (i % PAUSE_EVERY === 0) await pause();
  }
  const bits = bloom.bytes;

  const pagesOffset = INDEX_PAGE_SIZE;
  const pagesLength = slots * INDEX_PAGE_SIZE;
  const fencesOffset = pagesOffset + pagesLength;
  const bloomOffset = fencesOffset + fencesLength;
  const header = Buffer.alloc(INDEX_PAGE_SIZE);
  header.writeUInt32LE(INDEX_MAGIC, 0);
  header.writeUInt16LE(INDEX_VERSION, 4);
  header.writeUInt32LE(fileId, 8);
  header.writeUInt32LE(dataLength, 12);
  header.writeUInt32LE(sorted.length, 16);
  header.writeUInt32LE(INDEX_PAGE_SIZE, 20);
  header.writeUInt32LE(firsts.length, 24);
  header.writeUInt32LE(pagesOffset, 28);
  writeU64(header, pagesLength, 32);
  writeU64(header, fencesOffset, 40);
  header.writeUInt32LE(fencesLength, 48);
  header.writeUInt32LE(crc32(fences), 52);
  writeU64(header, bloomOffset, 56);
  header.writeUInt32LE(bits.length, 64);
  header.writeUInt32LE(crc32(bits), 68);
  header[72] = bloom.hashCount;
  const headerCrc = crc32(header.subarray(0, HEADER_SIZE - 4));
  header.writeUInt32LE(headerCrc, HEADER_SIZE - 4);
  const trailer = Buffer.allocUnsafe(TRAILER_SIZE);
  trailer.writeUInt32LE(TRAILER_MAGIC, 0);
  trailer.writeUInt32LE(headerCrc, 4);

  const tmp = `${dir}/${name}.tmp`;
  await fsys.unlink(tmp).catch(() => {});
  const fd = await fsys.open(tmp, 'wx+');
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_PAGES * INDEX_PAGE_SIZE);
    let chunkUsed = 0;
    let position = pagesOffset;
    const flush = async () => {
      if (chunkUsed === 0) return;
      await fsys.write(fd, chunk, 0, chunkUsed, position);
      position += chunkUsed;
      chunkUsed = 0;
    };
    for (let page = 0; page < firsts.length; page++) {
      const end = page + 1 < firsts.length ? firsts[page + 1] : sorted.length;
      const length = spans[page] * INDEX_PAGE_SIZE;
      if (length > chunk.length) {
        await flush();
        const big = Buffer.allocUnsafe(length);
        encodePage(big, 0, length, page, sorted, firsts[page], end);
        await fsys.write(fd, big, 0, length, position);
        position += length;
        continue;
      }
      if (chunkUsed + length > chunk.length) await flush();
      encodePage(chunk, chunkUsed, length, page, sorted, firsts[page], end);
      chunkUsed += length;
    }
    await flush();
    await fsys.write(fd, fences, 0, fences.length, fencesOffset);
    await fsys.write(fd, bits, 0, bits.length, bloomOffset);
    await fsys.write(fd, trailer, 0, TRAILER_SIZE, bloomOffset + bits.length);
    await fsys.write(fd, header, 0, header.length, 0);
    await fsys.datasync(fd);
  } catch (err) {
    await fsys.close(fd).catch(() => {});
    await fsys.unlink(tmp).catch(() => {});
    throw err;
  }
  await fsys.close(fd);
  await fsys.rename(tmp, `${dir}/${name}`);
  await fsys.syncDir(dir);
}

async function readExactly(fsys: FileSystem, fd: number, path: string, length: number, position: number, buffer = Buffer.allocUnsafe(length)): Promise<Buffer> {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = await fsys.read(fd, buffer, done, length - done, position + done);
    } catch (err) {
      throw ioError('read', path, err);
    }
    if (n === 0) throw corruption(`index file ends before its ${length} bytes at ${position}`, path, position + done);
    done += n;
  }
  return buffer;
}

export class IndexFile {
  /** Page p's first key is fenceKeys[fenceStarts[p], fenceStarts[p + 1]). */
  private readonly fenceKeys: Buffer;
  private readonly fenceStarts: Uint32Array;
  /** Page p's first key's first 4 bytes, big-endian, zero-padded: most steps of the fence search compare these alone. */
  private readonly fencePrefixes: Uint32Array;
  /** Global position of page p's first entry; firstPositions[pageCount] = count. */
  private readonly firstPositions: Uint32Array;
  /** Page p starts at pagesOffset + slots[p] × pageSize and is (slots[p + 1] − slots[p]) page sizes long. */
  private readonly slots: Uint32Array;
  private readonly bloom: BloomFilter;
  /** Where a page the cache would not keep is read, so such reads allocate nothing either. */
  private scratch: Buffer = Buffer.alloc(0);
  /** The cache slot of each page (PageCache), −1 for a page not held. */
  private readonly slotOf: Int32Array;
  /** The global filter that holds every key of this file, if one does (set by DiskIndex once it put them all in). */
  coveredBy: GlobalFilter | null = null;
  private closed = false;
  /** A read of forEachKey() in flight: close() waits for it, so that it never reads a closed (perhaps reused) descriptor. */
  private reading: Promise<unknown> | null = null;

  private constructor(
    private readonly fsys: FileSystem,
    readonly path: string,
    private readonly fd: number,
    readonly fileId: number,
    readonly dataLength: number,
    readonly count: number,
    private readonly pageSize: number,
    private readonly pagesOffset: number,
    parsed: { fenceKeys: Buffer; fenceStarts: Uint32Array; firstPositions: Uint32Array; slots: Uint32Array; bloom: BloomFilter },
    private readonly cache: PageCache,
  ) {
    this.fenceKeys = parsed.fenceKeys;
    this.fenceStarts = parsed.fenceStarts;
    this.fencePrefixes = new Uint32Array(Math.max(0, parsed.fenceStarts.length - 1));
    for (let page = 0; page < this.fencePrefixes.length; page++) {
      this.fencePrefixes[page] = prefixOf(parsed.fenceKeys, parsed.fenceStarts[page], parsed.fenceStarts[page + 1] - parsed.fenceStarts[page]);
    }
    this.firstPositions = parsed.firstPositions;
    this.slots = parsed.slots;
    this.bloom = parsed.bloom;
    this.slotOf = PageCache.slotsFor(this.slots.length - 1);
  }

  /**
   * Opens `path` and checks its header, trailer, fences and Bloom filter, the
   * only parts kept in memory. Rejects with KVCASK_CORRUPTION on any failed
   * check, a file id or data length other than expected included, and with
   * KVCASK_VERSION on another index format version.
   */
  static async open(fsys: FileSystem, path: string, fileId: number, dataLength: number, cache: PageCache): Promise<IndexFile> {
    let fd: number;
    try {
      fd = await fsys.open(path, 'r');
    } catch (err) {
      throw ioError('open', path, err);
    }
    try {
      return await IndexFile.check(fsys, path, fd, fileId, dataLength, cache);
    } catch (err) {
      await fsys.close(fd).catch(() => {});
      throw err;
    }
  }

  private static async check(fsys: FileSystem, path: string, fd: number, fileId: number, dataLength: number, cache: PageCache): Promise<IndexFile> {
    let size: number;
    try {
      size = await fsys.size(fd);
    } catch (err) {
      throw ioError('stat', path, err);
    }
    if (size < HEADER_SIZE + TRAILER_SIZE) throw corruption(`index file is ${size} bytes, too short for a header and trailer`, path, 0);
    const header = await readExactly(fsys, fd, path, HEADER_SIZE, 0);
    if (header.readUInt32LE(0) !== INDEX_MAGIC) throw corruption('index file has a bad magic', path, 0);
    const headerCrc = header.readUInt32LE(HEADER_SIZE - 4);
    if (crc32(header.subarray(0, HEADER_SIZE - 4)) !== headerCrc) throw corruption('index file header fails its checksum', path, HEADER_SIZE - 4);
    const version = header.readUInt16LE(4);
    if (version !== INDEX_VERSION) {
      throw new KvcaskError(codes.VERSION, `index file ${path} has format version ${version}; this kvcask reads version ${INDEX_VERSION}`, { file: path, offset: 4 });
    }
    const fail = (what: string, offset: number) => corruption(`index file ${what}`, path, offset);
    if (header.readUInt32LE(8) !== fileId) throw fail(`belongs to file id ${header.readUInt32LE(8)}, not ${fileId}`, 8);
    if (header.readUInt32LE(12) !== dataLength) throw fail(`describes ${header.readUInt32LE(12)} bytes of data, not ${dataLength}`, 12);
    const count = header.readUInt32LE(16);
    const pageSize = header.readUInt32LE(20);
    const pageCount = header.readUInt32LE(24);
    const pagesOffset = header.readUInt32LE(28);
    const pagesLength = readU64(header, 32);
    const fencesOffset = readU64(header, 40);
    const fencesLength = header.readUInt32LE(48);
    const bloomOffset = readU64(header, 56);
    const bloomLength = header.readUInt32LE(64);
    const hashCount = header[72];
    // Offsets inside a page are u16, so a page is at most 64 KiB (longer only to hold one entry).
    if (pageSize < 512 || pageSize > 0x10000 || (pageSize & (pageSize - 1)) !== 0) throw fail(`has page size ${pageSize}`, 20);
    if (pageCount >= MAX_PAGES || (pageCount === 0) !== (count === 0) || pageCount > count) throw fail(`has ${pageCount} pages for ${count} entries`, 24);
    if (pagesOffset < HEADER_SIZE || pagesLength % pageSize !== 0 || pagesLength / pageSize < pageCount) throw fail('has a bad pages region', 28);
    if (fencesOffset !== pagesOffset + pagesLength || bloomOffset !== fencesOffset + fencesLength) throw fail('regions do not follow each other', 40);
    if (bloomLength === 0 || bloomLength % 32 !== 0 || hashCount !== BLOOM_HASH_COUNT) throw fail(`has a bad Bloom filter (${bloomLength} bytes, ${hashCount} hashes)`, 64);
    const expectedSize = bloomOffset + bloomLength + TRAILER_SIZE;
    if (size !== expectedSize) throw fail(`is ${size} bytes; its header describes ${expectedSize}`, Math.min(size, expectedSize));
    const trailer = await readExactly(fsys, fd, path, TRAILER_SIZE, size - TRAILER_SIZE);
    if (trailer.readUInt32LE(0) !== TRAILER_MAGIC || trailer.readUInt32LE(4) !== headerCrc) throw fail('trailer does not match its header', size - TRAILER_SIZE);

    const fences = await readExactly(fsys, fd, path, fencesLength, fencesOffset);
    if (crc32(fences) !== header.readUInt32LE(52)) throw fail('fences fail their checksum', fencesOffset);
    const bits = await readExactly(fsys, fd, path, bloomLength, bloomOffset);
    if (crc32(bits) !== header.readUInt32LE(68)) throw fail('Bloom filter fails its checksum', bloomOffset);

    const fenceStarts = new Uint32Array(pageCount + 1);
    const firstPositions = new Uint32Array(pageCount + 1);
    const slots = new Uint32Array(pageCount + 1);
    let keyBytes = 0;
    let at = 0;
    for (let page = 0; page < pageCount; page++) {
      if (at + FENCE_FIXED > fencesLength) throw fail(`fence ${page} passes the fences' end`, fencesOffset + at);
      const entries = fences.readUInt16LE(at);
      const span = fences.readUInt16LE(at + 2);
      const keyLength = fences.readUInt16LE(at + 4);
      if (entries === 0 || span === 0 || at + FENCE_FIXED + keyLength > fencesLength) throw fail(`fence ${page} is malformed`, fencesOffset + at);
      const keyStart = at + FENCE_FIXED;
      if (page > 0) {
        const previousStart = fenceStarts[page - 1];
        const previous = fences.subarray(previousStart, previousStart + fences.readUInt16LE(previousStart - 2));
        if (compareKey(previous, fences, keyStart, keyLength) >= 0) throw fail(`fence ${page} is out of key order`, fencesOffset + at);
      }
      // For now the key's position in `fences`; rebased onto the packed keys below.
      fenceStarts[page] = keyStart;
      firstPositions[page + 1] = firstPositions[page] + entries;
      slots[page + 1] = slots[page] + span;
      keyBytes += keyLength;
      at = keyStart + keyLength;
    }
    if (at !== fencesLength) throw fail('fences do not end where the header says', fencesOffset + at);
    if (firstPositions[pageCount] !== count) throw fail(`fences count ${firstPositions[pageCount]} entries, not ${count}`, fencesOffset);
    if (slots[pageCount] * pageSize !== pagesLength) throw fail('pages do not tile the pages region', pagesOffset);

    // Keep only the key bytes, packed, so memory per page is its first key plus 12 bytes.
    const fenceKeys = Buffer.allocUnsafeSlow(keyBytes);
    let cursor = 0;
    for (let page = 0; page < pageCount; page++) {
      const keyStart = fenceStarts[page];
      const keyLength = fences.readUInt16LE(keyStart - 2);
      fences.copy(fenceKeys, cursor, keyStart, keyStart + keyLength);
      fenceStarts[page] = cursor;
      cursor += keyLength;
    }
    fenceStarts[pageCount] = cursor;
    const bloom = BloomFilter.fromBytes(bits, hashCount);
    return new IndexFile(fsys, path, fd, fileId, dataLength, count, pageSize, pagesOffset, { fenceKeys, fenceStarts, firstPositions, slots, bloom }, cache);
  }

  /** False if the file surely holds no entry for `key`. */
  mayContainHashes(hashes: KeyHashes): boolean {
    return this.bloom.mayContainHashes(hashes.first, hashes.second);
  }

  /** Brings the key's block of this file's filter into the CPU's cache (BloomFilter.touch). */
  touchFilter(hashes: KeyHashes): number {
    return this.bloom.touch(hashes.first);
  }

  /** The entry of `key` in this file, or null. */
  findSync(key: Uint8Array): IndexEntry | null {
    const entry: IndexEntry = { key: Buffer.from(key), offset: 0, valueLength: 0, tombstone: false, seq: 0 };
    return this.findInto(key, prefixOf(key, 0, key.length), ownHashes.of(key), entry) ? entry : null;
  }

  /**
   * Fills `out` with the location of `key` and returns true, or returns false
   * (leaving `out` alone) if this file has no entry for it. Allocates nothing
   * when the page is cached: the variant for the read path. `prefix` is the
   * key's prefixOf() and `hashes` its KeyHashes, taken once by a caller that
   * probes many files.
   */
  findInto(key: Uint8Array, prefix: number, hashes: KeyHashes, out: IndexLocation): boolean {
    const page = this.pageFor(key, prefix);
    if (page < 0) return false;
    const bytes = this.pageBytes(page);
    const base = pageBase;
    const count = this.firstPositions[page + 1] - this.firstPositions[page];
    if (!pageHasTable) {
      // A page read without a cache slot carries no table: a binary search of this one page costs less than making one.
      const i = firstAtOrAfter(bytes, base, count, key, false);
      const start = i < count ? base + u16At(bytes, base + PAGE_HEADER_SIZE + 2 * i) : -1;
      if (start < 0 || compareKey(key, bytes, start + 2, u16At(bytes, start)) !== 0) return false;
      this.readLocation(bytes, start, out);
      return true;
    }
    const slots = tableSlots(count);
    const table = base + (this.slots[page + 1] - this.slots[page]) * this.pageSize;
    const fingerprint = hashes.first >>> 16;
    let slot = ((hashes.second >>> 16) * slots) >>> 16;
    for (;;) {
      const held = u32At(bytes, table + 4 * slot);
      if (held === 0) return false;
      if (held >>> 16 === fingerprint) {
        const start = base + (held & 0xffff);
        if (compareKey(key, bytes, start + 2, u16At(bytes, start)) === 0) {
          this.readLocation(bytes, start, out);
          return true;
        }
      }
      if (++slot === slots) slot = 0;
    }
  }

  /** Position (0..count) of the first entry whose key is ≥ `key`, or > `key` when `exclusive`. */
  seek(key: Uint8Array, exclusive: boolean): number {
    const page = this.pageFor(key, prefixOf(key, 0, key.length));
    if (page < 0) return 0;
    const bytes = this.pageBytes(page);
    const count = this.firstPositions[page + 1] - this.firstPositions[page];
    return this.firstPositions[page] + firstAtOrAfter(bytes, pageBase, count, key, exclusive);
  }

  /** The entry at `position` (0 ≤ position < count) in key order. */
  entryAt(position: number): IndexEntry {
    if (!Number.isInteger(position) || position < 0 || position >= this.count) {
      throw new RangeError(`position must be an integer from 0 to ${this.count - 1}, got ${position}`);
    }
    const positions = this.firstPositions;
    let low = 0;
    let high = positions.length - 2;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (positions[middle] <= position) low = middle;
      else high = middle - 1;
    }
    const bytes = this.pageBytes(low);
    return this.entryIn(bytes, pageBase, position - positions[low]);
  }

  get pageCount(): number {
    return this.slots.length - 1;
  }

  /** Where page `page` lies in the file, in bytes. */
  pageBounds(page: number): { position: number; length: number } {
    return { position: this.pagesOffset + this.slots[page] * this.pageSize, length: (this.slots[page + 1] - this.slots[page]) * this.pageSize };
  }

  /** Every entry of page `page` in stored order, once the page passed its checks (else KVCASK_CORRUPTION). */
  entriesOf(page: number): IndexEntry[] {
    const bytes = this.pageBytes(page);
    const base = pageBase;
    const count = this.firstPositions[page + 1] - this.firstPositions[page];
    return Array.from({ length: count }, (_, i) => this.entryIn(bytes, base, i));
  }

  /** Entry `i` of a checked page at `base` in `bytes` (pageBytes), its key copied out. */
  private entryIn(bytes: Buffer, base: number, i: number): IndexEntry {
    const start = base + u16At(bytes, base + PAGE_HEADER_SIZE + 2 * i);
    const keyLength = u16At(bytes, start);
    const key = Buffer.allocUnsafe(keyLength);
    bytes.copy(key, 0, start + 2, start + 2 + keyLength);
    const entry: IndexEntry = { key, offset: 0, valueLength: 0, tombstone: false, seq: 0 };
    this.readLocation(bytes, start, entry);
    return entry;
  }

  /**
   * Calls `take` with every key of the file (`length` bytes of `bytes` at
   * `start`), in key order, reading pages a chunk at a time around the cache
   * (a one-off pass would evict the pages lookups use), each page checked
   * before its keys are believed. Returns true once every key was taken;
   * false, having stopped, when `stop()` says so before a chunk, when the file
   * is closed, or when a read or check failed.
   */
  async forEachKey(take: (bytes: Buffer, start: number, length: number) => void, stop: () => boolean): Promise<boolean> {
    const pages = this.pageCount;
    const slots = this.slots;
    const chunk = Buffer.allocUnsafe(CHUNK_PAGES * this.pageSize);
    for (let page = 0; page < pages; ) {
      if (stop() || this.closed) return false;
      let end = page + 1;
      while (end < pages && (slots[end + 1] - slots[page]) * this.pageSize <= chunk.length) end++;
      const length = (slots[end] - slots[page]) * this.pageSize;
      const position = this.pagesOffset + slots[page] * this.pageSize;
      const bytes = length <= chunk.length ? chunk : Buffer.allocUnsafe(length);
      try {
        const read = readExactly(this.fsys, this.fd, this.path, length, position, bytes);
        this.reading = read;
        await read;
        for (let p = page; p < end; p++) {
          const at = (slots[p] - slots[page]) * this.pageSize;
          const pageLength = (slots[p + 1] - slots[p]) * this.pageSize;
          const view = bytes.subarray(at, at + pageLength);
          this.checkPage(view, pageLength, p, position + at);
          const count = this.firstPositions[p + 1] - this.firstPositions[p];
          for (let i = 0; i < count; i++) {
            const start = u16At(view, PAGE_HEADER_SIZE + 2 * i);
            take(view, start + 2, u16At(view, start));
          }
        }
      } catch {
        return false;
      } finally {
        this.reading = null;
      }
      page = end;
    }
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reading?.catch(() => {});
    this.cache.release(this.slotOf);
    await this.fsys.close(this.fd);
  }

  /** Bytes of memory held for this file: fences, their offsets, its pages' cache slots and the Bloom filter. */
  memoryBytes(): number {
    return this.fenceKeys.length + this.fenceStarts.byteLength + this.fencePrefixes.byteLength + this.firstPositions.byteLength + this.slots.byteLength + this.slotOf.byteLength + this.bloom.byteLength;
  }

  private readLocation(bytes: Buffer, start: number, out: IndexLocation): void {
    const at = start + 2 + u16At(bytes, start);
    out.offset = u32At(bytes, at);
    out.valueLength = u32At(bytes, at + 4);
    out.tombstone = (bytes[at + 8] & FLAG_TOMBSTONE) !== 0;
    out.seq = u32At(bytes, at + 9) + u32At(bytes, at + 13) * TWO_32;
  }

  /** The last page whose first key is ≤ `key`, or -1 if `key` sorts before every entry. */
  private pageFor(key: Uint8Array, prefix: number): number {
    const starts = this.fenceStarts;
    const keys = this.fenceKeys;
    const prefixes = this.fencePrefixes;
    let low = 0;
    let high = prefixes.length - 1;
    if (high < 0 || compareKey(key, keys, starts[0], starts[1] - starts[0]) < 0) return -1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      const fence = prefixes[middle];
      // Prefixes keep key order: only equal prefixes need the whole keys compared.
      const atOrAfter = prefix !== fence ? prefix > fence : compareKey(key, keys, starts[middle], starts[middle + 1] - starts[middle]) >= 0;
      if (atOrAfter) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /**
   * The buffer holding page `page`, from the cache or read and checked in full
   * before anything in it is believed; the page starts at `pageBase` in it.
   * Behind the page's own bytes comes a hash table of its entries
   * (tableSlots(count) u32 slots, linear probing: a 16-bit key fingerprint
   * over the entry's start in the page, 0 for empty), made once when the page
   * is read. A hit then touches the slot and the entry, about two cache lines,
   * where a binary search over the page touched six: a cached page is a random
   * place in a large cache, so each line is a miss.
   */
  private pageBytes(page: number): Buffer {
    const cache = this.cache;
    let slot = this.slotOf[page];
    if (slot >= 0) {
      cache.touch(slot);
      pageBase = cache.baseOf(slot);
      pageHasTable = true;
      return cache.bufferOf(slot);
    }
    const length = (this.slots[page + 1] - this.slots[page]) * this.pageSize;
    const count = this.firstPositions[page + 1] - this.firstPositions[page];
    const tableLength = 4 * tableSlots(count);
    const position = this.pagesOffset + this.slots[page] * this.pageSize;
    // Pages of keys longer than about 4 KiB span several page sizes: too large for a slot, they are read each time.
    slot = length + tableLength <= cache.slotBytes ? cache.take(this.slotOf, page) : -1;
    let bytes: Buffer;
    let base = 0;
    if (slot >= 0) {
      bytes = cache.bufferOf(slot);
      base = cache.baseOf(slot);
    } else {
      if (this.scratch.length < length) this.scratch = Buffer.allocUnsafeSlow(length);
      bytes = this.scratch;
    }
    try {
      let done = 0;
      while (done < length) {
        let n: number;
        try {
          n = this.fsys.readSync(this.fd, bytes, base + done, length - done, position + done);
        } catch (err) {
          throw ioError('read', this.path, err);
        }
        if (n === 0) throw corruption(`index page ${page} is cut short`, this.path, position);
        done += n;
      }
      this.checkPage(bytes.subarray(base, base + length), length, page, position);
    } catch (err) {
      // Nothing unchecked may stay findable.
      this.cache.drop(this.slotOf, page);
      throw err;
    }
    pageBase = base;
    pageHasTable = slot >= 0;
    // A page read once (no cache slot: a budget too small, or keys over about 4 KiB) is searched without one.
    if (!pageHasTable) return bytes;
    const table = base + length;
    const slots = tableLength / 4;
    bytes.fill(0, table, table + tableLength);
    for (let i = 0; i < count; i++) {
      const start = u16At(bytes, base + PAGE_HEADER_SIZE + 2 * i);
      tableHashes.ofBytes(bytes, base + start + 2, u16At(bytes, base + start));
      let at = ((tableHashes.second >>> 16) * slots) >>> 16;
      while (u32At(bytes, table + 4 * at) !== 0) if (++at === slots) at = 0;
      bytes.writeUInt32LE(((tableHashes.first >>> 16) * 0x10000 + start) >>> 0, table + 4 * at);
    }
    return bytes;
  }

  /** The page's CRC, its own index, entry count and first key against its fence, and every entry's bounds. */
  private checkPage(bytes: Buffer, length: number, page: number, position: number): void {
    const bad = (what: string) => corruption(`index page ${page} ${what}`, this.path, position);
    if (crc32(bytes.subarray(4, length)) !== bytes.readUInt32LE(0)) throw bad('fails its checksum');
    const count = this.firstPositions[page + 1] - this.firstPositions[page];
    if (bytes.readUInt32LE(4) !== page) throw bad(`claims to be page ${bytes.readUInt32LE(4)}`);
    if (bytes.readUInt16LE(8) !== count) throw bad(`holds ${bytes.readUInt16LE(8)} entries; its fence says ${count}`);
    let expected = PAGE_HEADER_SIZE + 2 * count;
    for (let i = 0; i < count; i++) {
      const start = bytes.readUInt16LE(PAGE_HEADER_SIZE + 2 * i);
      if (start !== expected || start + 2 > length) throw bad(`has a bad start for entry ${i}`);
      const keyLength = bytes.readUInt16LE(start);
      const end = start + ENTRY_FIXED + keyLength;
      if (end > length) throw bad(`entry ${i} passes the page's end`);
      const at = start + 2 + keyLength;
      const offset = bytes.readUInt32LE(at);
      if (offset < FILE_HEADER_SIZE || offset + recordSize(keyLength, bytes.readUInt32LE(at + 4)) > this.dataLength) {
        throw bad(`entry ${i} points outside the data file`);
      }
      if ((bytes[at + 8] & ~FLAG_TOMBSTONE) !== 0) throw bad(`entry ${i} has unknown flags`);
      if (i === 0) {
        const fence = this.fenceStarts;
        if (compareKey(bytes.subarray(start + 2, at), this.fenceKeys, fence[page], fence[page + 1] - fence[page]) !== 0) {
          throw bad('does not start with its fence key');
        }
      }
      expected = end;
    }
  }
}
