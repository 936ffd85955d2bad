import { crc32 } from 'node:zlib';
import { checkRecordHeader, FLAG_TOMBSTONE, RECORD_HEADER_SIZE, recordFlags, recordKeyLength } from './record.js';

/** Past this size a record is read into a buffer of its own: the shared one should not pin memory. */
const MAX_SHARED = 64 * 1024;
/** Views kept of the shared buffer; a store sees few distinct record sizes on its hot paths, and the map is emptied when full. */
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
  /** Views of the shared buffer by their bounds: a record's CRC covers bytes 4..size, its value start..size. */
  private readonly views = new Map<number, Buffer>();

  /** A buffer of at least `size` bytes to read a record into: this one, unless the record is too large to share it. */
  target(size: number): Buffer {
    if (size > MAX_SHARED) return Buffer.allocUnsafe(size);
    if (size > this.buffer.length) {
      this.buffer = Buffer.allocUnsafe(MAX_SHARED);
      this.views.clear();
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
    // Buffer#copy makes a view of its source on every call; set() from a kept view does not.
    value.set(this.view(start, size));
    return value;
  }

  private crcView(size: number): Buffer {
    return this.view(4, size);
  }

  /** The view of bytes start..end of the shared buffer, made once. */
  private view(start: number, end: number): Buffer {
    const id = start * 0x100000 + end;
    let view = this.views.get(id);
    if (view === undefined) {
      if (this.views.size >= MAX_VIEWS) this.views.clear();
      view = this.buffer.subarray(start, end);
      this.views.set(id, view);
    }
    return view;
  }
}
