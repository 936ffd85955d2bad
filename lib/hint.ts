import { crc32 } from 'node:zlib';
import { type FileSystem, readWholeFile } from './filesystem.js';
import { FILE_HEADER_SIZE, FLAG_TOMBSTONE, FORMAT_VERSION, recordSize } from './record.js';
import type { IndexEntry } from './index-file.js';
import type { ScannedRecord } from './segment.js';

/**
 * A hint file holds, for one sealed data file or segment, the newest record
 * of each key in it, without values, so that open() rebuilds the index
 * without reading the data (offsets in a segment are logical: see sealed-segment.ts):
 *
 *   header (24 B): "KVCH" | version u16 | 0 u16 | file id u32 | data length u32 | entry count u32 | 0 u32
 *   entry:         seq u64 | offset u32 | value length u32 | flags u8 | 0 u8 | key length u16 | key
 *   trailer:       crc32 u32 of every byte before it
 */
const HINT_MAGIC = 0x4843564b; // "KVCH"
const HEADER_SIZE = 24;
const ENTRY_HEADER_SIZE = 20;
const TWO_32 = 0x100000000;

/** Collects hint entries one at a time, so that a merge never holds them as objects. */
export class HintBuilder {
  private buffer = Buffer.allocUnsafe(64 * 1024);
  private used = HEADER_SIZE;
  private count = 0;

  add(seq: number, offset: number, valueLength: number, flags: number, key: Uint8Array): void {
    const size = ENTRY_HEADER_SIZE + key.length;
    if (this.used + size + 4 > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.used + size + 4));
      this.buffer.copy(bigger, 0, 0, this.used);
      this.buffer = bigger;
    }
    const buffer = this.buffer;
    const position = this.used;
    buffer.writeUInt32LE(seq % TWO_32, position);
    buffer.writeUInt32LE(Math.floor(seq / TWO_32), position + 4);
    buffer.writeUInt32LE(offset, position + 8);
    buffer.writeUInt32LE(valueLength, position + 12);
    buffer[position + 16] = flags;
    buffer[position + 17] = 0;
    buffer.writeUInt16LE(key.length, position + 18);
    buffer.set(key, position + ENTRY_HEADER_SIZE);
    this.used += size;
    this.count++;
  }

  /** The whole hint file: header, entries, trailing CRC. */
  finish(fileId: number, dataLength: number): Buffer {
    const buffer = this.buffer;
    buffer.fill(0, 0, HEADER_SIZE);
    buffer.writeUInt32LE(HINT_MAGIC, 0);
    buffer.writeUInt16LE(FORMAT_VERSION, 4);
    buffer.writeUInt32LE(fileId, 8);
    buffer.writeUInt32LE(dataLength, 12);
    buffer.writeUInt32LE(this.count, 16);
    buffer.writeUInt32LE(crc32(buffer.subarray(0, this.used)), this.used);
    return buffer.subarray(0, this.used + 4);
  }
}

/** Hint entries encoded between two pauses. */
const ENCODE_SLICE = 4096;

/**
 * The newest record of each key of one file, gathered while the file is
 * scanned in the background: one Map entry per key and a few typed-array
 * columns, not an object and a key copy per record, so that a 32 MiB file
 * leaves the garbage collector little to trace (long collections stall the
 * event loop, and with it every write's completion).
 */
export class NewestRecords {
  /** Key (latin1, one char per byte) to the row of its newest record; re-inserted on each record, so in file order. */
  private readonly newest = new Map<string, number>();
  private seqs = new Float64Array(1024);
  private offsets = new Uint32Array(1024);
  private valueLengths = new Uint32Array(1024);
  private flags = new Uint8Array(1024);
  private rows = 0;

  add(record: ScannedRecord): void {
    if (this.rows === this.seqs.length) this.grow();
    const row = this.rows++;
    this.seqs[row] = record.seq;
    this.offsets[row] = record.offset;
    this.valueLengths[row] = record.valueLength;
    this.flags[row] = record.flags;
    const key = record.key.toString('latin1');
    this.newest.delete(key);
    this.newest.set(key, row);
  }

  private grow(): void {
    const size = this.seqs.length * 2;
    const seqs = new Float64Array(size);
    const offsets = new Uint32Array(size);
    const valueLengths = new Uint32Array(size);
    const flags = new Uint8Array(size);
    seqs.set(this.seqs);
    offsets.set(this.offsets);
    valueLengths.set(this.valueLengths);
    flags.set(this.flags);
    [this.seqs, this.offsets, this.valueLengths, this.flags] = [seqs, offsets, valueLengths, flags];
  }

  /** The index entries of the records, in file order, each with its own copy of its key; `pause` awaited every ENCODE_SLICE entries. */
  async indexEntries(pause: () => Promise<void>): Promise<IndexEntry[]> {
    const entries: IndexEntry[] = [];
    for (const [key, row] of this.newest) {
      const flags = this.flags[row];
      entries.push({ key: Buffer.from(key, 'latin1'), offset: this.offsets[row], valueLength: this.valueLengths[row], tombstone: (flags & FLAG_TOMBSTONE) !== 0, seq: this.seqs[row] });
      if (entries.length % ENCODE_SLICE === 0) await pause();
    }
    return entries;
  }

  /** The hint file's bytes, `pause` awaited every ENCODE_SLICE entries. */
  async encode(fileId: number, dataLength: number, pause: () => Promise<void>): Promise<Buffer> {
    const builder = new HintBuilder();
    let sincePause = 0;
    for (const [key, row] of this.newest) {
      builder.add(this.seqs[row], this.offsets[row], this.valueLengths[row], this.flags[row], Buffer.from(key, 'latin1'));
      if (++sincePause === ENCODE_SLICE) {
        sincePause = 0;
        await pause();
      }
    }
    return builder.finish(fileId, dataLength);
  }
}

/**
 * Parses a hint file, handing each entry to `onEntry`. Returns false, having
 * handed nothing over, when the file is damaged, belongs to another data file
 * or does not describe exactly `dataLength` bytes: the caller then scans the data file.
 */
export function decodeHint(buffer: Buffer, fileId: number, dataLength: number, onEntry: (record: ScannedRecord) => void): boolean {
  if (buffer.length < HEADER_SIZE + 4) return false;
  const bodyEnd = buffer.length - 4;
  if (buffer.readUInt32LE(bodyEnd) !== crc32(buffer.subarray(0, bodyEnd))) return false;
  if (buffer.readUInt32LE(0) !== HINT_MAGIC || buffer.readUInt16LE(4) !== FORMAT_VERSION) return false;
  if (buffer.readUInt32LE(8) !== fileId || buffer.readUInt32LE(12) !== dataLength) return false;
  const count = buffer.readUInt32LE(16);
  // Walk once to check every length before any entry is believed.
  let position = HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (position + ENTRY_HEADER_SIZE > bodyEnd) return false;
    const keyLength = buffer.readUInt16LE(position + 18);
    const entryEnd = position + ENTRY_HEADER_SIZE + keyLength;
    const recordStart = buffer.readUInt32LE(position + 8);
    const recordEnd = recordStart + recordSize(keyLength, buffer.readUInt32LE(position + 12));
    if (entryEnd > bodyEnd || recordStart < FILE_HEADER_SIZE || recordEnd > dataLength) return false;
    position = entryEnd;
  }
  if (position !== bodyEnd) return false;
  position = HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const keyLength = buffer.readUInt16LE(position + 18);
    onEntry({
      seq: buffer.readUInt32LE(position) + buffer.readUInt32LE(position + 4) * TWO_32,
      offset: buffer.readUInt32LE(position + 8),
      valueLength: buffer.readUInt32LE(position + 12),
      flags: buffer[position + 16],
      key: buffer.subarray(position + ENTRY_HEADER_SIZE, position + ENTRY_HEADER_SIZE + keyLength),
    });
    position += ENTRY_HEADER_SIZE + keyLength;
  }
  return true;
}

/** Reads and decodes a hint file; false when it is missing or fails any check. */
export async function readHint(
  fsys: FileSystem,
  path: string,
  fileId: number,
  dataLength: number,
  onEntry: (record: ScannedRecord) => void,
): Promise<boolean> {
  let buffer: Buffer;
  try {
    buffer = await readWholeFile(fsys, path);
  } catch {
    return false;
  }
  return decodeHint(buffer, fileId, dataLength, onEntry);
}

/**
 * What a hint file says of its data file: `dataLength`, the length an intact
 * hint (checksum, magic, version and file id all good) records, else null;
 * `size`, the hint file's own size (0 when it cannot be read). A data file
 * shorter than `dataLength` has lost bytes it once durably had; with the
 * hint damaged, nothing vouches for its length any more.
 */
export async function readHintedLength(fsys: FileSystem, path: string, fileId: number): Promise<{ dataLength: number | null; size: number }> {
  let buffer: Buffer;
  try {
    buffer = await readWholeFile(fsys, path);
  } catch {
    return { dataLength: null, size: 0 };
  }
  const damaged = { dataLength: null, size: buffer.length };
  if (buffer.length < HEADER_SIZE + 4) return damaged;
  const bodyEnd = buffer.length - 4;
  if (buffer.readUInt32LE(bodyEnd) !== crc32(buffer.subarray(0, bodyEnd))) return damaged;
  if (buffer.readUInt32LE(0) !== HINT_MAGIC || buffer.readUInt16LE(4) !== FORMAT_VERSION || buffer.readUInt32LE(8) !== fileId) return damaged;
  return { dataLength: buffer.readUInt32LE(12), size: buffer.length };
}
