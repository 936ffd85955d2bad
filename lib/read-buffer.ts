import { crc32 } from 'node:zlib';
import { checkRecordHeader, FLAG_TOMBSTONE, RECORD_HEADER_SIZE, recordFlags, recordKeyLength } from './record.js';

/** Past this size a record is read into a buffer of its own: the shared one should not pin memory. */
const MAX_SHARED = 64 * 1024;
/** Views kept for the CRC; a store sees few distinct record sizes on its hot paths, and the map is emptied when full. */
const MAX_VIEWS = 256;

/**
 * One reusable buffer that synchronous point reads land in. A read used to
 * cost three Buffer objects (the record, a view for its CRC, a view of its
 * value); through this one it costs one, the copy of the value handed out
 * (docs/performance.md, Workshop). Valid only until the next read: the
 * caller checks the record and copies its value out before anything else
 * can read.
 */
export class ReadBuffer {
  buffer = Buffer.allocUnsafe(4096);
  /** By record size: the view of bytes 4..size, which the record's CRC covers. */
  private readonly crcViews = new Map<number, Buffer>();

  /** A buffer of at least `size` bytes to read a record into: this one, unless the record is too large to share it. */
  target(size: number): Buffer {
    if (size > MAX_SHARED) return Buffer.allocUnsafe(size);
    if (size > this.buffer.length) {
      this.buffer = Buffer.allocUnsafe(MAX_SHARED);
      this.crcViews.clear();
    }
    return this.buffer;
  }

  /**
   * The value of the `size`-byte record at the start of `record` (a buffer
   * from target()), copied out, when it is an intact live record of `key`;
   * else null.
   */
  valueIfKey(record: Buffer, size: number, key: Uint8Array): Buffer | null {
    if (checkRecordHeader(record, 0, size) !== size || (recordFlags(record, 0) & FLAG_TOMBSTONE) !== 0) return null;
    if (recordKeyLength(record, 0) !== key.length) return null;
    for (let i = 0; i < key.length; i++) if (record[RECORD_HEADER_SIZE + i] !== key[i]) return null;
    if (record.readUInt32LE(0) !== crc32(record === this.buffer ? this.crcView(size) : record.subarray(4, size))) return null;
    const start = RECORD_HEADER_SIZE + key.length;
    if (record !== this.buffer) return record.subarray(start, size);
    const value = Buffer.allocUnsafe(size - start);
    record.copy(value, 0, start, size);
    return value;
  }

  private crcView(size: number): Buffer {
    let view = this.crcViews.get(size);
    if (view === undefined) {
      if (this.crcViews.size >= MAX_VIEWS) this.crcViews.clear();
      view = this.buffer.subarray(4, size);
      this.crcViews.set(size, view);
    }
    return view;
  }
}
