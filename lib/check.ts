import { resolve as resolvePath } from 'node:path';
import { decodeHint } from './hint.js';
import { describe } from './encoding.js';
import { codes, ioError, KvcaskError } from './errors.js';
import { type FileSystem, nodeFileSystem, readWholeFile } from './filesystem.js';
import { lockDirectory } from './lock.js';
import { checkFileHeader, FILE_HEADER_SIZE, FORMAT_VERSION } from './record.js';
import { openSegment, scanSegment, segmentFileName } from './sealed-segment.js';
import { dataFileName, hintFileName, parseFileName, scanDataFile } from './segment.js';
import { abortedError, checkSignalOption } from './snapshot.js';

export interface CheckOptions {
  /** Aborting stops the check: it rejects with KVCASK_ABORTED. */
  signal?: AbortSignal;
  onProgress?: (progress: CheckProgress) => void;
}

export interface CheckProgress {
  /** Bytes of data and hint files read so far. */
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
   * 'block': a segment block that fails its checksum or does not decompress.
   */
  kind: 'header' | 'frame' | 'tail' | 'hint' | 'index' | 'block';
}

export interface CheckReport {
  dir: string;
  dataFiles: number;
  hintFiles: number;
  /** Intact records found in the data files. */
  records: number;
  /** Bytes of data and hint files verified. */
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
  };
}

async function sizeOf(path: string): Promise<number> {
  const fd = await nodeFileSystem.open(path, 'r');
  try {
    return await nodeFileSystem.size(fd);
  } finally {
    await nodeFileSystem.close(fd);
  }
}

/**
 * Verifies every checksum of every data file and hint file in `dir`, reading
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
    for (const name of names) {
      const parsed = parseFileName(name);
      if (parsed?.kind === 'hint') hintIds.add(parsed.id);
      else if (parsed) dataIds.push(parsed.id);
      if (parsed?.kind === 'kvs') segmentIds.add(parsed.id);
    }
    dataIds.sort((a, b) => a - b);
    const nameOf = (id: number) => (segmentIds.has(id) ? segmentFileName(id) : dataFileName(id));
    const report: CheckReport = { dir: path, dataFiles: dataIds.length, hintFiles: 0, records: 0, bytes: 0, damaged: [], ok: true };
    let totalBytes = 0;
    const sizes = new Map<string, number>();
    for (const id of dataIds) {
      for (const name of hintIds.has(id) ? [nameOf(id), hintFileName(id)] : [nameOf(id)]) {
        const file = `${path}/${name}`;
        const size = await sizeOf(file).catch((err) => Promise.reject(ioError('stat', file, err)));
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
      if (segmentIds.has(id)) {
        const checked = await checkSegmentFile(fsys, file, id, size, report);
        report.damaged.push(...checked.damaged);
        // A hint describes a segment's logical length, not its size on disk.
        size = checked.logicalLength;
      } else {
        report.damaged.push(...(await checkDataFile(fsys, file, id, size, report)));
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
