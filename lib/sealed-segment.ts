import { compress, uncompressSync } from 'lz4-napi';
import { crc32 } from 'node:zlib';
import { BlockCache } from './cache.js';
import { codes, corruption, ioError, KvcaskError } from './errors.js';
import { type FileSystem, SYNC_PIECE } from './filesystem.js';
import { FILE_HEADER_SIZE, FORMAT_VERSION, checkRecord, recordFlags, recordKeyLength, recordSeq, recordValueLength, RECORD_HEADER_SIZE } from './record.js';
import type { DamagedRange, ScannedRecord } from './segment.js';

/**
 * A sealed segment (`<id>.kvs`) holds records in blocks, each LZ4-compressed
 * or, when compression does not shrink it, raw; a block index at the end maps
 * logical offsets to blocks (docs/format.md):
 *
 *   header (16 B): "KVCS" | version u16 | 0 u16 | file id u32 | crc32 of bytes 0..12
 *   blocks, back to back
 *   index: per block, logical start u32 | position u32 | stored length u32 | raw length u32 | crc32 of stored bytes
 *   footer (32 B): "KVSF" | version u16 | 0 u16 | file id u32 | block count u32 | logical length u32 |
 *                  index position u32 | crc32 of the index | crc32 of footer bytes 0..28
 *
 * Offsets the index and hints hold are logical: the position a record would
 * have in a data file holding the blocks' raw bytes after a 16-byte header,
 * so that a record's location keeps the data-file meaning and 0 is never one.
 */
const SEGMENT_MAGIC = 0x5343564b; // "KVCS"
const FOOTER_MAGIC = 0x4653564b; // "KVSF"
export const SEGMENT_HEADER_SIZE = 16;
const FOOTER_SIZE = 32;
const INDEX_ENTRY_SIZE = 20;
/** Raw bytes per block before it is cut (a block always ends on a record boundary, so it may run longer). */
export const BLOCK_SIZE = 32 * 1024;
/** lz4-napi's block format prepends the raw length as a u32. */
const LZ4_PREFIX = 4;

export function segmentFileName(id: number): string {
  return `${String(id).padStart(8, '0')}.kvs`;
}

/** The block index of an open segment, checked whole before any read believes it. */
export class SealedSegment {
  constructor(
    readonly fileId: number,
    readonly path: string,
    readonly starts: Uint32Array,
    readonly positions: Uint32Array,
    readonly stored: Uint32Array,
    readonly raw: Uint32Array,
    readonly crcs: Uint32Array,
    readonly logicalLength: number,
    readonly fileBytes: number,
  ) {}

  get blockCount(): number {
    return this.starts.length;
  }

  /** The block holding logical `offset`, or -1. */
  locate(offset: number): number {
    const { starts } = this;
    let low = 0;
    let high = starts.length - 1;
    if (high < 0 || offset < starts[0]) return -1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (starts[middle] <= offset) low = middle;
      else high = middle - 1;
    }
    return offset < starts[low] + this.raw[low] ? low : -1;
  }

  /** The raw bytes of block `block`, checked against its CRC, from the cache or the disk. */
  blockSync(fsys: FileSystem, fd: number, cache: BlockCache, block: number): Buffer {
    const key = BlockCache.keyOf(this.fileId, block);
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const stored = Buffer.allocUnsafe(this.stored[block]);
    let read: number;
    try {
      read = fsys.readSync(fd, stored, 0, stored.length, this.positions[block]);
    } catch (err) {
      throw ioError('read', this.path, err);
    }
    const bytes = this.unpack(block, stored, read);
    cache.set(key, bytes);
    return bytes;
  }

  /** The raw bytes of block `block`, checked, its stored bytes read into `scratch` (a raw block is returned as a view of it). */
  async blockAsync(fsys: FileSystem, fd: number, block: number, scratch: Buffer): Promise<Buffer> {
    const stored = scratch.subarray(0, this.stored[block]);
    let read: number;
    try {
      read = await fsys.read(fd, stored, 0, stored.length, this.positions[block]);
    } catch (err) {
      throw ioError('read', this.path, err);
    }
    return this.unpack(block, stored, read);
  }

  private unpack(block: number, stored: Buffer, read: number): Buffer {
    const position = this.positions[block];
    if (read !== stored.length || crc32(stored) !== this.crcs[block]) throw corruption('block failed its checksum', this.path, position);
    const rawLength = this.raw[block];
    if (stored.length === rawLength) return stored;
    // The length prefix is believed only once it matches the index (which the CRCs vouched for).
    if (stored.length < LZ4_PREFIX || stored.readUInt32LE(0) !== rawLength) throw corruption('compressed block has a wrong length', this.path, position);
    let bytes: Buffer;
    try {
      bytes = uncompressSync(stored);
    } catch (err) {
      throw corruption(`compressed block does not decompress (${(err as Error).message})`, this.path, position);
    }
    if (bytes.length !== rawLength) throw corruption('compressed block has a wrong length', this.path, position);
    return bytes;
  }

  /** The block that holds the `size` bytes at logical `offset` whole, or -1 (a record that does not fit one block is damaged). */
  blockHolding(offset: number, size: number): number {
    const block = this.locate(offset);
    return block >= 0 && offset + size <= this.starts[block] + this.raw[block] ? block : -1;
  }

  /** Whether `block` is stored raw, so that its bytes are read in place. */
  isRaw(block: number): boolean {
    return this.stored[block] === this.raw[block];
  }

  /** Where logical `offset`, inside raw block `block`, lies in the file. */
  rawPosition(block: number, offset: number): number {
    return this.positions[block] + (offset - this.starts[block]);
  }

  /**
   * The `size` bytes of the record at logical `offset`, as a Buffer of their
   * own, or null when no block holds them whole. Raw blocks are read in place;
   * compressed ones through the cache.
   */
  recordSync(fsys: FileSystem, fd: number, cache: BlockCache, offset: number, size: number): Buffer | null {
    const block = this.blockHolding(offset, size);
    if (block < 0) return null;
    if (this.isRaw(block)) {
      const record = Buffer.allocUnsafe(size);
      let read: number;
      try {
        read = fsys.readSync(fd, record, 0, size, this.rawPosition(block, offset));
      } catch (err) {
        throw ioError('read', this.path, err);
      }
      return read === size ? record : null;
    }
    const bytes = this.blockSync(fsys, fd, cache, block);
    const record = Buffer.allocUnsafe(size);
    const within = offset - this.starts[block];
    bytes.copy(record, 0, within, within + size);
    return record;
  }
}

/** Reads and checks a segment's footer and block index; throws KVCASK_CORRUPTION naming what is wrong. */
export async function openSegment(fsys: FileSystem, fd: number, path: string, fileId: number, fileBytes: number): Promise<SealedSegment> {
  if (fileBytes < SEGMENT_HEADER_SIZE + FOOTER_SIZE) throw corruption(`segment of ${fileBytes} bytes is too short`, path, 0);
  const header = await readExactly(fsys, fd, path, 0, SEGMENT_HEADER_SIZE);
  if (header.readUInt32LE(0) !== SEGMENT_MAGIC || header.readUInt32LE(12) !== crc32(header.subarray(0, 12))) {
    throw corruption('segment header is damaged', path, 0);
  }
  const footerAt = fileBytes - FOOTER_SIZE;
  const footer = await readExactly(fsys, fd, path, footerAt, FOOTER_SIZE);
  if (footer.readUInt32LE(0) !== FOOTER_MAGIC || footer.readUInt32LE(28) !== crc32(footer.subarray(0, 28))) {
    throw corruption('segment footer is damaged', path, footerAt);
  }
  if (header.readUInt16LE(4) !== FORMAT_VERSION || footer.readUInt16LE(4) !== FORMAT_VERSION) {
    throw new KvcaskError(codes.VERSION, `${path} has format version ${header.readUInt16LE(4)}; this kvcask reads version ${FORMAT_VERSION}`, { file: path, offset: 4 });
  }
  if (header.readUInt32LE(8) !== fileId || footer.readUInt32LE(8) !== fileId) throw corruption('segment belongs to another file id', path, 8);
  const count = footer.readUInt32LE(12);
  const logicalLength = footer.readUInt32LE(16);
  const indexAt = footer.readUInt32LE(20);
  if (indexAt < SEGMENT_HEADER_SIZE || indexAt + count * INDEX_ENTRY_SIZE !== footerAt) {
    throw corruption('segment index does not fit the file', path, footerAt);
  }
  const index = await readExactly(fsys, fd, path, indexAt, count * INDEX_ENTRY_SIZE);
  if (crc32(index) !== footer.readUInt32LE(24)) throw corruption('segment index failed its checksum', path, indexAt);
  const starts = new Uint32Array(count);
  const positions = new Uint32Array(count);
  const stored = new Uint32Array(count);
  const raw = new Uint32Array(count);
  const crcs = new Uint32Array(count);
  let logical = FILE_HEADER_SIZE;
  let position = SEGMENT_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const at = i * INDEX_ENTRY_SIZE;
    starts[i] = index.readUInt32LE(at);
    positions[i] = index.readUInt32LE(at + 4);
    stored[i] = index.readUInt32LE(at + 8);
    raw[i] = index.readUInt32LE(at + 12);
    crcs[i] = index.readUInt32LE(at + 16);
    // Blocks must tile both spaces exactly: a length that does not is never believed.
    if (starts[i] !== logical || positions[i] !== position || raw[i] === 0 || stored[i] === 0 || stored[i] > raw[i]) {
      throw corruption(`segment index entry ${i} is inconsistent`, path, indexAt + at);
    }
    logical += raw[i];
    position += stored[i];
  }
  if (logical !== logicalLength || position !== indexAt) throw corruption('segment index does not add up', path, indexAt);
  return new SealedSegment(fileId, path, starts, positions, stored, raw, crcs, logicalLength, fileBytes);
}

async function readExactly(fsys: FileSystem, fd: number, path: string, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let read: number;
  try {
    read = await fsys.read(fd, buffer, 0, length, position);
  } catch (err) {
    throw ioError('read', path, err);
  }
  if (read !== length) throw corruption(`expected ${length} bytes, the file ends first`, path, position);
  return buffer;
}

/**
 * Hands every record of a segment to `onRecord` with its bytes, block by
 * block; a block that fails its checks is skipped and reported. `afterBlock`
 * runs between blocks (to yield, throttle or stop).
 */
export async function scanSegment(
  fsys: FileSystem,
  fd: number,
  segment: SealedSegment,
  onRecord: (record: ScannedRecord, bytes: Buffer) => void,
  afterBlock?: () => Promise<void> | void,
): Promise<DamagedRange[]> {
  const damaged: DamagedRange[] = [];
  // One buffer for every block's stored bytes: records are handed over as views valid only during onRecord.
  const scratch = Buffer.allocUnsafe(segment.stored.reduce((most, length) => Math.max(most, length), 0));
  for (let block = 0; block < segment.blockCount; block++) {
    let bytes: Buffer;
    try {
      bytes = await segment.blockAsync(fsys, fd, block, scratch);
    } catch (err) {
      if ((err as { code?: string }).code !== 'KVCASK_CORRUPTION') throw err;
      damaged.push({ offset: segment.positions[block], length: segment.stored[block] });
      continue;
    }
    const base = segment.starts[block];
    let cursor = 0;
    while (cursor < bytes.length) {
      const size = checkRecord(bytes, cursor, bytes.length);
      if (size < 0) {
        // The CRC vouched for the block, so this is a writer's bug or a forgery: skip the rest of it.
        damaged.push({ offset: segment.positions[block], length: segment.stored[block] });
        break;
      }
      const keyLength = recordKeyLength(bytes, cursor);
      onRecord(
        {
          key: bytes.subarray(cursor + RECORD_HEADER_SIZE, cursor + RECORD_HEADER_SIZE + keyLength),
          offset: base + cursor,
          seq: recordSeq(bytes, cursor),
          flags: recordFlags(bytes, cursor),
          valueLength: recordValueLength(bytes, cursor),
        },
        bytes.subarray(cursor, cursor + size),
      );
      cursor += size;
    }
    if (afterBlock) await afterBlock();
  }
  return damaged;
}

/**
 * Writes a segment: records go into the current block; a block is cut once it
 * passes BLOCK_SIZE, compressed on the thread pool and stored raw if that did
 * not shrink it.
 */
export class SegmentBuilder {
  private fd = -1;
  private block: Buffer = Buffer.allocUnsafe(BLOCK_SIZE * 2);
  private blockUsed = 0;
  private position = SEGMENT_HEADER_SIZE;
  private syncedAt = 0;
  private readonly index: number[] = [];
  /** Logical length so far: where the next record will be. */
  logicalLength = FILE_HEADER_SIZE;
  rawBytes = 0;

  /** Writes to `path`; the segment it describes will live at `finalPath` once the merge commits. */
  constructor(
    private readonly fsys: FileSystem,
    readonly path: string,
    readonly finalPath: string,
    readonly fileId: number,
    private readonly compressBlocks: boolean,
  ) {}

  async create(): Promise<void> {
    try {
      this.fd = await this.fsys.open(this.path, 'wx+');
      const header = Buffer.alloc(SEGMENT_HEADER_SIZE);
      header.writeUInt32LE(SEGMENT_MAGIC, 0);
      header.writeUInt16LE(FORMAT_VERSION, 4);
      header.writeUInt32LE(this.fileId, 8);
      header.writeUInt32LE(crc32(header.subarray(0, 12)), 12);
      await this.fsys.write(this.fd, header, 0, SEGMENT_HEADER_SIZE, 0);
    } catch (err) {
      throw ioError('create', this.path, err);
    }
  }

  /** Appends a record's bytes; returns its logical offset. */
  add(record: Uint8Array): number {
    if (this.blockUsed + record.length > this.block.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.block.length * 2, this.blockUsed + record.length));
      this.block.copy(bigger, 0, 0, this.blockUsed);
      this.block = bigger;
    }
    this.block.set(record, this.blockUsed);
    this.blockUsed += record.length;
    const offset = this.logicalLength;
    this.logicalLength += record.length;
    return offset;
  }

  get created(): boolean {
    return this.fd >= 0;
  }

  /** Bytes written to the file so far. */
  get storedBytes(): number {
    return this.position;
  }

  get blockFull(): boolean {
    return this.blockUsed >= BLOCK_SIZE;
  }

  /** Compresses and writes the current block, if it holds anything. */
  async cutBlock(): Promise<void> {
    if (this.blockUsed === 0) return;
    const raw = this.block.subarray(0, this.blockUsed);
    let stored: Buffer = raw;
    if (this.compressBlocks) {
      const compressed = await compress(raw);
      if (compressed.length < raw.length) stored = compressed;
    }
    try {
      await this.fsys.write(this.fd, stored, 0, stored.length, this.position);
    } catch (err) {
      throw ioError('write', this.path, err);
    }
    this.index.push(this.logicalLength - this.blockUsed, this.position, stored.length, raw.length, crc32(stored));
    this.position += stored.length;
    if (this.position - this.syncedAt >= SYNC_PIECE) {
      this.syncedAt = this.position;
      try {
        await this.fsys.datasync(this.fd);
      } catch (err) {
        throw ioError('fdatasync', this.path, err);
      }
    }
    this.rawBytes += raw.length;
    this.blockUsed = 0;
    if (this.block.length > BLOCK_SIZE * 2) this.block = Buffer.allocUnsafe(BLOCK_SIZE * 2);
  }

  /** Writes the last block, the index and the footer, and makes the file durable. Returns the fd, left open for reads. */
  async finish(): Promise<{ fd: number; segment: SealedSegment }> {
    await this.cutBlock();
    const count = this.index.length / 5;
    const tail = Buffer.alloc(count * INDEX_ENTRY_SIZE + FOOTER_SIZE);
    for (let i = 0; i < this.index.length; i++) tail.writeUInt32LE(this.index[i], i * 4);
    const footerAt = count * INDEX_ENTRY_SIZE;
    tail.writeUInt32LE(FOOTER_MAGIC, footerAt);
    tail.writeUInt16LE(FORMAT_VERSION, footerAt + 4);
    tail.writeUInt32LE(this.fileId, footerAt + 8);
    tail.writeUInt32LE(count, footerAt + 12);
    tail.writeUInt32LE(this.logicalLength, footerAt + 16);
    tail.writeUInt32LE(this.position, footerAt + 20);
    tail.writeUInt32LE(crc32(tail.subarray(0, footerAt)), footerAt + 24);
    tail.writeUInt32LE(crc32(tail.subarray(footerAt, footerAt + 28)), footerAt + 28);
    try {
      await this.fsys.write(this.fd, tail, 0, tail.length, this.position);
      await this.fsys.datasync(this.fd);
    } catch (err) {
      throw ioError('write', this.path, err);
    }
    const fileBytes = this.position + tail.length;
    const columns = [0, 1, 2, 3, 4].map((column) => Uint32Array.from({ length: count }, (_, i) => this.index[i * 5 + column]));
    const segment = new SealedSegment(this.fileId, this.finalPath, columns[0], columns[1], columns[2], columns[3], columns[4], this.logicalLength, fileBytes);
    return { fd: this.fd, segment };
  }

  /** Closes and removes a segment that will not be finished. */
  async discard(): Promise<void> {
    if (this.fd >= 0) await this.fsys.close(this.fd).catch(() => {});
    this.fd = -1;
    await this.fsys.unlink(this.path).catch(() => {});
  }
}
