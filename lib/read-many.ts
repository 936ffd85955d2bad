import { BlockCache } from './cache.js';
import { corruption, ioError } from './errors.js';
import type { FileSystem } from './filesystem.js';
import type { Location } from './keydir.js';
import { FLAG_TOMBSTONE, isRecordOf, RECORD_HEADER_SIZE, recordFlags, recordSize } from './record.js';
import type { DataFile } from './segment.js';

/**
 * A synchronous read slower than this did not come from memory or the page
 * cache (a cached `pread` of a record takes about 1.4 µs here; a thread-pool
 * round trip about 10 µs; an SSD read 50 µs or more): the data is on the disk,
 * and the rest of the call's reads are better issued in parallel.
 */
export const SLOW_READ_MS = 0.05;
/** Records this close in one file are fetched by one read: a page-cached extra page costs less than a thread-pool round trip. */
const COALESCE_GAP = 4096;
/** Longest single read that coalescing builds. */
const MAX_SPAN = 256 * 1024;

/** What getMany needs from the store. */
export interface ManyReadHost {
  fileSystem(): FileSystem;
  /** Whether the block cache holds the block with this cache key (BlockCache.keyOf), without counting a hit or a miss. */
  hasBlock(key: number): boolean;
  keepBlock(key: number, bytes: Buffer): void;
  /** The value of `key`, read at once, as getSync() reads it. */
  lookup(key: Uint8Array): Buffer | undefined;
  /** Where the newest value of `key` lives, or null when it has none. */
  locate(key: Uint8Array): Location | null;
  file(id: number): DataFile;
  /** The value at `location`, read at once (from the pending writes, a segment block or the file); throws KVCASK_CORRUPTION. */
  readSync(key: Uint8Array, location: Location): Buffer;
  /** Called after an asynchronous read of `file` ended: a file retired meanwhile may be closed now. */
  readDone(file: DataFile): void;
}

/** A record to fetch on the thread pool: `length` bytes at `position` of the file (physical, also in a segment). */
interface LateRecord {
  index: number;
  key: Buffer;
  file: DataFile;
  /** Where the index says the record is: its logical offset in a segment, named in errors. */
  offset: number;
  position: number;
  length: number;
}

/** A compressed segment block to fetch whole, for the records in it. */
interface LateBlock {
  file: DataFile;
  block: number;
  records: { index: number; key: Buffer; offset: number; size: number }[];
}

/**
 * The values of `keys` in order, undefined where missing: the work of
 * `Store.getMany`. Every key is located at the call, so the result is the
 * store as of the call (read-your-writes included), whenever the reads end.
 *
 * Reads are served synchronously while they are fast: missing keys and
 * pending writes never touch the disk, cached segment blocks are memory, and a
 * record in the page cache costs one `pread`, far less than a thread-pool
 * round trip. The time each key takes (its lookup and its read) is watched;
 * once one takes longer than SLOW_READ_MS the data is coming from the disk,
 * and every remaining read of a data file or segment goes to the thread pool
 * in parallel, sorted by file and position, with reads of nearby records
 * coalesced into one (a compressed block is read once for all its records).
 * So a call blocks the event loop for at most one read from the disk.
 */
export function readMany(host: ManyReadHost, keys: readonly Uint8Array[]): Promise<(Buffer | undefined)[]> {
  const values: (Buffer | undefined)[] = new Array(keys.length);
  let records: LateRecord[] | null = null;
  let blocks: Map<number, LateBlock> | null = null;
  let clock = performance.now();
  try {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (records === null) {
        values[i] = host.lookup(key);
        // One clock reading per key: the time since the previous one covers this key's lookup (with index: 'disk',
        // perhaps an index page read from the disk) and its read.
        const now = performance.now();
        if (now - clock > SLOW_READ_MS) {
          records = [];
          blocks = new Map();
        }
        clock = now;
        continue;
      }
      const location = host.locate(key);
      if (location === null) continue;
      const file = host.file(location.fileId);
      const size = recordSize(key.length, location.valueLength);
      if (location.offset + size > file.written && file.segment === null) {
        // Still in the writer's queue: memory.
        values[i] = host.readSync(key, location);
        continue;
      }
      const segment = file.segment;
      if (segment === null) {
        records.push({ index: i, key: Buffer.from(key), file, offset: location.offset, position: location.offset, length: size });
        continue;
      }
      const block = segment.blockHolding(location.offset, size);
      const cacheKey = BlockCache.keyOf(file.id, block);
      if (block < 0 || (!segment.isRaw(block) && host.hasBlock(cacheKey))) {
        // Memory, or a record the synchronous path reports as damaged.
        values[i] = host.readSync(key, location);
      } else if (segment.isRaw(block)) {
        const position = segment.rawPosition(block, location.offset);
        records.push({ index: i, key: Buffer.from(key), file, offset: location.offset, position, length: size });
      } else {
        let late = blocks!.get(cacheKey);
        if (late === undefined) blocks!.set(cacheKey, (late = { file, block, records: [] }));
        late.records.push({ index: i, key: Buffer.from(key), offset: location.offset, size });
      }
    }
  } catch (err) {
    return Promise.reject(err);
  }
  if (records === null || (records.length === 0 && blocks!.size === 0)) return Promise.resolve(values);
  const reads: Promise<void>[] = [];
  for (const group of coalesce(records)) reads.push(readRecords(host, group, values));
  for (const block of blocks!.values()) reads.push(readBlock(host, block, values));
  return Promise.all(reads).then(() => values);
}

/** Groups of records read together: sorted by file and position, neighbours within COALESCE_GAP joined up to MAX_SPAN bytes. */
function coalesce(records: LateRecord[]): LateRecord[][] {
  records.sort((a, b) => a.file.id - b.file.id || a.position - b.position);
  const groups: LateRecord[][] = [];
  let group: LateRecord[] = [];
  let start = 0;
  let end = 0;
  for (const record of records) {
    const last = group.length > 0 ? group[group.length - 1] : null;
    const joins =
      last !== null &&
      last.file === record.file &&
      record.position <= end + COALESCE_GAP &&
      Math.max(end, record.position + record.length) - start <= MAX_SPAN;
    if (!joins) {
      if (group.length > 0) groups.push(group);
      group = [];
      start = record.position;
      end = 0;
    }
    group.push(record);
    end = Math.max(end, record.position + record.length);
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * One read of the span of a group's records, then each record checked and its
 * value taken. The file counts the read among its readers from the call on, so
 * a merge that retires it meanwhile leaves its descriptor open until the read ends.
 */
function readRecords(host: ManyReadHost, group: LateRecord[], values: (Buffer | undefined)[]): Promise<void> {
  const { file } = group[0];
  const start = group[0].position;
  const end = group.reduce((most, record) => Math.max(most, record.position + record.length), 0);
  const bytes = Buffer.allocUnsafe(end - start);
  file.readers++;
  return host
      .fileSystem()
    .read(file.fd, bytes, 0, bytes.length, start)
    .then(
      (read) => {
        for (const record of group) {
          const from = record.position - start;
          if (from + record.length > read) throw corruption(`record of ${record.length} bytes runs past the end of the file`, file.path, record.offset);
          const value = valueIn(bytes.subarray(from, from + record.length), record.key, file, record.offset);
          // A value shared with others would keep the whole span in memory for as long as any of them lives.
          values[record.index] = group.length === 1 ? value : Buffer.from(value);
        }
      },
      (err) => {
        throw ioError('read', file.path, err);
      },
    )
    .finally(() => {
      file.readers--;
      host.readDone(file);
    });
}

/** Reads a compressed segment block whole, checks and decompresses it, keeps it in the block cache and takes its records' values. */
function readBlock(host: ManyReadHost, late: LateBlock, values: (Buffer | undefined)[]): Promise<void> {
  const { file, block } = late;
  const segment = file.segment!;
  file.readers++;
  return segment
    .blockAsync(host.fileSystem(), file.fd, block, Buffer.allocUnsafe(segment.stored[block]))
    .then((bytes) => {
      host.keepBlock(BlockCache.keyOf(file.id, block), bytes);
      const base = segment.starts[block];
      for (const record of late.records) {
        const from = record.offset - base;
        values[record.index] = Buffer.from(valueIn(bytes.subarray(from, from + record.size), record.key, file, record.offset));
      }
    })
    .finally(() => {
      file.readers--;
      host.readDone(file);
    });
}

/** The value in `record` when it is an intact live record of `key`; anything else where the index points is corruption. */
function valueIn(record: Buffer, key: Uint8Array, file: DataFile, offset: number): Buffer {
  if (!isRecordOf(record, key) || (recordFlags(record, 0) & FLAG_TOMBSTONE) !== 0) throw corruption('record failed its checksum', file.path, offset);
  return record.subarray(RECORD_HEADER_SIZE + key.length);
}
