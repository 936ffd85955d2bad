import { dirname, resolve as resolvePath } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { type Bytes, describe, keyBytes, valueLength } from './encoding.js';
import { codes, corruption, ioError, KvcaskError } from './errors.js';
import { fileSize, type FileSystem, readWholeFile, writeFileAtomically } from './filesystem.js';
import { KeyHashes } from './bloom.js';
import { BlockCache } from './cache.js';
import { DiskIndex, TOMBSTONE_LENGTH } from './disk-index.js';
import { FILTER_FILE, GlobalFilter } from './global-filter.js';
import { nextDiskPage } from './disk-range.js';
import { NewestRecords, readHint, readHintedLength } from './hint.js';
import { IndexFile, PAGE_SLOT_BYTES, writeIndexFile } from './index-file.js';
import { PageCache } from './page-cache.js';
import { applyCounts, countLive, COUNTS_FILE, decodeCounts, encodeCounts, type LiveCounts } from './live-counts.js';
import {
  type CompactOptions,
  completeMerge,
  type MergeHost,
  type MergeResult,
  type MergeRun,
  pendingIndexName,
  planMerge,
  recoverMerge,
  relocate,
  relocateRange,
  writeMarker,
  writeMergeOutputs,
} from './merge.js';
import { openSegment, type SealedSegment, scanSegment, segmentFileName } from './sealed-segment.js';
import { hashOf, Keydir, type Location, type Snapshot, tableHash } from './keydir.js';
import { type DirectoryLock, lockDirectory } from './lock.js';
import { type OpenOptions, type ResolvedOptions, resolveOptions, type SyncMode } from './options.js';
import { nextPage, type Page, type RangeOptions, type ResolvedRange, resolveRange } from './range.js';
import { ReadBuffer } from './read-buffer.js';
import { type ManyReadHost, readMany } from './read-many.js';
import { ReadSnapshot } from './read-snapshot.js';
import {
  checkFileHeader,
  checkRecord,
  FILE_HEADER_SIZE,
  FLAG_TOMBSTONE,
  FORMAT_VERSION,
  FRAME_HEADER_SIZE,
  MAX_FILE_SIZE,
  RECORD_HEADER_SIZE,
  recordFlags,
  recordKey,
  recordKeyLength,
  recordSize,
} from './record.js';
import {
  type DamagedRange,
  type DataFile,
  dataFileName,
  deadBytes as deadBytesOf,
  fileBytes,
  hintFileName,
  indexFileName,
  newDataFile,
  nextDataFileId,
  parseFileName,
  parseIndexFileName,
  recordBytes,
  type ScannedRecord,
  scanDataFile,
} from './segment.js';
import { type SnapshotOptions, type SnapshotSummary, writeSnapshot } from './snapshot.js';
import { OwedRetires } from './owed-retires.js';
import { BACKGROUND_SLICE_MS, noPause, TimeSlice } from './time-slice.js';
import { type Group, Writer } from './writer.js';

export type BatchOperation = { type: 'put'; key: Bytes; value: Bytes } | { type: 'del'; key: Bytes };

export interface FileStats {
  id: number;
  name: string;
  /** Bytes on disk. */
  bytes: number;
  /** Bytes its records take uncompressed (for a data file, its size less the header). */
  rawBytes: number;
  liveBytes: number;
  deadBytes: number;
  liveKeys: number;
  sealed: boolean;
  /** Whether it is a sealed segment (LZ4 blocks or raw blocks) rather than a data file. */
  segment: boolean;
}

export interface MergeStats {
  /** Merges committed since open. */
  completed: number;
  running: boolean;
  /** Bytes on disk of the files merges replaced, and of what they wrote instead. */
  bytesBefore: number;
  bytesAfter: number;
  /** The last automatic merge's failure, if it failed (the store keeps serving; merges are retried). */
  lastError: string | null;
}

export interface DamageReport {
  file: string;
  offset: number;
  length: number;
}

export interface RecoveryStats {
  /** Bytes cut from the end of the newest data file at open: a write torn by a crash. */
  truncatedBytes: number;
  /** Bytes of damaged frames skipped inside data files (never the torn tail). */
  skippedBytes: number;
  damaged: DamageReport[];
  /** Data files indexed by scanning because their hint file (index: 'disk': index file) was missing or invalid. */
  scannedFiles: number;
  /** index: 'disk': index files found damaged, or not matching their data file, and rebuilt from it. */
  rebuiltIndexes: number;
  /** index: 'disk': files whose live counts were counted from their indexes (no clean close saved them). */
  countedFiles: number;
}

export interface Stats {
  keys: number;
  sync: SyncMode;
  files: FileStats[];
  liveBytes: number;
  deadBytes: number;
  /** Estimated bytes of memory held by the index (see docs/performance.md). */
  indexMemoryBytes: number;
  /** The sequence number of the newest record. */
  seq: number;
  recovery: RecoveryStats;
  /** Hint files that could not be written (the data file is scanned at the next open instead). */
  hintFailures: number;
  /** Bytes on disk of every file, and what their records take uncompressed. */
  diskBytes: number;
  rawBytes: number;
  merges: MergeStats;
  blockCache: { bytes: number; budget: number; hits: number; misses: number };
  /** index: 'disk': the index pages held (`bytes`: their slots), `budget` (indexCacheSize), and lookups of pages since open. */
  indexCache: { bytes: number; budget: number; hits: number; misses: number };
}

const RANGE_PAGE = 256;
/** Keys leaving the memory part per turn of the event loop once their file's index is written. */
const LEAVE_CHUNK = 10_000;
/** Owed retires few enough to settle in one turn of the event loop (OwedRetires). */
const OWED_SETTLED_AT_ONCE = 1_000;
/** Owed retires sorted together, so that no sort holds the event loop for long. */
const OWED_SORTED_AT_ONCE = 65_536;
const ignore = () => {};

export class Store implements MergeHost {
  /**
   * @internal The whole index with index: 'memory'. With index: 'disk', only the keys whose newest
   * record is in a file without an on-disk index yet (the active file, a file being sealed), deletes
   * included (value length TOMBSTONE_LENGTH), so that it always wins over `disk`.
   */
  readonly keydir = new Keydir();
  /** The sealed files' on-disk indexes (index: 'disk'), else null. */
  private readonly disk: DiskIndex | null;
  private readonly indexCache: PageCache;
  /** The on-disk indexes each snapshot reads (index: 'disk'). */
  private readonly snapshotIndexes = new WeakMap<Snapshot, readonly IndexFile[]>();
  /** Files whose index is being written or whose keys are leaving the memory part: not yet mergeable. */
  private readonly indexing = new Map<number, Promise<void>>();
  /** With index: 'disk', memory-part slots whose older record on disk is not yet counted as overwritten. */
  private readonly owed = new OwedRetires();
  /** With index: 'disk', per data file not yet indexed: how many keys it put in the memory part (an upper bound). */
  private readonly memoryKeys = new Map<number, number>();
  /** The sum of memoryKeys, kept as it changes: a paced write over the bound must not walk the map. */
  private memoryKeysTotal = 0;
  /** Sealed files are indexed one at a time, oldest first: one file's newest records in memory at once. */
  private indexQueue: Promise<void> = Promise.resolve();
  /** Writes held back until waitingKeys is back within maxMemoryKeys. */
  private readonly stalled: (() => void)[] = [];
  /** Background work need not leave room for requests while writes wait on it, or once close() (which waits for it) has begun. */
  private readonly urgent = () => this.closed || this.stalled.length > 0;
  /**
   * While a merge runs with index: 'disk': its inputs, and each change to their live records as
   * (file, offset, +1 or -1, stamp); only changes stamped after a record was copied touch its copy's count.
   */
  private mergeInputs: ReadonlySet<number> | null = null;
  private changeClock = 0;
  /** Index files a merge took out of use, by file id, open until no snapshot can read them (see closeRetired). */
  private readonly retiredIndexes = new Map<number, IndexFile>();
  private readonly mergeChanges: number[] = [];
  /** Set when an index read failed while counting: the live counts may be off, so a close must not save them. */
  private countsUnsure = false;
  private readonly files = new Map<number, DataFile>();
  private readonly cache: BlockCache;
  private readonly readBuffer = new ReadBuffer();
  /** Reused by every disk-mode point read, so that a hit allocates no location and a key is hashed once. */
  private readonly located: Location = { fileId: 0, offset: 0, valueLength: 0 };
  private readonly keyHashes = new KeyHashes();
  private merging: Promise<unknown> = Promise.resolve();
  private mergeRunning = false;
  private readonly mergeAbort = new AbortController();
  /** Set when a merge failed after its switch: what is on disk may disagree with memory, so no more merges until reopened. */
  private mergeBroken: KvcaskError | null = null;
  private readonly mergeStats: MergeStats = { completed: 0, running: false, bytesBefore: 0, bytesAfter: 0, lastError: null };
  /** Files retired by a merge, each waiting for the snapshots that were open when it was retired. */
  private readonly retiring = new Map<DataFile, Set<Snapshot>>();
  private writer!: Writer;
  private seq = 1;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly background = new Set<Promise<void>>();
  private hintFailures = 0;
  private readonly recovery: RecoveryStats = { truncatedBytes: 0, skippedBytes: 0, damaged: [], scannedFiles: 0, rebuiltIndexes: 0, countedFiles: 0 };
  readonly fileSystem: FileSystem;

  /** @internal The on-disk index (index: 'disk'), else null: for tests of its global filter. */
  get diskIndex(): DiskIndex | null {
    return this.disk;
  }

  /** @internal Use open(). */
  constructor(
    readonly dir: string,
    readonly options: ResolvedOptions,
    private readonly lock: DirectoryLock,
  ) {
    this.fileSystem = options.fileSystem;
    this.cache = new BlockCache(options.blockCacheSize);
    this.indexCache = new PageCache(options.indexCacheSize, PAGE_SLOT_BYTES);
    this.disk = options.index === 'disk' ? new DiskIndex() : null;
    this.keydir.onForget = () => this.closeRetired();
  }

  // ---- writes -------------------------------------------------------------

  /** Stores `value` under `key`. Readable at once; the promise resolves once durable as the sync option says. */
  set(key: Bytes, value: Bytes): Promise<void> {
    const bytes = keyBytes(key);
    const length = valueLength(value);
    try {
      this.checkWritable(bytes, length);
      const group = this.writer.reserve(recordSize(bytes.length, length));
      const offset = group.append(this.seq++, 0, bytes, value, length);
      this.point(group, bytes, offset, length);
      return this.paced(this.writer.commit(group));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Deletes `key` by appending a tombstone. Deleting a missing key is a no-op that resolves at once. */
  delete(key: Bytes): Promise<void> {
    const bytes = keyBytes(key);
    try {
      this.checkWritable(bytes, 0);
      if (!this.isLive(bytes)) return Promise.resolve();
      const group = this.writer.reserve(recordSize(bytes.length, 0));
      const offset = group.append(this.seq++, FLAG_TOMBSTONE, bytes, null, 0);
      this.unpoint(group, bytes, offset);
      return this.paced(this.writer.commit(group));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Applies every operation or, also across a crash, none: they are written as one frame. */
  batch(operations: readonly BatchOperation[]): Promise<void> {
    if (!Array.isArray(operations)) throw new TypeError(`batch() takes an array of operations, got ${describe(operations)}`);
    const keys: Uint8Array[] = [];
    const lengths: number[] = [];
    let total = 0;
    operations.forEach((operation, i) => {
      if (typeof operation !== 'object' || operation === null) throw new TypeError(`operation ${i} must be an object, got ${describe(operation)}`);
      if (operation.type !== 'put' && operation.type !== 'del') {
        throw new TypeError(`operation ${i} must have type 'put' or 'del', got ${JSON.stringify((operation as { type: unknown }).type)}`);
      }
      const key = keyBytes(operation.key, `operation ${i} key`);
      const length = operation.type === 'put' ? valueLength(operation.value) : 0;
      keys.push(key);
      lengths.push(length);
      total += recordSize(key.length, length);
    });
    try {
      for (let i = 0; i < keys.length; i++) this.checkWritable(keys[i], lengths[i]);
      if (keys.length === 0) return Promise.resolve();
      if (total > MAX_FILE_SIZE - FILE_HEADER_SIZE - FRAME_HEADER_SIZE) {
        throw new KvcaskError(codes.VALUE_TOO_LARGE, `a batch of ${total} bytes cannot fit in one data file (4 GiB)`);
      }
      const group = this.writer.reserve(total);
      for (let i = 0; i < keys.length; i++) {
        const operation = operations[i];
        if (operation.type === 'put') {
          const offset = group.append(this.seq++, 0, keys[i], operation.value, lengths[i]);
          this.point(group, keys[i], offset, lengths[i]);
        } else {
          // Space was reserved for it either way; a tombstone for a missing key is harmless.
          const offset = group.append(this.seq++, FLAG_TOMBSTONE, keys[i], null, 0);
          this.unpoint(group, keys[i], offset);
        }
      }
      return this.paced(this.writer.commit(group));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private checkWritable(key: Uint8Array, length: number): void {
    if (this.closed) throw new KvcaskError(codes.CLOSED, 'the store is closed');
    if (key.length > this.options.maxKeySize) {
      throw new KvcaskError(codes.KEY_TOO_LARGE, `key of ${key.length} bytes exceeds maxKeySize (${this.options.maxKeySize})`);
    }
    if (length > this.options.maxValueSize) {
      throw new KvcaskError(codes.VALUE_TOO_LARGE, `value of ${length} bytes exceeds maxValueSize (${this.options.maxValueSize})`);
    }
    if (this.writer.failure) throw this.writer.failure;
  }

  /**
   * Points the index at a new record. One index lookup serves the undo entry
   * (what the key pointed to, in case the group fails), the live-bytes
   * accounting and the update itself.
   */
  private point(group: Group, key: Uint8Array, offset: number, length: number): void {
    const slot = this.keydir.find(key);
    this.rememberForUndo(group, offset, slot);
    this.holdInMemory(group.file, slot);
    if (slot >= 0) {
      this.retire(slot, key.length);
      this.keydir.update(slot, key, group.file.id, offset, length);
    } else {
      this.hideOnDisk(key, this.keydir.add(key, group.file.id, offset, length));
    }
    this.credit(group.file, key.length, length);
  }

  private unpoint(group: Group, key: Uint8Array, offset: number): void {
    const slot = this.keydir.find(key);
    this.rememberForUndo(group, offset, slot);
    this.holdInMemory(group.file, slot);
    if (slot >= 0) this.retire(slot, key.length);
    if (this.disk !== null) {
      // The key's older records stay on disk: the delete must be remembered to hide them.
      if (slot >= 0) this.keydir.update(slot, key, group.file.id, offset, TOMBSTONE_LENGTH);
      else this.hideOnDisk(key, this.keydir.add(key, group.file.id, offset, TOMBSTONE_LENGTH));
    } else if (slot >= 0) {
      this.keydir.removeAt(slot, key);
    }
  }

  /**
   * With index: 'disk', counts a key that a write to `file` is about to put in
   * the memory part (`slot`: where the key is now, or -1), and seals the active
   * file once it holds maxMemoryKeys of them, so that the memory part stays bounded.
   */
  private holdInMemory(file: DataFile, slot: number): void {
    if (this.disk === null || (slot >= 0 && this.keydir.fileOf(slot) === file.id)) return;
    const count = this.countMemoryKeys(file.id, 1);
    if (count >= this.options.maxMemoryKeys && file === this.writer.active) this.track(this.writer.rotate());
  }

  /**
   * A write's promise, held back while sealed files waiting for their index
   * hold more than maxMemoryKeys keys in memory: a writer that awaits its
   * writes then cannot outrun indexing, so the memory part stays bounded.
   */
  private paced(write: Promise<void>): Promise<void> {
    // The total bounds the waiting keys from above: most writes need not look the active file's count up.
    if (this.disk === null || this.memoryKeysTotal <= this.options.maxMemoryKeys || this.waitingKeys <= this.options.maxMemoryKeys) return write;
    return write.then(() => this.caughtUp());
  }

  private caughtUp(): Promise<void> {
    if (this.waitingKeys <= this.options.maxMemoryKeys || this.writer.failure !== null) return Promise.resolve();
    return new Promise((resolve) => this.stalled.push(resolve));
  }

  /** Adds `keys` to the count of keys `fileId` put in the memory part; returns its new count. */
  private countMemoryKeys(fileId: number, keys: number): number {
    const count = (this.memoryKeys.get(fileId) ?? 0) + keys;
    this.memoryKeys.set(fileId, count);
    this.memoryKeysTotal += keys;
    return count;
  }

  /** The keys that files no longer active hold in the memory part until their index is written. */
  private get waitingKeys(): number {
    return this.memoryKeysTotal - (this.memoryKeys.get(this.writer.active.id) ?? 0);
  }

  /** A sealed file's keys left the memory part (or never will, its indexing having failed): held-back writes may go on. */
  private releaseMemoryKeys(fileId: number): void {
    this.memoryKeysTotal -= this.memoryKeys.get(fileId) ?? 0;
    this.memoryKeys.delete(fileId);
    if (this.waitingKeys <= this.options.maxMemoryKeys) for (const resolve of this.stalled.splice(0)) resolve();
  }

  /**
   * @internal Called by the writer once it refuses writes. A file it was sealing is then never indexed, so its
   * keys would hold writes back for ever; and the memory part takes no more keys, so nothing need wait.
   */
  failed(): void {
    for (const resolve of this.stalled.splice(0)) resolve();
  }

  /**
   * With index: 'disk', the new memory-part entry at `slot` hides the key's
   * newest record on disk, if it has one: counted as overwritten now while a
   * merge runs (its outputs' counts depend on when), else later (OwedRetires).
   */
  private hideOnDisk(key: Uint8Array, slot: number): void {
    if (this.disk === null) return;
    if (this.mergeInputs !== null) this.retireOnDisk(key);
    else this.owed.add(slot);
  }

  /**
   * Counts as overwritten every disk record that owed slots hide, in key
   * order, in slices of event-loop time until few are left; the caller then
   * settles the rest with settleOwed() in the same turn as the change that
   * needs exact counts.
   */
  private async settleOwedMostly(): Promise<void> {
    const slice = new TimeSlice(BACKGROUND_SLICE_MS, this.urgent);
    while (this.owed.size > OWED_SETTLED_AT_ONCE) {
      const before = this.owed.size;
      const listed = this.owed.list();
      for (let from = 0; from < listed.length; from += OWED_SORTED_AT_ONCE) {
        const slots = this.keysInOrder(listed, from, Math.min(listed.length, from + OWED_SORTED_AT_ONCE));
        for (let i = 0; i < slots.length; i++) {
          this.settleOwedSlot(slots[i]);
          if ((i & 255) === 255 && slice.spent) await slice.yield();
        }
      }
      // Writes of new keys outpaced the slices: the caller settles the rest in one go rather than chase them forever.
      if (this.owed.size >= before) return;
    }
  }

  /** Settles every owed slot now. */
  private settleOwed(): void {
    for (const slot of this.owed.list()) this.settleOwedSlot(slot);
  }

  private settleOwedSlot(slot: number): void {
    // Unmarked meanwhile: its write failed and was undone, or a later turn settled it.
    if (this.owed.delete(slot)) this.retireOnDisk(this.keydir.keyOf(slot));
  }

  /** slots[from, to) in key order: close keys look up the same index pages one after the other, which the page cache then holds. */
  private keysInOrder(slots: number[], from: number, to: number): Uint32Array {
    const sorted = Uint32Array.from(slots.slice(from, to));
    this.keydir.sortSlots(sorted);
    return sorted;
  }


  private rememberForUndo(group: Group, offset: number, slot: number): void {
    const position = offset - group.start;
    if (slot < 0) group.undo.push(position, -1, 0, 0);
    else group.undo.push(position, this.keydir.fileOf(slot), this.keydir.offsetOf(slot), this.keydir.valueLengthOf(slot));
  }

  /** The record at `slot` stops being live. */
  private retire(slot: number, keyLength: number): void {
    const length = this.keydir.valueLengthOf(slot);
    if (length === TOMBSTONE_LENGTH) return;
    const file = this.files.get(this.keydir.fileOf(slot));
    if (file) {
      file.liveBytes -= recordSize(keyLength, length);
      file.liveKeys--;
    }
  }

  /** With index: 'disk', the key's newest record on disk stops being live: the memory part is about to hide it. */
  private retireOnDisk(key: Uint8Array): void {
    this.countOnDisk(key, -1);
  }

  /** With index: 'disk', the key's newest record on disk is live again: the memory part stopped hiding it. */
  private creditOnDisk(key: Uint8Array): void {
    this.countOnDisk(key, 1);
  }

  private countOnDisk(key: Uint8Array, change: 1 | -1): void {
    if (this.disk === null) return;
    let location: Location | null;
    try {
      location = this.findOnDisk(key);
    } catch {
      // Only the live counts suffer (stats and the merge policy), and only until the next open counts them again;
      // the write itself, or the undo of a failed one, must go on.
      this.countsUnsure = true;
      return;
    }
    if (location === null || location.valueLength === TOMBSTONE_LENGTH) return;
    const file = this.files.get(location.fileId);
    if (!file) return;
    file.liveBytes += change * recordSize(key.length, location.valueLength);
    file.liveKeys += change;
    // A running merge may have copied this record already: its output's count changes too, at the switch.
    if (this.mergeInputs?.has(file.id)) this.mergeChanges.push(file.id, location.offset, change, ++this.changeClock);
  }

  private credit(file: DataFile | undefined, keyLength: number, valueLength: number): void {
    if (file) {
      file.liveBytes += recordSize(keyLength, valueLength);
      file.liveKeys++;
    }
  }

  /** @internal Called by the writer when a group failed: restores what its records replaced. */
  undo(group: Group): void {
    const { undo } = group;
    for (let i = undo.length - 4; i >= 0; i -= 4) {
      const key = recordKey(group.buffer, undo[i]);
      const fileId = undo[i + 1];
      this.restore(key, fileId === -1 ? null : { fileId, offset: undo[i + 2], valueLength: undo[i + 3] });
    }
  }

  // ---- reads --------------------------------------------------------------

  /** The value of `key`, or undefined, without a promise: the fastest read. */
  getSync(key: Bytes): Buffer | undefined {
    const bytes = keyBytes(key);
    this.checkOpen();
    return this.lookup(bytes);
  }

  /**
   * The value of `key`, or undefined. The read itself is synchronous: from the
   * page cache that is cheaper than a thread-pool hop (docs/performance.md).
   */
  get(key: Bytes): Promise<Buffer | undefined> {
    const bytes = keyBytes(key);
    try {
      this.checkOpen();
      return Promise.resolve(this.lookup(bytes));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Point read by hash alone: the record read from disk says whose it is, so
   * the index's copy of the key is never touched. On a hash collision the
   * record names another key and the next candidate is tried.
   */
  private lookup(key: Uint8Array): Buffer | undefined {
    if (this.disk !== null) {
      const location = this.located;
      return this.locateOnDisk(key, location) ? this.readValue(key, location.fileId, location.offset, location.valueLength) : undefined;
    }
    const { keydir } = this;
    const hash = hashOf(key);
    for (let entry = keydir.candidate(hash, -1); entry >= 0; entry = keydir.candidate(hash, entry)) {
      const fileId = keydir.entryFile(entry);
      const offset = keydir.entryOffset(entry);
      const file = this.files.get(fileId)!;
      // Sized by our key's length: another key's record may not even fit, which also means it is not ours.
      const value = this.valueIfKey(file, offset, recordSize(key.length, keydir.entryValueLength(entry)), key, false);
      if (value !== null) return value;
      // Another key's record, or a damaged one of ours: only the exact index can tell which.
      const slot = keydir.find(key);
      if (slot >= 0 && keydir.fileOf(slot) === fileId && keydir.offsetOf(slot) === offset) {
        throw corruption('record failed its checksum', file.path, offset);
      }
    }
    return undefined;
  }

  /** Whether `key` exists; answered from the index alone. */
  has(key: Bytes): boolean {
    const bytes = keyBytes(key);
    this.checkOpen();
    return this.isLive(bytes);
  }

  private isLive(key: Uint8Array): boolean {
    // With index: 'disk', the reused location of point reads: has() allocates none either.
    return this.disk === null ? this.keydir.find(key) >= 0 : this.locateOnDisk(key, this.located);
  }

  /** Where the newest value of `key` lives, or null if it has none: the memory part first, then the files newest first. */
  private locate(key: Uint8Array): Location | null {
    const { keydir } = this;
    if (this.disk !== null) {
      const location: Location = { fileId: 0, offset: 0, valueLength: 0 };
      return this.locateOnDisk(key, location) ? location : null;
    }
    const slot = keydir.find(key);
    if (slot < 0 || keydir.valueLengthOf(slot) === TOMBSTONE_LENGTH) return null;
    return { fileId: keydir.fileOf(slot), offset: keydir.offsetOf(slot), valueLength: keydir.valueLengthOf(slot) };
  }

  /**
   * locate() with index: 'disk', filling `out` rather than allocating: the key
   * is hashed once, for the memory part and the filters alike.
   */
  private locateOnDisk(key: Uint8Array, out: Location): boolean {
    const { keydir } = this;
    const hashes = this.keyHashes.of(key);
    const slot = keydir.findHashed(key, tableHash(hashes.fnv));
    if (slot < 0) {
      try {
        return this.disk!.find(key, hashes, this.disk!.indexes, out) && out.valueLength !== TOMBSTONE_LENGTH;
      } catch (err) {
        this.noticeDamage(err);
        throw err;
      }
    }
    out.valueLength = keydir.valueLengthOf(slot);
    out.fileId = keydir.fileOf(slot);
    out.offset = keydir.offsetOf(slot);
    return out.valueLength !== TOMBSTONE_LENGTH;
  }

  /** The newest record of `key` in the on-disk indexes; a damaged index page is reported and its index rebuilt. */
  private findOnDisk(key: Uint8Array, indexes = this.disk!.indexes): Location | null {
    try {
      return this.disk!.locate(key, indexes);
    } catch (err) {
      this.noticeDamage(err);
      throw err;
    }
  }

  /** An index file that failed its checks is not trusted again: it is rebuilt from its data file. */
  private noticeDamage(err: unknown): void {
    if (this.disk === null || !(err instanceof KvcaskError) || err.code !== codes.CORRUPTION) return;
    const match = /(\d{8,10})\.kvx$/.exec(err.file ?? '');
    const file = match ? this.files.get(Number(match[1])) : undefined;
    if (!file || file.retired || this.closed || this.indexing.has(file.id)) return;
    const done = this.rebuildIndex(file)
      .catch(ignore).finally(() => this.indexing.delete(file.id));
    this.indexing.set(file.id, done);
    this.track(done);
  }

  /** The values of several keys, in order (undefined where missing); reads that wait on the disk run in parallel (read-many.ts). */
  getMany(keys: readonly Bytes[]): Promise<(Buffer | undefined)[]> {
    if (!Array.isArray(keys)) throw new TypeError(`getMany() takes an array of keys, got ${describe(keys)}`);
    const bytes = keys.map((key, i) => keyBytes(key, `key ${i}`));
    try {
      this.checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    const reads = readMany(this.manyReads, bytes);
    this.track(reads);
    return reads;
  }

  private readonly manyReads: ManyReadHost = {
    fileSystem: () => this.fileSystem,
    hasBlock: (key) => this.cache.has(key),
    keepBlock: (key, bytes) => this.cache.set(key, bytes),
    lookup: (key) => this.lookup(key),
    locate: (key) => this.locate(key),
    file: (id) => this.files.get(id)!,
    readSync: (key, location) => this.readValue(key, location.fileId, location.offset, location.valueLength),
    readDone: (file) => {
      if (file.retired) this.closeRetired();
    },
  };

  /** Keeps close() waiting until `work` settles; its outcome is the caller's business. */
  private track(work: Promise<unknown>): void {
    const settled: Promise<void> = work.then(ignore, ignore).finally(() => this.background.delete(settled));
    this.background.add(settled);
  }

  private readValue(key: Uint8Array, fileId: number, offset: number, length: number): Buffer {
    const file = this.files.get(fileId)!;
    const value = this.valueIfKey(file, offset, recordSize(key.length, length), key, true);
    if (value === null) throw corruption('record failed its checksum', file.path, offset);
    return value;
  }

  /**
   * The value in the `size`-byte record at `offset`, when that record is an
   * intact live record of `key`, else null. Its bytes come from the file, or
   * from the pending group it waits in; when they cannot all be had, throws
   * if `must`, else returns null.
   */
  private valueIfKey(file: DataFile, offset: number, size: number, key: Uint8Array, must: boolean): Buffer | null {
    let record: Buffer | null;
    if (file.segment !== null) {
      record = file.segment.recordSync(this.fileSystem, file.fd, this.cache, offset, size);
      if (record === null && must) throw corruption(`record of ${size} bytes is not inside one block`, file.path, offset);
    } else if (offset + size > file.written) {
      record = this.writer.readPending(file, offset, size);
      if (record === null && must) throw this.writer.failure ?? corruption('record missing from the pending writes', file.path, offset);
    } else {
      record = this.readBuffer.target(size);
      let read: number;
      try {
        read = this.fileSystem.readSync(file.fd, record, 0, size, offset);
      } catch (err) {
        throw ioError('read', file.path, err);
      }
      if (read !== size) {
        if (must) throw corruption(`record of ${size} bytes runs past the end of the file`, file.path, offset);
        record = null;
      }
    }
    return record === null ? null : this.readBuffer.valueIfKey(record, size, key);
  }

  /** `[key, value]` pairs in key order within the bounds, as of the moment range() was called. */
  range(options?: RangeOptions): AsyncIterableIterator<[Buffer, Buffer]> {
    return this.iterate(resolveRange(options), true) as AsyncIterableIterator<[Buffer, Buffer]>;
  }

  /** Keys alone, in key order within the bounds, as of the moment keys() was called. */
  keys(options?: RangeOptions): AsyncIterableIterator<Buffer> {
    return this.iterate(resolveRange(options), false) as AsyncIterableIterator<Buffer>;
  }

  /**
   * A read view of the store as it is now: its range(), keys() and get() keep
   * answering as of this moment while writes go on, until it is released.
   */
  openSnapshot(): ReadSnapshot {
    this.checkOpen();
    return new ReadSnapshot(this, this.takeSnapshot(), this.seq - 1, this.keyCount());
  }

  private takeSnapshot(): Snapshot {
    const snapshot = this.keydir.snapshot();
    if (this.disk !== null) this.snapshotIndexes.set(snapshot, this.disk.indexes);
    return snapshot;
  }

  /** @internal Where `key`'s value was as of `snapshot`, or null. */
  locationIn(snapshot: Snapshot, key: Uint8Array): Location | null {
    const location = snapshot.locationOf(Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1'));
    const indexes = this.snapshotIndexes.get(snapshot);
    if (indexes === undefined) return location;
    // Absent from the memory part then: the files of that moment decide.
    const found = location ?? this.findOnDisk(key, indexes);
    return found === null || found.valueLength === TOMBSTONE_LENGTH ? null : found;
  }

  /** @internal The next page of a range as of `snapshot` (see range.ts and disk-range.ts). */
  pageOf(snapshot: Snapshot, range: ResolvedRange, after: Buffer | undefined, max: number, page: Page): void {
    const indexes = this.snapshotIndexes.get(snapshot);
    if (indexes === undefined) return nextPage(snapshot, range, after, max, page);
    try {
      nextDiskPage(snapshot, indexes, range, after, max, page);
    } catch (err) {
      this.noticeDamage(err);
      throw err;
    }
  }

  private keyCount(): number {
    if (this.disk === null) return this.keydir.size;
    this.settleOwed();
    let keys = 0;
    for (const file of this.files.values()) if (!file.retired) keys += file.liveKeys;
    return keys;
  }

  /** Streams a point-in-time backup of every key and value into `writable` (docs/format.md, "Backup stream"). */
  snapshot(writable: NodeJS.WritableStream, options?: SnapshotOptions): Promise<SnapshotSummary> {
    return writeSnapshot(this, writable, options);
  }

  /** @internal The value of `key` at `location`, a location taken from a snapshot. */
  valueAt(key: Uint8Array, location: Location): Buffer {
    this.checkOpen();
    return this.readValue(key, location.fileId, location.offset, location.valueLength);
  }

  /** @internal Walks a range as of `held` when given (the caller releases it), else as of now. */
  async *iterate(range: ResolvedRange, withValues: boolean, held?: Snapshot): AsyncGenerator<[Buffer, Buffer] | Buffer> {
    this.checkOpen();
    const snapshot = held ?? this.takeSnapshot();
    try {
      const page: Page = { keys: [], locations: [] };
      let after: Buffer | undefined;
      let remaining = range.limit;
      while (remaining > 0) {
        if (range.signal?.aborted) throw new KvcaskError(codes.ABORTED, 'the range was aborted', { cause: range.signal.reason });
        this.checkOpen();
        page.keys.length = 0;
        page.locations.length = 0;
        this.pageOf(snapshot, range, after, RANGE_PAGE, page);
        if (page.keys.length === 0) return;
        after = page.keys[page.keys.length - 1];
        // Read the page's values in one synchronous stretch, then hand them out.
        const entries: ([Buffer, Buffer] | Buffer)[] = [];
        const { keys, locations } = page;
        for (let i = 0; i < keys.length && entries.length < remaining; i++) {
          const fileId = locations[3 * i];
          if (fileId === -1) continue;
          entries.push(withValues ? [keys[i], this.readValue(keys[i], fileId, locations[3 * i + 1], locations[3 * i + 2])] : keys[i]);
        }
        remaining -= entries.length;
        for (const entry of entries) yield entry;
      }
    } finally {
      if (held === undefined) snapshot.release();
    }
  }

  // ---- merges -------------------------------------------------------------

  /**
   * Merges every sealed file, after sealing the active one, so that dead
   * records and droppable tombstones go and every file is compressed. Reads
   * and writes go on meanwhile. Resolves with what it did.
   */
  compact(options: CompactOptions = {}): Promise<MergeResult> {
    if (typeof options !== 'object' || options === null) throw new TypeError(`compact() options must be an object, got ${describe(options)}`);
    const { signal, onProgress } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`options.signal must be an AbortSignal, got ${describe(signal)}`);
    if (onProgress !== undefined && typeof onProgress !== 'function') throw new TypeError(`options.onProgress must be a function, got ${describe(onProgress)}`);
    try {
      this.checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    const run = this.merging.then(async () => {
      this.checkOpen();
      if (this.mergeBroken) throw this.mergeBroken;
      await this.writer.rotate();
      // With index: 'disk' a file is merged once its index is written.
      while (this.indexing.size > 0) await Promise.allSettled([...this.indexing.values()]);
      const both = signal ? AbortSignal.any([signal, this.mergeAbort.signal]) : this.mergeAbort.signal;
      return this.merge(this.mergeable(planMerge(this.allFiles(), this.options, true)), both, onProgress);
    });
    this.merging = run.catch(ignore);
    return run;
  }

  /** @internal */
  holdsNewest(key: Uint8Array, hash: number, fileId: number, offset: number): boolean {
    if (this.disk === null) return this.keydir.pointsAt(hash, fileId, offset);
    const slot = this.keydir.find(key);
    if (slot >= 0) {
      const file = this.files.get(this.keydir.fileOf(slot));
      // A record not yet written may still fail, and its undo make the record on disk the newest again.
      const written = file !== undefined && this.keydir.offsetOf(slot) < file.written;
      if (written) return false;
    }
    const found = this.findOnDisk(key);
    return found !== null && found.fileId === fileId && found.offset === offset && found.valueLength !== TOMBSTONE_LENGTH;
  }

  /** @internal */
  copyStamp(key: Uint8Array, fileId: number, offset: number): number {
    if (this.disk === null) return 0;
    const stamp = ++this.changeClock;
    // Copied although a queued write hides it (holdsNewest): counted as overwritten right after the copy,
    // and live again if that write fails and its undo credits it back.
    if (this.keydir.find(key) >= 0) this.mergeChanges.push(fileId, offset, -1, ++this.changeClock);
    return stamp;
  }

  /** @internal */
  valueHolder(key: Uint8Array): number {
    return this.locate(key)?.fileId ?? -1;
  }

  /** With index: 'disk', the sealed files a merge may take: those whose index is written and loaded. */
  private mergeable(inputs: DataFile[]): DataFile[] {
    return this.disk === null ? inputs : inputs.filter((file) => this.disk!.has(file.id) && !this.indexing.has(file.id));
  }

  /** Starts an automatic merge when the policy asks for one and none is running. */
  private scheduleMerge(): void {
    if (!this.options.autoMerge || this.mergeRunning || this.closed || this.mergeBroken) return;
    const inputs = this.mergeable(planMerge(this.allFiles(), this.options, false));
    if (inputs.length === 0) return;
    this.mergeRunning = true;
    const run = this.merging.then(() => (this.closed ? null : this.merge(inputs, this.mergeAbort.signal)));
    this.merging = run.then(
      () => {
        this.mergeRunning = false;
        this.scheduleMerge();
      },
      (err: KvcaskError) => {
        this.mergeRunning = false;
        if (err?.code !== codes.ABORTED && err?.code !== codes.CLOSED) this.mergeStats.lastError = `${err?.code ?? 'Error'}: ${err?.message ?? err}`;
      },
    );
  }

  /** One merge, from writing the outputs to retiring the inputs. */
  private async merge(inputs: DataFile[], signal: AbortSignal, onProgress?: CompactOptions['onProgress']): Promise<MergeResult> {
    const result: MergeResult = { filesMerged: 0, filesWritten: 0, bytesBefore: 0, bytesAfter: 0 };
    // The merge checks that its inputs' live counts reach zero, so no retire may still be owed when it starts.
    if (this.disk !== null) await this.settleOwedMostly();
    inputs = inputs.filter((file) => !file.retired && this.files.get(file.id) === file);
    if (inputs.length === 0) return result;
    this.mergeRunning = true;
    if (this.disk !== null) {
      this.settleOwed();
      this.mergeInputs = new Set(inputs.map((file) => file.id));
      this.mergeChanges.length = 0;
    }
    let outputIndexes: IndexFile[] = [];
    try {
      const run = await writeMergeOutputs(this, inputs, signal, onProgress);
      if (this.disk !== null) outputIndexes = await this.indexMergeOutputs(run);
      for (const file of run.outputs) this.files.set(file.id, file);
      if (this.disk === null) await relocate(this.keydir, run, this.files);
      if (!this.takeOver(run) || signal.aborted) {
        if (this.disk === null) await relocate(this.keydir, run, this.files, true);
        for (const file of run.outputs) this.files.delete(file.id);
        for (const index of outputIndexes) await index.close();
        await run.discard(this);
        if (signal.aborted) throw new KvcaskError(codes.ABORTED, 'the merge was aborted', { cause: signal.reason });
        throw corruption('a live record of a merged file was not copied; the merge was undone', inputs[0].path, 0);
      }
      const inputIds = inputs.map((file) => file.id);
      const outputIds = run.outputs.map((file) => file.id);
      if (this.disk !== null) {
        this.countMergeOutputs(run);
        for (const index of this.disk.replace(new Set(inputIds), outputIndexes, true)) this.retiredIndexes.set(index.fileId, index);
        outputIndexes = [];
      }
      for (const file of inputs) this.retireFile(file);
      try {
        // Records the merge dropped were overwritten or deleted by writes that must not be lost once they are gone.
        await this.writer.syncWritten();
        await writeMarker(this.fileSystem, this.dir, inputIds, outputIds);
        await completeMerge(this.fileSystem, this.dir, inputIds, outputIds);
      } catch (err) {
        this.mergeBroken = err as KvcaskError;
        throw err;
      }
      result.filesMerged = inputs.length;
      result.filesWritten = run.outputs.length;
      result.bytesBefore = inputs.reduce((sum, file) => sum + fileBytes(file), 0);
      result.bytesAfter = run.outputs.reduce((sum, file) => sum + fileBytes(file), 0);
      this.mergeStats.completed++;
      this.mergeStats.bytesBefore += result.bytesBefore;
      this.mergeStats.bytesAfter += result.bytesAfter;
      return result;
    } finally {
      this.mergeRunning = false;
      this.mergeInputs = null;
      for (const index of outputIndexes) await index.close().catch(ignore);
    }
  }

  /** With index: 'disk', writes and opens each output's index, under its pending name until the merge completes. */
  private async indexMergeOutputs(run: MergeRun): Promise<IndexFile[]> {
    const opened: IndexFile[] = [];
    try {
      for (const file of run.outputs) {
        const name = pendingIndexName(file.id);
        await this.writeIndex(file, name);
        opened.push(await IndexFile.open(this.fileSystem, `${this.dir}/${name}`, file.id, file.written, this.indexCache));
      }
    } catch (err) {
      for (const index of opened) await index.close().catch(ignore);
      await run.discard(this);
      throw err;
    }
    return opened;
  }

  /**
   * With index: 'disk', the outputs' live counts: every value copied, less
   * those overwritten or deleted since (and plus those a failed write made
   * live again), as recorded against the inputs while the merge ran.
   */
  private countMergeOutputs(run: MergeRun): void {
    for (let m = 0; m < run.moveCount; m++) this.countMove(run, m, 1);
    const changes = this.mergeChanges;
    for (let i = 0; i < changes.length; i += 4) {
      const move = run.findMove(changes[i], changes[i + 1]);
      // A change before the copy was already seen by the merge when it decided to copy.
      if (move >= 0 && changes[i + 3] > run.stampOf(move)) this.countMove(run, move, changes[i + 2]);
    }
    changes.length = 0;
  }

  private countMove(run: MergeRun, move: number, change: number): void {
    const [outputId] = run.outputOf(move);
    const output = this.files.get(outputId);
    if (!output) return;
    output.liveKeys += change;
    output.liveBytes += change * run.sizeOf(move);
  }

  /**
   * The last synchronous step of a merge: checks that nothing live is left in
   * the inputs and points queued writes' undo entries at the outputs. False
   * when an input still holds a live record the merge did not copy.
   */
  private takeOver(run: MergeRun): boolean {
    const inputIds = new Set(run.inputs.map((file) => file.id));
    const remaps: [number[], number, number][] = [];
    for (const group of this.writer.pending) {
      const { undo } = group;
      for (let i = 0; i < undo.length; i += 4) {
        if (!inputIds.has(undo[i + 1])) continue;
        const move = run.findMove(undo[i + 1], undo[i + 2]);
        if (move < 0) return false;
        remaps.push([undo, i, move]);
      }
    }
    // A failed write may have pointed a key back at an input since the relocation: move it again.
    if (this.disk === null) {
      for (const input of run.inputs) {
        if (input.liveKeys === 0) continue;
        const [from, to] = run.inputMoves.get(input.id) ?? [0, 0];
        relocateRange(this.keydir, run, this.files, from, to);
        if (input.liveKeys !== 0) return false;
      }
    }
    for (const [undo, i, index] of remaps) [undo[i + 1], undo[i + 2]] = run.outputOf(index);
    return true;
  }

  /** Takes a merged file out of use; its descriptor closes once no older snapshot or read can need it. */
  private retireFile(file: DataFile): void {
    file.retired = true;
    this.retiring.set(file, new Set(this.keydir.openSnapshots()));
    this.closeRetired();
  }

  private closeRetired(): void {
    for (const [file, snapshots] of this.retiring) {
      for (const snapshot of snapshots) if (snapshot.isReleased) snapshots.delete(snapshot);
      if (snapshots.size > 0 || file.readers > 0) continue;
      this.retiring.delete(file);
      this.files.delete(file.id);
      this.cache.forgetFile(file.id);
      // Closing an index file also drops its cached pages.
      this.retiredIndexes.get(file.id)?.close().catch(ignore);
      this.retiredIndexes.delete(file.id);
      const fd = file.fd;
      file.fd = -1;
      if (fd >= 0) this.fileSystem.close(fd).catch(ignore);
    }
  }

  // ---- lifecycle ----------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new KvcaskError(codes.CLOSED, 'the store is closed');
  }

  stats(): Stats {
    this.settleOwed();
    const files: FileStats[] = [];
    let liveBytes = 0;
    let deadTotal = 0;
    let diskBytes = 0;
    let rawBytes = 0;
    for (const file of this.allFiles()) {
      if (file.retired) continue;
      const raw = recordBytes(file);
      const dead = deadBytesOf(file);
      const name = file.segment ? segmentFileName(file.id) : dataFileName(file.id);
      const bytes = fileBytes(file);
      files.push({ id: file.id, name, bytes, rawBytes: raw, liveBytes: file.liveBytes, deadBytes: dead, liveKeys: file.liveKeys, sealed: file.sealed, segment: file.segment !== null });
      liveBytes += file.liveBytes;
      deadTotal += dead;
      diskBytes += bytes;
      rawBytes += raw;
    }
    return {
      keys: this.keyCount(),
      sync: this.options.sync,
      files,
      liveBytes,
      deadBytes: deadTotal,
      indexMemoryBytes: this.keydir.memoryBytes() + (this.disk?.memoryBytes() ?? 0),
      seq: this.seq - 1,
      recovery: { ...this.recovery, damaged: this.recovery.damaged.map((d) => ({ ...d })) },
      hintFailures: this.hintFailures,
      diskBytes,
      rawBytes,
      merges: { ...this.mergeStats, running: this.mergeRunning },
      blockCache: { bytes: this.cache.size, budget: this.cache.budget, hits: this.cache.hits, misses: this.cache.misses },
      indexCache: { bytes: this.indexCache.size, budget: this.indexCache.budget, hits: this.indexCache.hits, misses: this.indexCache.misses },
    };
  }

  /** Waits for queued writes, syncs the active file whatever the sync mode, and releases the directory. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.mergeAbort.abort(new KvcaskError(codes.CLOSED, 'the store is closing'));
    this.closing = (async () => {
      let failure: unknown;
      await this.merging;
      try {
        // With index: 'disk', the active file is sealed and indexed, so that the next open reads no keys.
        if (this.writer && this.disk !== null) await this.writer.rotate();
        if (this.writer) await this.writer.close();
      } catch (err) {
        failure = err;
      }
      while (this.background.size > 0) await Promise.allSettled([...this.background]);
      // The filter saved below should cover every file: what is left to read now, the next open would read anyway.
      if (failure === undefined) await this.disk?.filled();
      await this.disk?.stopFilling();
      if (failure === undefined && this.disk !== null) this.settleOwed();
      if (failure === undefined && this.disk !== null && !this.countsUnsure) await this.saveCounts().catch(ignore);
      if (failure === undefined && this.disk !== null) await this.saveFilter().catch(ignore);
      await this.closeFiles();
      await this.lock.release();
      if (failure !== undefined) throw failure;
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** With index: 'disk', at a clean close: saves the live counts, if every sealed file has its index. */
  private async saveCounts(): Promise<void> {
    const files = [...this.files.values()].filter((file) => !file.retired && file.fd >= 0);
    if (files.some((file) => !this.disk!.has(file.id))) return;
    await writeFileAtomically(this.fileSystem, this.dir, COUNTS_FILE, encodeCounts(this.seq - 1, files));
  }

  /** With index: 'disk', at a clean close: saves the global filter, so that the next open need not read every key again. */
  private async saveFilter(): Promise<void> {
    const bytes = this.disk!.saved();
    if (bytes !== null) await writeFileAtomically(this.fileSystem, this.dir, FILTER_FILE, bytes);
  }

  /** Reads the global filter a clean close saved (index: 'disk'), and removes it: from now on it goes stale. */
  private async takeFilter(names: string[]): Promise<ReturnType<typeof GlobalFilter.decode> | null> {
    if (!names.includes(FILTER_FILE)) return null;
    const path = `${this.dir}/${FILTER_FILE}`;
    let saved: ReturnType<typeof GlobalFilter.decode> | null = null;
    if (this.disk !== null) {
      try {
        saved = GlobalFilter.decode(await readWholeFile(this.fileSystem, path), path);
      } catch {
        // Damaged or unreadable: built again from the index files.
      }
    }
    await this.fileSystem.unlink(path);
    return saved;
  }

  /** @internal */
  async closeFiles(): Promise<void> {
    for (const index of [...(this.disk?.indexes ?? []), ...this.retiredIndexes.values()]) await index.close().catch(ignore);
    this.disk?.replace(new Set(this.disk.indexes.map((index) => index.fileId)), []);
    this.retiredIndexes.clear();
    for (const file of this.files.values()) {
      if (file.fd >= 0) await this.fileSystem.close(file.fd).catch(() => {});
      file.fd = -1;
    }
  }

  // ---- opening ------------------------------------------------------------

  /** @internal Builds the index from hint files, data files and segments, repairing a torn tail. */
  async load(): Promise<void> {
    const fsys = this.fileSystem;
    let names = await fsys.readdir(this.dir);
    await recoverMerge(fsys, this.dir, names);
    names = await fsys.readdir(this.dir);
    // Only temporary files this store writes: anything else in the directory is the user's.
    const leftovers = names.filter((name) => /^(\d{8,10}\.(hint|kvx)|LOCK|COUNTS|FILTER)\.tmp$/.test(name));
    for (const name of leftovers) await fsys.unlink(`${this.dir}/${name}`);
    if (leftovers.length > 0) await fsys.syncDir(this.dir);
    const counts = await this.takeCounts(names);
    const filter = await this.takeFilter(names);
    const kinds = new Map<number, 'data' | 'kvs'>();
    const hintIds = new Set<number>();
    const indexIds = new Set<number>();
    for (const name of names) {
      const indexId = parseIndexFileName(name);
      if (indexId !== null) indexIds.add(indexId);
      const parsed = parseFileName(name);
      if (parsed?.kind === 'hint') hintIds.add(parsed.id);
      else if (parsed && !kinds.has(parsed.id)) kinds.set(parsed.id, parsed.kind);
      else if (parsed) throw corruption(`two files claim id ${parsed.id}`, `${this.dir}/${name}`, 0);
    }
    const ids = [...kinds.keys()].sort((a, b) => a - b);
    for (const id of indexIds) if (!kinds.has(id)) await fsys.unlink(`${this.dir}/${indexFileName(id)}`);
    let maxSeq = 0;
    let counted = this.disk === null;
    let active: DataFile | null = null;
    const needHints: DataFile[] = [];
    // Sorting the loaded keys once is linear; inserting each into the sorted order grew faster than the key count.
    this.keydir.deferOrder();
    this.keydir.growInSteps = false;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      // Appends continue only in a data file that is the newest file of all.
      const newest = i === ids.length - 1 && kinds.get(id) === 'data';
      const path = `${this.dir}/${kinds.get(id) === 'data' ? dataFileName(id) : segmentFileName(id)}`;
      let fd: number;
      let size: number;
      try {
        fd = newest ? await fsys.open(path, 'r+', this.options.sync === 'always') : await fsys.open(path, 'r');
        size = await fsys.size(fd);
      } catch (err) {
        throw ioError('open', path, err);
      }
      const file = newDataFile(this.dir, id, fd, size);
      file.path = path;
      this.files.set(id, file);
      // A data file with an index was sealed, even the newest (a clean close seals the active file).
      if (!counted && (!newest || indexIds.has(id))) {
        await this.loadIndexed(file, kinds.get(id)!, size, indexIds.has(id));
        continue;
      }
      if (!counted) {
        // The active file's records are counted against the indexed files below them: count those first.
        maxSeq = await this.countIndexed(counts);
        counted = true;
      }
      const apply = (record: ScannedRecord) => {
        if (record.seq > maxSeq) maxSeq = record.seq;
        if (record.seq < file.minSeq) file.minSeq = record.seq;
        // A segment's tombstones were kept by the merge that wrote it: needed, not garbage.
        if (file.segment !== null && (record.flags & FLAG_TOMBSTONE) !== 0) file.keptBytes += recordSize(record.key.length, 0);
        this.applyLoaded(file, record);
      };
      if (kinds.get(id) === 'kvs') {
        await this.loadSegment(file, size, hintIds.has(id), apply, needHints);
        continue;
      }
      if (hintIds.has(id) && (await readHint(fsys, `${this.dir}/${hintFileName(id)}`, id, size, apply))) {
        file.sealed = true;
        continue;
      }
      this.recovery.scannedFiles++;
      const headerCheck = await this.checkHeaderOf(file);
      const scan = await scanDataFile(fsys, fd, size, FILE_HEADER_SIZE, apply);
      const damaged = scan.damaged.map((range) => ({ file: path, ...range }));
      if (headerCheck === 'damaged' && !(newest && scan.validEnd === FILE_HEADER_SIZE)) {
        damaged.unshift({ file: path, offset: 0, length: FILE_HEADER_SIZE });
      }
      // A sealed file cut short at a frame boundary scans clean; only its intact hint still knows how long it was.
      const hintPath = `${this.dir}/${hintFileName(id)}`;
      const hinted = hintIds.has(id) ? await readHintedLength(fsys, hintPath, id) : null;
      const end = hinted?.dataLength != null && hinted.dataLength > size ? hinted.dataLength : size;
      const lostFrom = newest ? size : scan.validEnd;
      if (end > lostFrom) damaged.push({ file: path, offset: lostFrom, length: end - lostFrom });
      this.reportDamage(damaged);
      // A crash never leaves a damaged hint (it is renamed into place once synced), and without it a cut at a frame
      // boundary goes unseen: say so, once (the hint written anew below vouches for the file as it is now).
      if (hinted?.dataLength === null) this.reportDamage([{ file: hintPath, offset: 0, length: hinted.size }], false);
      if (newest) {
        active = await this.repairTail(file, scan.validEnd, headerCheck === 'ok');
      } else {
        file.sealed = true;
        // A hint would hide the damage from the next (perhaps strict) open: keep scanning such a file.
        if (damaged.length === 0) needHints.push(file);
      }
    }
    if (!counted) maxSeq = await this.countIndexed(counts);
    this.disk?.startFilter(filter);
    this.keydir.buildOrder();
    this.keydir.growInSteps = true;
    this.seq = maxSeq + 1;
    const lastId = ids.length > 0 ? ids[ids.length - 1] : 0;
    // Whatever the memory part holds now came from the newest file's records (the sealed files were indexed above).
    if (this.disk !== null && active !== null) this.countMemoryKeys(active.id, this.keydir.size);
    if (active === null || active.end >= this.options.maxFileSize) {
      if (active !== null) {
        active.sealed = true;
        needHints.push(active);
      }
      active = this.addFile(nextDataFileId(lastId));
    }
    this.writer = new Writer(this, active, nextDataFileId(active.id));
    for (const file of needHints) {
      if (this.disk !== null) this.indexLater(file);
      else this.writeHintLater(file);
    }
    this.scheduleMerge();
  }

  /** Reads the counts a clean close saved (index: 'disk'), and removes them: from now on they go stale. */
  private async takeCounts(names: string[]): Promise<LiveCounts | null> {
    if (!names.includes(COUNTS_FILE)) return null;
    const path = `${this.dir}/${COUNTS_FILE}`;
    let counts: LiveCounts | null = null;
    if (this.disk !== null) {
      try {
        counts = decodeCounts(await readWholeFile(this.fileSystem, path), path);
      } catch {
        // Damaged or unreadable: they are counted again from the indexes.
      }
    }
    await this.fileSystem.unlink(path);
    return counts;
  }

  /**
   * Live counts of every indexed file: the saved ones if they still describe
   * these files, else counted. Returns the newest seq. Counting reads every
   * index page: a page that fails its checks is damage found at open, so its
   * index file is reported (refused in strict mode) and rebuilt from its data
   * file before counting again.
   */
  private async countIndexed(counts: LiveCounts | null): Promise<number> {
    const indexed = this.disk!.indexes.map((index) => this.files.get(index.fileId)!);
    if (counts !== null && applyCounts(counts, indexed)) return counts.seq;
    this.recovery.countedFiles = indexed.length;
    for (;;) {
      try {
        return countLive(this.disk!.indexes, this.files);
      } catch (err) {
        const damaged = err instanceof KvcaskError && err.code === codes.CORRUPTION ? this.disk!.indexes.find((index) => index.path === err.file) : undefined;
        if (damaged === undefined) throw err;
        this.reportDamage([{ file: damaged.path, offset: (err as KvcaskError).offset ?? 0, length: await fileSize(this.fileSystem, damaged.path) }], false);
        await this.rebuildIndex(this.files.get(damaged.fileId)!);
      }
    }
  }

  /** With index: 'disk', opens a sealed file's index, or builds it from the file when it is missing or damaged. */
  private async loadIndexed(file: DataFile, kind: 'data' | 'kvs', size: number, hasIndex: boolean): Promise<void> {
    file.sealed = true;
    if (kind === 'kvs' && (await this.openSegmentOf(file, size)) === null) return;
    const path = `${this.dir}/${indexFileName(file.id)}`;
    let indexDamage: DamageReport | null = null;
    if (hasIndex) {
      try {
        return this.addIndex(await IndexFile.open(this.fileSystem, path, file.id, file.written, this.indexCache));
      } catch (err) {
        const code = (err as KvcaskError).code;
        if (code !== codes.CORRUPTION && code !== codes.VERSION) throw err;
        this.recovery.rebuiltIndexes++;
        // As a hint: the index file was the only record of its data file's length (a cut at a frame boundary scans clean).
        if (code === codes.CORRUPTION) indexDamage = { file: path, offset: (err as KvcaskError).offset ?? 0, length: await fileSize(this.fileSystem, path) };
      }
    }
    this.recovery.scannedFiles++;
    const headerCheck = file.segment === null ? await this.checkHeaderOf(file) : 'ok';
    const { newest, damaged } = await this.newestRecords(file);
    if (headerCheck === 'damaged') damaged.unshift({ offset: 0, length: FILE_HEADER_SIZE });
    // Reported once: the index built now covers what is intact, and the next open trusts it.
    this.reportDamage(damaged.map((range) => ({ file: file.path, ...range })));
    if (indexDamage !== null) this.reportDamage([indexDamage], false);
    this.addIndex(await this.buildIndex(file, newest));
  }

  private addIndex(index: IndexFile): void {
    this.disk!.replace(new Set(), [index]);
  }

  /** Replaces a file's damaged index with one built anew from its data file; the old one's cached pages go as it closes. */
  private async rebuildIndex(file: DataFile): Promise<void> {
    const [damaged] = this.disk!.replace(new Set([file.id]), [await this.buildIndex(file)]);
    this.recovery.rebuiltIndexes++;
    await damaged?.close();
  }

  /** Writes a sealed file's index file (from `newest`, its records already scanned, else from a scan of the file) and opens it. */
  private async buildIndex(file: DataFile, newest?: NewestRecords): Promise<IndexFile> {
    await this.writeIndex(file, indexFileName(file.id), newest);
    return IndexFile.open(this.fileSystem, `${this.dir}/${indexFileName(file.id)}`, file.id, file.written, this.indexCache);
  }

  /** Opens a sealed segment's block index; null when it is damaged, and the segment is then skipped whole. */
  private async openSegmentOf(file: DataFile, size: number): Promise<SealedSegment | null> {
    try {
      file.segment = await openSegment(this.fileSystem, file.fd, file.path, file.id, size);
    } catch (err) {
      if ((err as KvcaskError).code !== codes.CORRUPTION) throw err;
      this.reportDamage([{ file: file.path, offset: (err as KvcaskError).offset ?? 0, length: size }]);
      // Nothing in it can be read: keep it out of the way, but on disk for the user to look at.
      await this.fileSystem.close(file.fd);
      this.files.delete(file.id);
      return null;
    }
    file.end = file.written = file.segment.logicalLength;
    return file.segment;
  }

  /** Reads a data file's header: 'ok' or 'damaged'; another format version rejects with KVCASK_VERSION. */
  private async checkHeaderOf(file: DataFile): Promise<'ok' | 'damaged'> {
    const header = Buffer.alloc(FILE_HEADER_SIZE);
    await this.fileSystem.read(file.fd, header, 0, FILE_HEADER_SIZE, 0);
    const check = checkFileHeader(header, file.id);
    if (check !== 'other-version') return check;
    throw new KvcaskError(codes.VERSION, `${file.path} has format version ${header.readUInt16LE(4)}; this kvcask reads version ${FORMAT_VERSION}`, {
      file: file.path,
      offset: 4,
    });
  }

  /** Indexes a sealed segment from its hint, else from its blocks; a segment whose index is damaged is skipped whole. */
  private async loadSegment(file: DataFile, size: number, hasHint: boolean, apply: (record: ScannedRecord) => void, needHints: DataFile[]): Promise<void> {
    file.sealed = true;
    const segment = await this.openSegmentOf(file, size);
    if (segment === null) return;
    if (hasHint && (await readHint(this.fileSystem, `${this.dir}/${hintFileName(file.id)}`, file.id, segment.logicalLength, apply))) return;
    this.recovery.scannedFiles++;
    const damaged = await scanSegment(this.fileSystem, file.fd, segment, apply);
    this.reportDamage(damaged.map((range) => ({ file: file.path, ...range })));
    if (damaged.length === 0) needHints.push(file);
  }

  /** `skipped`: whether the ranges are data skipped (a damaged hint is listed, but no record was skipped for it). */
  private reportDamage(damaged: DamageReport[], skipped = true): void {
    if (damaged.length === 0) return;
    if (this.options.strict) {
      throw corruption(`damaged data (${damaged[0].length} bytes; strict mode refuses to skip it)`, damaged[0].file, damaged[0].offset);
    }
    for (const range of damaged) {
      this.recovery.damaged.push(range);
      if (skipped) this.recovery.skippedBytes += range.length;
    }
  }

  /** Cuts a torn tail off the newest file so appends continue after its last intact frame. */
  private async repairTail(file: DataFile, validEnd: number, headerOk: boolean): Promise<DataFile | null> {
    const fsys = this.fileSystem;
    const size = file.end;
    if (!headerOk && validEnd === FILE_HEADER_SIZE) {
      // Created but never given a record before the crash: start it again.
      await fsys.close(file.fd);
      await fsys.unlink(file.path);
      await fsys.syncDir(this.dir);
      this.files.delete(file.id);
      this.recovery.truncatedBytes += size;
      return null;
    }
    if (size > validEnd) {
      try {
        await fsys.truncate(file.fd, validEnd);
        await fsys.datasync(file.fd);
      } catch (err) {
        throw ioError('truncate', file.path, err);
      }
      this.recovery.truncatedBytes += size - validEnd;
    }
    file.end = file.written = validEnd;
    return file;
  }

  private applyLoaded(file: DataFile, record: ScannedRecord): void {
    const deleted = (record.flags & FLAG_TOMBSTONE) !== 0;
    if (!deleted) this.restore(record.key, { fileId: file.id, offset: record.offset, valueLength: record.valueLength });
    else this.restore(record.key, this.disk === null ? null : { fileId: file.id, offset: record.offset, valueLength: TOMBSTONE_LENGTH });
  }

  /** Makes the index say `key` lives at `location` (null: absent), keeping the live-bytes accounting true. */
  private restore(key: Uint8Array, location: Location | null): void {
    // A record in a file with an on-disk index is found there: the memory part holds only newer files' records.
    if (this.disk !== null && location !== null && this.disk.has(location.fileId)) location = null;
    const slot = this.keydir.find(key);
    if (slot >= 0) this.retire(slot, key.length);
    else if (location !== null) this.retireOnDisk(key);
    if (location === null) {
      if (slot >= 0) {
        this.keydir.removeAt(slot, key);
        // A retire still owed was never counted: nothing to credit back.
        if (!this.owed.delete(slot)) this.creditOnDisk(key);
      }
      return;
    }
    if (slot >= 0) this.keydir.update(slot, key, location.fileId, location.offset, location.valueLength);
    else this.keydir.add(key, location.fileId, location.offset, location.valueLength);
    if (location.valueLength !== TOMBSTONE_LENGTH) this.credit(this.files.get(location.fileId), key.length, location.valueLength);
  }

  /** @internal Called by the writer before it creates a data file. */
  addFile(id: number): DataFile {
    const file = newDataFile(this.dir, id, -1, FILE_HEADER_SIZE);
    file.written = 0;
    this.files.set(id, file);
    return file;
  }

  /** @internal */
  dropFile(file: DataFile): void {
    this.files.delete(file.id);
  }

  /** @internal Every file, retired ones included, in id order. */
  allFiles(): DataFile[] {
    return [...this.files.values()].sort((a, b) => a.id - b.id);
  }

  /** @internal Called by the writer once a file took its last record. */
  sealed(file: DataFile): void {
    if (this.disk !== null) return this.indexLater(file);
    // Even when a merge will soon compress it: until then the hint speeds up open() and records the file's length,
    // which is how a cut at a frame boundary is noticed.
    this.writeHintLater(file);
    this.scheduleMerge();
  }

  /** With index: 'disk': writes a sealed file's index, then lets its keys leave the memory part. */
  private indexLater(file: DataFile): void {
    const work = this.indexQueue.then(async () => {
      const index = await this.buildIndex(file);
      // Owed lookups must see the disk index without this file: it holds the very records that hide theirs.
      await this.settleOwedMostly();
      this.settleOwed();
      this.addIndex(index);
      await this.leaveMemory(file.id);
    });
    const done = work.then(
      () => {
        this.indexing.delete(file.id);
        this.releaseMemoryKeys(file.id);
        this.scheduleMerge();
      },
      () => {
        // Its keys stay in the memory part, where they are still found; the next open builds the index.
        this.indexing.delete(file.id);
        this.releaseMemoryKeys(file.id);
        this.hintFailures++;
      },
    );
    this.indexQueue = done;
    this.indexing.set(file.id, done);
    this.track(done);
  }

  /** Drops from the memory part every key whose newest record is in `fileId`, now that its index answers for it. */
  private async leaveMemory(fileId: number): Promise<void> {
    const slots = this.keydir.slotsIn(fileId);
    for (let i = 0; i < slots.length; i += LEAVE_CHUNK) {
      const end = Math.min(slots.length, i + LEAVE_CHUNK);
      for (let j = i; j < end; j++) this.keydir.removeIfIn(slots[j], fileId);
      await yieldToEventLoop();
    }
  }

  /**
   * The newest record of each key in a sealed file, read from the file
   * itself, and the stretches the scan skipped (a data file's torn tail
   * included); `pause` is awaited between chunks.
   */
  private async newestRecords(file: DataFile, pause?: () => Promise<void>): Promise<{ newest: NewestRecords; damaged: DamagedRange[] }> {
    const newest = new NewestRecords();
    const keep = (record: ScannedRecord) => newest.add(record);
    if (file.segment !== null) return { newest, damaged: await scanSegment(this.fileSystem, file.fd, file.segment, keep, pause) };
    const scan = await scanDataFile(this.fileSystem, file.fd, file.written, FILE_HEADER_SIZE, keep, pause);
    if (scan.validEnd < file.written) scan.damaged.push({ offset: scan.validEnd, length: file.written - scan.validEnd });
    return { newest, damaged: scan.damaged };
  }

  /**
   * Writes the on-disk index of a sealed file under `name`: from `newest`
   * (its records, scanned by open() while it loads the store, when nothing
   * waits on the event loop), else from a scan of the file in slices of
   * event-loop time (TimeSlice), so that indexing a file of a million keys
   * does not hold up reads and writes for seconds.
   */
  private async writeIndex(file: DataFile, name: string, newest?: NewestRecords): Promise<void> {
    let pause = noPause;
    if (newest === undefined) {
      pause = this.backgroundPause();
      ({ newest } = await this.newestRecords(file, pause));
    }
    await writeIndexFile(this.fileSystem, this.dir, file.id, file.written, await newest.indexEntries(pause), name, pause);
  }

  /** The pause of background work that reads and writes wait on: slices of BACKGROUND_SLICE_MS (TimeSlice). */
  private backgroundPause(): () => Promise<void> {
    const slice = new TimeSlice(BACKGROUND_SLICE_MS, this.urgent);
    return () => slice.pause();
  }

  private writeHintLater(file: DataFile): void {
    this.track(
      this.writeHintFor(file).catch(() => {
        this.hintFailures++;
      }),
    );
  }

  /** Rebuilds a sealed file's hint from its records (the newest of each key), in bounded slices of event-loop time. */
  private async writeHintFor(file: DataFile): Promise<void> {
    const pause = this.backgroundPause();
    let newest: NewestRecords;
    // A merge may take and retire the file while this scan yields: its descriptor stays open until the scan is done.
    file.readers++;
    try {
      ({ newest } = await this.newestRecords(file, pause));
    } finally {
      file.readers--;
      if (file.retired) this.closeRetired();
    }
    const hint = await newest.encode(file.id, file.written, pause);
    // A retired file is deleted (or about to be) with its hint: writing one now would leave it behind.
    if (!file.retired) await writeFileAtomically(this.fileSystem, this.dir, hintFileName(file.id), hint);
  }
}

/** Opens (creating if needed) the store in `dir`. Rejects with KVCASK_LOCKED if another store holds it. */
export async function open(dir: string, options?: OpenOptions): Promise<Store> {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`dir must be a non-empty string, got ${describe(dir)}`);
  const resolved = resolveOptions(options);
  const path = resolvePath(dir);
  const fsys = resolved.fileSystem;
  try {
    const created = await fsys.mkdir(path);
    // A new directory's own name lives in its parent: without this a power loss can take the store, acknowledged writes and all.
    if (created !== undefined) for (let at = path; at !== dirname(created); at = dirname(at)) await fsys.syncDir(dirname(at));
  } catch (err) {
    throw ioError('mkdir', path, err);
  }
  // A system error from taking the lock or from recovery reaches the caller as KVCASK_IO, its code kept in `cause`.
  const asKvcask = (err: unknown) => (err instanceof KvcaskError ? err : ioError('open', path, err));
  const lock = await lockDirectory(fsys, path).catch((err) => {
    throw asKvcask(err);
  });
  const store = new Store(path, resolved, lock);
  try {
    await store.load();
  } catch (err) {
    await store.closeFiles();
    await lock.release();
    throw asKvcask(err);
  }
  return store;
}
