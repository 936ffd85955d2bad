import { crc32 } from 'node:zlib';
import { compareKey } from './key-order.js';

/**
 * Byte layouts of a data file (docs/format.md is the reference):
 *
 *   file header (16 B) | frame | frame | ...
 *   frame  = frame header (16 B) | record | record | ...   one group commit, applied whole or not at all
 *   record = crc32 u32 | seq u64 | flags u8 | 0 u8 | key length u16 | value length u32 | key | value
 *
 * All integers are little-endian. A record's CRC covers every byte after it;
 * a frame header's CRC covers its first 12 bytes, and the frame is valid only
 * if each record in it is.
 */
export const FORMAT_VERSION = 1;
export const FILE_HEADER_SIZE = 16;
export const FRAME_HEADER_SIZE = 16;
export const RECORD_HEADER_SIZE = 20;
export const MAX_KEY_SIZE = 0xffff;
/** Offsets inside a data file are u32, so no file, and no record, may pass 4 GiB. */
export const MAX_FILE_SIZE = 0xffffffff;

export const FLAG_TOMBSTONE = 1;
const KNOWN_FLAGS = FLAG_TOMBSTONE;

const DATA_MAGIC = 0x4443564b; // "KVCD"
const FRAME_MAGIC = 0x5246564b; // "KVFR"
export const FRAME_MAGIC_BYTES = Buffer.from('KVFR', 'latin1');
const TWO_32 = 0x100000000;

export function encodeFileHeader(fileId: number): Buffer {
  const header = Buffer.alloc(FILE_HEADER_SIZE);
  header.writeUInt32LE(DATA_MAGIC, 0);
  header.writeUInt16LE(FORMAT_VERSION, 4);
  header.writeUInt32LE(fileId, 8);
  header.writeUInt32LE(crc32(header.subarray(0, 12)), 12);
  return header;
}

export type FileHeaderCheck = 'ok' | 'damaged' | 'other-version';

export function checkFileHeader(header: Buffer, fileId: number): FileHeaderCheck {
  if (header.length < FILE_HEADER_SIZE) return 'damaged';
  if (header.readUInt32LE(0) !== DATA_MAGIC) return 'damaged';
  if (header.readUInt32LE(12) !== crc32(header.subarray(0, 12))) return 'damaged';
  if (header.readUInt16LE(4) !== FORMAT_VERSION) return 'other-version';
  return header.readUInt32LE(8) === fileId ? 'ok' : 'damaged';
}

export function writeFrameHeader(buffer: Buffer, position: number, length: number, count: number): void {
  buffer.writeUInt32LE(FRAME_MAGIC, position);
  buffer.writeUInt32LE(length, position + 4);
  buffer.writeUInt32LE(count, position + 8);
  buffer.writeUInt32LE(crc32(buffer.subarray(position, position + 12)), position + 12);
}

/**
 * Returns the byte length of the frame's records when the frame header at
 * `position` is intact, or -1. Its records still have to be checked.
 */
export function frameLength(buffer: Buffer, position: number): number {
  if (position + FRAME_HEADER_SIZE > buffer.length) return -1;
  if (buffer.readUInt32LE(position) !== FRAME_MAGIC) return -1;
  if (buffer.readUInt32LE(position + 12) !== crc32(buffer.subarray(position, position + 12))) return -1;
  return buffer.readUInt32LE(position + 4);
}

export function frameCount(buffer: Buffer, position: number): number {
  return buffer.readUInt32LE(position + 8);
}

export function recordSize(keyLength: number, valueLength: number): number {
  return RECORD_HEADER_SIZE + keyLength + valueLength;
}

/**
 * Encodes one record at `position`. A string value is encoded straight into
 * the buffer, never through a temporary one.
 */
export function writeRecord(
  buffer: Buffer,
  position: number,
  seq: number,
  flags: number,
  key: Uint8Array,
  value: Uint8Array | string | null,
  valueLength: number,
): number {
  buffer.writeUInt32LE(seq % TWO_32, position + 4);
  buffer.writeUInt32LE(Math.floor(seq / TWO_32), position + 8);
  buffer[position + 12] = flags;
  buffer[position + 13] = 0;
  buffer.writeUInt16LE(key.length, position + 14);
  buffer.writeUInt32LE(valueLength, position + 16);
  const keyStart = position + RECORD_HEADER_SIZE;
  buffer.set(key, keyStart);
  const valueStart = keyStart + key.length;
  if (typeof value === 'string') buffer.write(value, valueStart, valueLength, 'utf8');
  else if (value !== null) buffer.set(value, valueStart);
  const end = valueStart + valueLength;
  buffer.writeUInt32LE(crc32(buffer.subarray(position + 4, end)), position);
  return end;
}

/**
 * Returns the size of the intact record at `position` that ends no later than
 * `end`, or -1 when its lengths overrun, its flags are unknown or its CRC fails.
 */
export function checkRecord(buffer: Buffer, position: number, end: number): number {
  const size = checkRecordHeader(buffer, position, end);
  if (size < 0 || buffer.readUInt32LE(position) !== crc32(buffer.subarray(position + 4, position + size))) return -1;
  return size;
}

/** Whether the whole of `record` is one intact record (CRC included) whose key is `key`, value or tombstone. */
export function isRecordOf(record: Buffer, key: Uint8Array): boolean {
  return checkRecord(record, 0, record.length) === record.length && recordKeyLength(record, 0) === key.length && compareKey(key, record, RECORD_HEADER_SIZE, key.length) === 0;
}

/**
 * checkRecord without the CRC: the size of the record at `position` when its
 * header is well formed and it ends no later than `end`, else -1.
 */
export function checkRecordHeader(buffer: Buffer, position: number, end: number): number {
  if (position + RECORD_HEADER_SIZE > end) return -1;
  if (buffer[position + 13] !== 0 || (buffer[position + 12] & ~KNOWN_FLAGS) !== 0) return -1;
  const size = RECORD_HEADER_SIZE + buffer.readUInt16LE(position + 14) + buffer.readUInt32LE(position + 16);
  return position + size > end ? -1 : size;
}

export function recordSeq(buffer: Buffer, position: number): number {
  return buffer.readUInt32LE(position + 4) + buffer.readUInt32LE(position + 8) * TWO_32;
}

export function recordFlags(buffer: Buffer, position: number): number {
  return buffer[position + 12];
}

export function recordKeyLength(buffer: Buffer, position: number): number {
  return buffer.readUInt16LE(position + 14);
}

export function recordValueLength(buffer: Buffer, position: number): number {
  return buffer.readUInt32LE(position + 16);
}

/** A view of the record's key bytes (valid as long as `buffer` is). */
export function recordKey(buffer: Buffer, position: number): Buffer {
  const start = position + RECORD_HEADER_SIZE;
  return buffer.subarray(start, start + recordKeyLength(buffer, position));
}
