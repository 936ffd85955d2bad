import { resolve as resolvePath } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { BlockCache } from './cache.js';
import { decodeHint } from './hint.js';
import { type IndexEntry, IndexFile, PAGE_SLOT_BYTES } from './index-file.js';
import { PageCache } from './page-cache.js';
import { compareBytes } from './key-order.js';
import { describe } from './encoding.js';
import { codes, ioError, KvcaskError } from './errors.js';
import { fileSize, type FileSystem, nodeFileSystem, readWholeFile } from './filesystem.js';
import { lockDirectory } from './lock.js';
import { checkFileHeader, FILE_HEADER_SIZE, FLAG_TOMBSTONE, FORMAT_VERSION, isRecordOf, recordFlags, recordSeq, recordSize } from './record.js';
import { openSegment, type SealedSegment, scanSegment, segmentFileName } from './sealed-segment.js';
import { dataFileName, hintFileName, indexFileName, parseFileName, parseIndexFileName, scanDataFile } from './segment.js';
import { abortedError, checkSignalOption } from './snapshot.js';

export interface CheckOptions {
  /** Aborting stops the check: it rejects with KVCASK_ABORTED. */
  signal?: AbortSignal;
  onProgress?: (progress: CheckProgress) => void;
}

export interface CheckProgress {
  /** Bytes of data, hint and index files read so far. */
  bytes: number;
  totalBytes: number;
}

export interface CheckDamage {
  file: string;
  offset: number;
  length: number;
  /**
   * 'header': a data file's header; 'frame': frames that failed a checksum,
   * followed by intact ones; 'tail': bytes after a file's last intact frame (in
   * the newest file, also what a crash leaves, which the next open cuts off);
   * 'hint': a hint file that fails its checks (the next open scans its data file instead);
   * 'index': a segment whose header, footer or block index fails its checks (none of it can be read);
   * 'block': a segment block that fails its checksum or does not decompress;
   * 'index-file': an on-disk index (`.kvx`, index: 'disk') whose header, trailer, fences or Bloom filter
   * fail their checks, or that describes another length of its data file (the whole file is listed);
   * 'index-page': an index page that fails its checks or holds keys out of order;
   * 'index-entry': an index page with an entry that does not point at an intact record of its key
   * (with its seq, flags and length) in the data file.
   * The next open rebuilds a `.kvx` with any of the last three from its data file.
   */
  kind: 'header' | 'frame' | 'tail' | 'hint' | 'index' | 'block' | 'index-file' | 'index-page' | 'index-entry';
}

export interface CheckReport {
  dir: string;
  dataFiles: number;
  hintFiles: number;
  /** Index files (`.kvx`) checked. */
  indexFiles: number;
  /** Intact records found in the data files. */
  records: number;
  /** Bytes of data, hint and index files verified. */
  bytes: number;
  damaged: CheckDamage[];
  /** True when nothing is damaged. */
  ok: boolean;
}

/** The production file system, counting the bytes read for progress and giving way to the signal between reads. */
function countingFileSystem(onRead: (bytes: number) => void, signal: AbortSignal | undefined): FileSystem {
  return {
    ...nodeFileSystem,
    async read(fd, buffer, offset, length, position) {
      if (signal?.aborted) throw abortedError(signal, 'check');
      const n = await nodeFileSystem.read(fd, buffer, offset, length, position);
      onRead(n);
      return n;
    },
    readSync(fd, buffer, offset, length, position) {
      if (signal?.aborted) throw abortedError(signal, 'check');
      const n = nodeFileSystem.readSync(fd, buffer, offset, length, position);
      onRead(n);
      return n;
    },
  };
}

/**
 * Verifies every checksum of every data file, hint file and index file in `dir`, reading
 * them only. It takes the store's lock for its duration, so it fails with
 * KVCASK_LOCKED while the store is open, and no write can race it.
 */
export async function check(dir: string, options?: CheckOptions): Promise<CheckReport> {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`dir must be a non-empty string, got ${describe(dir)}`);
  const { signal, onProgress } = checkSignalOption(options, 'check') as CheckOptions;
  const path = resolvePath(dir);
  let names: string[];
  try {
    names = await nodeFileSystem.readdir(path);
  } catch (err) {
    throw ioError('readdir', path, err);
  }
  if (signal?.aborted) throw abortedError(signal, 'check');
  const lock = await lockDirectory(nodeFileSystem, path);
  try {
    const dataIds: number[] = [];
    const hintIds = new Set<number>();
    const segmentIds = new Set<number>();
    const indexIds = new Set<number>();
    for (const name of names) {
      const indexId = parseIndexFileName(name);
      if (indexId !== null) indexIds.add(indexId);
      const parsed = parseFileName(name);
      if (parsed?.kind === 'hint') hintIds.add(parsed.id);
      else if (parsed) dataIds.push(parsed.id);
      if (parsed?.kind === 'kvs') segmentIds.add(parsed.id);
    }
    dataIds.sort((a, b) => a - b);
    const nameOf = (id: number) => (segmentIds.has(id) ? segmentFileName(id) : dataFileName(id));
    const report: CheckReport = { dir: path, dataFiles: dataIds.length, hintFiles: 0, indexFiles: 0, records: 0, bytes: 0, damaged: [], ok: true };
    let totalBytes = 0;
    const sizes = new Map<string, number>();
    for (const id of dataIds) {
      const companions = [hintIds.has(id) ? hintFileName(id) : null, indexIds.has(id) ? indexFileName(id) : null];
      for (const name of [nameOf(id), ...companions.filter((name) => name !== null)]) {
        const file = `${path}/${name}`;
        const size = await fileSize(nodeFileSystem, file).catch((err) => Promise.reject(ioError('stat', file, err)));
        sizes.set(file, size);
        totalBytes += size;
      }
    }
    const fsys = countingFileSystem((n) => {
      report.bytes += n;
      onProgress?.({ bytes: Math.min(report.bytes, totalBytes), totalBytes });
    }, signal);
    for (const id of dataIds) {
      const file = `${path}/${nameOf(id)}`;
      let size = sizes.get(file)!;
      let fileDamage: CheckDamage[];
      if (segmentIds.has(id)) {
        const checked = await checkSegmentFile(fsys, file, id, size, report);
        fileDamage = checked.damaged;
        // A hint describes a segment's logical length, not its size on disk.
        size = checked.logicalLength;
      } else {
        fileDamage = await checkDataFile(fsys, file, id, size, report);
      }
      report.damaged.push(...fileDamage);
      // A segment that cannot be read at all is skipped by the store, its index file with it.
      if (indexIds.has(id) && size >= 0) {
        report.indexFiles++;
        const index = `${path}/${indexFileName(id)}`;
        report.damaged.push(...(await checkIndexFile(fsys, index, sizes.get(index)!, file, id, size, segmentIds.has(id), fileDamage, signal)));
      }
      if (!hintIds.has(id)) continue;
      report.hintFiles++;
      const hint = `${path}/${hintFileName(id)}`;
      let buffer: Buffer;
      try {
        buffer = await readWholeFile(fsys, hint);
      } catch (err) {
        if (err instanceof KvcaskError) throw err;
        throw ioError('read', hint, err);
      }
      if (!decodeHint(buffer, id, size, () => {})) report.damaged.push({ file: hint, offset: 0, length: buffer.length, kind: 'hint' });
    }
    report.ok = report.damaged.length === 0;
    return report;
  } finally {
    await lock.release();
  }
}

async function checkDataFile(fsys: FileSystem, file: string, id: number, size: number, report: CheckReport): Promise<CheckDamage[]> {
  const fd = await openForReading(fsys, file);
  try {
    const damaged: CheckDamage[] = [];
    const header = Buffer.alloc(FILE_HEADER_SIZE);
    await fsys.read(fd, header, 0, FILE_HEADER_SIZE, 0);
    const headerCheck = checkFileHeader(header, id);
    if (headerCheck === 'other-version') {
      const version = header.readUInt16LE(4);
      throw new KvcaskError(codes.VERSION, `${file} has format version ${version}; this kvcask reads version ${FORMAT_VERSION}`, { file, offset: 4 });
    }
    if (headerCheck === 'damaged') damaged.push({ file, offset: 0, length: FILE_HEADER_SIZE, kind: 'header' });
    const scan = await scanDataFile(fsys, fd, size, FILE_HEADER_SIZE, () => {
      report.records++;
    });
    for (const range of scan.damaged) damaged.push({ file, ...range, kind: 'frame' });
    if (scan.tailBytes > 0) damaged.push({ file, offset: scan.validEnd, length: scan.tailBytes, kind: 'tail' });
    return damaged;
  } catch (err) {
    if (err instanceof KvcaskError) throw err;
    throw ioError('read', file, err);
  } finally {
    await fsys.close(fd).catch(() => {});
  }
}

async function checkSegmentFile(
  fsys: FileSystem,
  file: string,
  id: number,
  size: number,
  report: CheckReport,
): Promise<{ damaged: CheckDamage[]; logicalLength: number }> {
  const fd = await openForReading(fsys, file);
  try {
    let segment;
    try {
      segment = await openSegment(fsys, fd, file, id, size);
    } catch (err) {
      if ((err as KvcaskError).code !== codes.CORRUPTION) throw err;
      return { damaged: [{ file, offset: (err as KvcaskError).offset ?? 0, length: size, kind: 'index' }], logicalLength: -1 };
    }
    const blocks = await scanSegment(fsys, fd, segment, () => {
      report.records++;
    });
    return { damaged: blocks.map((range) => ({ file, ...range, kind: 'block' as const })), logicalLength: segment.logicalLength };
  } finally {
    await fsys.close(fd).catch(() => {});
  }
}

async function openForReading(fsys: FileSystem, file: string): Promise<number> {
  try {
    return await fsys.open(file, 'r');
  } catch (err) {
    throw ioError('open', file, err);
  }
}

/**
 * Checks an index file: its header, trailer, fences and Bloom filter (as the
 * store's open does), every page (CRC, structure, key order), and that every
 * entry points at an intact record of its key, with its seq, flags and length,
 * in the data file or segment. The entries are held in memory (about the
 * index file's size) and checked in offset order, so the data file is read
 * front to back once more (from the page cache, just after its scan).
 * Entries inside damage already reported for the data file are not reported again.
 */
async function checkIndexFile(
  fsys: FileSystem,
  file: string,
  size: number,
  dataPath: string,
  id: number,
  dataLength: number,
  segmented: boolean,
  dataDamage: CheckDamage[],
  signal: AbortSignal | undefined,
): Promise<CheckDamage[]> {
  let index: IndexFile;
  try {
    index = await IndexFile.open(fsys, file, id, dataLength, new PageCache(0, PAGE_SLOT_BYTES));
  } catch (err) {
    const code = (err as KvcaskError).code;
    if (code !== codes.CORRUPTION && code !== codes.VERSION) throw err;
    return [{ file, offset: (err as KvcaskError).offset ?? 0, length: size, kind: 'index-file' }];
  }
  const damaged: CheckDamage[] = [];
  const entries: { entry: IndexEntry; page: number }[] = [];
  try {
    let previous: Buffer | null = null;
    for (let page = 0; page < index.pageCount; page++) {
      if (page % 256 === 255) await yieldToEventLoop();
      let found: IndexEntry[];
      try {
        found = index.entriesOf(page);
      } catch (err) {
        if ((err as KvcaskError).code !== codes.CORRUPTION) throw err;
        damaged.push({ file, ...pageDamage(index, page), kind: 'index-page' });
        continue;
      }
      // A lookup searches by key: an entry out of order could never be found.
      if (!inKeyOrder(previous, found)) {
        damaged.push({ file, ...pageDamage(index, page), kind: 'index-page' });
        continue;
      }
      previous = found[found.length - 1].key;
      for (const entry of found) entries.push({ entry, page });
    }
  } catch (err) {
    if (err instanceof KvcaskError) throw err;
    throw ioError('read', file, err);
  } finally {
    await index.close().catch(() => {});
  }
  const pages = await pagesWithStrayEntries(dataPath, id, segmented, entries, dataDamage, signal);
  for (const page of pages) damaged.push({ file, ...pageDamage(index, page), kind: 'index-entry' });
  return damaged;
}

/** Whether the keys of `entries` ascend strictly, and start after `previous` (the last key of the page before). */
function inKeyOrder(previous: Buffer | null, entries: IndexEntry[]): boolean {
  for (let i = 0; i < entries.length; i++) {
    const before = i > 0 ? entries[i - 1].key : previous;
    if (before !== null && compareBytes(before, entries[i].key) >= 0) return false;
  }
  return true;
}

function pageDamage(index: IndexFile, page: number): { offset: number; length: number } {
  const { position, length } = index.pageBounds(page);
  return { offset: position, length };
}

/** The pages (in order) holding an entry that does not match its record in the data file. */
async function pagesWithStrayEntries(
  path: string,
  id: number,
  segmented: boolean,
  entries: { entry: IndexEntry; page: number }[],
  dataDamage: CheckDamage[],
  signal: AbortSignal | undefined,
): Promise<number[]> {
  // Not counted as bytes verified: these bytes were read once by the scan already.
  const fsys = nodeFileSystem;
  const fd = await openForReading(fsys, path);
  const pages = new Set<number>();
  try {
    let segment: SealedSegment | null = null;
    if (segmented) segment = await openSegment(fsys, fd, path, id, await fsys.size(fd));
    // One block at a time suffices: entries are visited in offset order.
    const blocks = new BlockCache(segment === null ? 0 : segment.raw.reduce((most, length) => Math.max(most, length), 0));
    const inDamage = (offset: number) => dataDamage.some((range) => range.kind !== 'hint' && offset >= range.offset && offset < range.offset + range.length);
    entries.sort((a, b) => a.entry.offset - b.entry.offset);
    for (let i = 0; i < entries.length; i++) {
      if (i % 4096 === 4095) {
        await yieldToEventLoop();
        if (signal?.aborted) throw abortedError(signal, 'check');
      }
      const { entry, page } = entries[i];
      if (pages.has(page)) continue;
      const size = recordSize(entry.key.length, entry.valueLength);
      let record: Buffer | null;
      if (segment !== null) {
        try {
          record = segment.recordSync(fsys, fd, blocks, entry.offset, size);
        } catch (err) {
          // A damaged block: the segment's scan reported it.
          if ((err as KvcaskError).code === codes.CORRUPTION) continue;
          throw err;
        }
      } else {
        if (inDamage(entry.offset)) continue;
        record = Buffer.allocUnsafe(size);
        if (fsys.readSync(fd, record, 0, size, entry.offset) !== size) record = null;
      }
      if (record === null || !matches(record, entry)) pages.add(page);
    }
  } catch (err) {
    if (err instanceof KvcaskError) throw err;
    throw ioError('read', path, err);
  } finally {
    await fsys.close(fd).catch(() => {});
  }
  return [...pages].sort((a, b) => a - b);
}

/** Whether `record` is intact and is the one `entry` describes: its key, seq, tombstone flag and length. */
function matches(record: Buffer, entry: IndexEntry): boolean {
  return isRecordOf(record, entry.key) && recordSeq(record, 0) === entry.seq && ((recordFlags(record, 0) & FLAG_TOMBSTONE) !== 0) === entry.tombstone;
}
