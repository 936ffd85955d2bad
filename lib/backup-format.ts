import { crc32 } from 'node:zlib';
import { corruption, KvcaskError, codes } from './errors.js';
import { LARGEST_VALUE_SIZE } from './options.js';

/**
 * The backup stream (docs/format.md, "Backup stream" is the reference):
 *
 *   header (32 B):  "KVCB" | version u16 | 0 u16 | seq u64 | entry count u64 | 0 u32 | crc32 of bytes 0-27
 *   entry:          type 1 u8 | 0 u8 | key length u16 | value length u32 | crc32 of bytes 0-7 | crc32 of key and value | key | value
 *   trailer (20 B): type 2 u8 | 0 u8 | 0 u16 | entry count u64 | crc32 of every stream byte before the trailer | crc32 of bytes 0-15
 *
 * Entries come in strictly ascending key order. Lengths are believed only
 * after the CRC over them matched, so a damaged length never makes a reader
 * allocate or wait for bytes that are not there.
 */
export const BACKUP_VERSION = 1;
export const BACKUP_HEADER_SIZE = 32;
export const ENTRY_HEADER_SIZE = 16;
export const TRAILER_SIZE = 20;
const BACKUP_MAGIC = 0x4243564b; // "KVCB"
const TYPE_ENTRY = 1;
const TYPE_TRAILER = 2;
const TWO_32 = 0x100000000;

function writeU64(buffer: Buffer, value: number, at: number): void {
  buffer.writeUInt32LE(value % TWO_32, at);
  buffer.writeUInt32LE(Math.floor(value / TWO_32), at + 4);
}

function readU64(buffer: Buffer, at: number): number {
  return buffer.readUInt32LE(at) + buffer.readUInt32LE(at + 4) * TWO_32;
}

export function encodeBackupHeader(seq: number, entries: number): Buffer {
  const header = Buffer.alloc(BACKUP_HEADER_SIZE);
  header.writeUInt32LE(BACKUP_MAGIC, 0);
  header.writeUInt16LE(BACKUP_VERSION, 4);
  writeU64(header, seq, 8);
  writeU64(header, entries, 16);
  header.writeUInt32LE(crc32(header.subarray(0, 28)), 28);
  return header;
}

/** The entry's 16-byte header; the key and the value follow it in the stream. */
export function encodeEntryHeader(key: Uint8Array, value: Uint8Array): Buffer {
  const header = Buffer.alloc(ENTRY_HEADER_SIZE);
  header[0] = TYPE_ENTRY;
  header.writeUInt16LE(key.length, 2);
  header.writeUInt32LE(value.length, 4);
  header.writeUInt32LE(crc32(header.subarray(0, 8)), 8);
  header.writeUInt32LE(crc32(value, crc32(key)), 12);
  return header;
}

export function encodeTrailer(entries: number, streamCrc: number): Buffer {
  const trailer = Buffer.alloc(TRAILER_SIZE);
  trailer[0] = TYPE_TRAILER;
  writeU64(trailer, entries, 4);
  trailer.writeUInt32LE(streamCrc, 12);
  trailer.writeUInt32LE(crc32(trailer.subarray(0, 16)), 16);
  return trailer;
}

export interface BackupHeader {
  seq: number;
  entries: number;
}

/** Exact-size reads from an async iterable of byte chunks, counting the offset for error messages. */
class ByteSource {
  private readonly pending: Buffer[] = [];
  private available = 0;
  /** Bytes handed out so far. */
  offset = 0;

  constructor(private readonly chunks: AsyncIterator<unknown>) {}

  /** Exactly `n` bytes, or null when the stream ends first. */
  async take(n: number): Promise<Buffer | null> {
    while (this.available < n) if (!(await this.pull())) return null;
    this.available -= n;
    this.offset += n;
    const first = this.pending[0];
    if (first.length >= n) {
      this.consumeFirst(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    for (let filled = 0; filled < n; ) {
      const chunk = this.pending[0];
      const count = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, count);
      this.consumeFirst(count);
      filled += count;
    }
    return out;
  }

  /** Whether the stream has no byte left. */
  async atEnd(): Promise<boolean> {
    while (this.available === 0) if (!(await this.pull())) return true;
    return false;
  }

  private consumeFirst(count: number): void {
    if (count === this.pending[0].length) this.pending.shift();
    else this.pending[0] = this.pending[0].subarray(count);
  }

  private async pull(): Promise<boolean> {
    const step = await this.chunks.next();
    if (step.done) return false;
    const value = step.value;
    let chunk: Buffer;
    if (Buffer.isBuffer(value)) chunk = value;
    else if (value instanceof Uint8Array) chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    else throw new TypeError('a backup stream must yield Buffers or Uint8Arrays (is it in object mode, or has it an encoding set?)');
    if (chunk.length > 0) {
      this.pending.push(chunk);
      this.available += chunk.length;
    }
    return true;
  }
}

/**
 * Reads and verifies a backup stream: header(), then next() until it returns
 * null, which it does only after the trailer checked out and the stream ended.
 * Anything else (a checksum, a count, the order of keys, missing or extra
 * bytes) throws KVCASK_CORRUPTION naming `name` and the offset.
 */
export class BackupReader {
  private readonly source: ByteSource;
  private streamCrc = 0;
  private count = 0;
  private expected = 0;
  private previous: Buffer | null = null;

  constructor(
    chunks: AsyncIterable<unknown>,
    private readonly name: string,
  ) {
    this.source = new ByteSource(chunks[Symbol.asyncIterator]());
  }

  get offset(): number {
    return this.source.offset;
  }

  async header(): Promise<BackupHeader> {
    const header = await this.take(BACKUP_HEADER_SIZE, 'the header');
    if (header.readUInt32LE(0) !== BACKUP_MAGIC) throw this.damaged('not a kvcask backup (bad magic)', 0);
    if (header.readUInt32LE(28) !== crc32(header.subarray(0, 28))) throw this.damaged('backup header failed its checksum', 0);
    const version = header.readUInt16LE(4);
    if (version !== BACKUP_VERSION) {
      throw new KvcaskError(codes.VERSION, `${this.name} is a backup of format version ${version}; this kvcask reads version ${BACKUP_VERSION}`, {
        file: this.name,
        offset: 4,
      });
    }
    this.streamCrc = crc32(header);
    this.expected = readU64(header, 16);
    return { seq: readU64(header, 8), entries: this.expected };
  }

  /** The next entry, or null once the verified trailer ended the stream. */
  async next(): Promise<{ key: Buffer; value: Buffer } | null> {
    const at = this.source.offset;
    const head = await this.take(ENTRY_HEADER_SIZE, 'an entry or the trailer');
    if (head[0] === TYPE_TRAILER) return this.trailer(head, at);
    if (head[0] !== TYPE_ENTRY || head[1] !== 0 || head.readUInt32LE(8) !== crc32(head.subarray(0, 8))) {
      throw this.damaged('entry header failed its checksum', at);
    }
    const keyLength = head.readUInt16LE(2);
    const valueLength = head.readUInt32LE(4);
    if (valueLength > LARGEST_VALUE_SIZE) throw this.damaged(`entry claims a value of ${valueLength} bytes, more than a store can hold`, at);
    const body = await this.take(keyLength + valueLength, 'an entry');
    if (head.readUInt32LE(12) !== crc32(body)) throw this.damaged('entry failed its checksum', at);
    const key = body.subarray(0, keyLength);
    if (this.previous !== null && Buffer.compare(this.previous, key) >= 0) throw this.damaged('entries out of key order', at);
    this.previous = key;
    this.streamCrc = crc32(body, crc32(head, this.streamCrc));
    this.count++;
    return { key, value: body.subarray(keyLength) };
  }

  private async trailer(head: Buffer, at: number): Promise<null> {
    const trailer = Buffer.concat([head, await this.take(TRAILER_SIZE - ENTRY_HEADER_SIZE, 'the trailer')]);
    if (trailer.readUInt32LE(16) !== crc32(trailer.subarray(0, 16)) || trailer[1] !== 0 || trailer.readUInt16LE(2) !== 0) {
      throw this.damaged('trailer failed its checksum', at);
    }
    const entries = readU64(trailer, 4);
    if (entries !== this.count || entries !== this.expected) {
      throw this.damaged(`trailer counts ${entries} entries, the header ${this.expected}, the stream holds ${this.count}`, at);
    }
    if (trailer.readUInt32LE(12) !== this.streamCrc) throw this.damaged('stream checksum in the trailer does not match', at);
    if (!(await this.source.atEnd())) throw this.damaged('bytes after the trailer', this.source.offset);
    return null;
  }

  private async take(n: number, what: string): Promise<Buffer> {
    const at = this.source.offset;
    const bytes = await this.source.take(n);
    if (bytes === null) throw this.damaged(`backup is truncated: it ends inside ${what}, with no trailer`, at);
    return bytes;
  }

  private damaged(message: string, offset: number): KvcaskError {
    return corruption(message, this.name, offset);
  }
}
