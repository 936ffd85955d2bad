import type { FileSystem } from './filesystem.js';
import type { SealedSegment } from './sealed-segment.js';
import {
  FILE_HEADER_SIZE,
  FRAME_HEADER_SIZE,
  FRAME_MAGIC_BYTES,
  RECORD_HEADER_SIZE,
  checkRecord,
  frameCount,
  frameLength,
  recordFlags,
  recordKeyLength,
  recordSeq,
  recordValueLength,
} from './record.js';

/**
 * Data files get ids FILE_ID_STEP apart, so that a merge can name its outputs
 * with the ids right after its newest input: a file's id orders its records
 * against every other file's (see merge.ts).
 */
export const FILE_ID_STEP = 1000;

/** The id of the next data file after every id up to `lastId`. */
export function nextDataFileId(lastId: number): number {
  return (Math.floor(lastId / FILE_ID_STEP) + 1) * FILE_ID_STEP;
}

/** Data files are `<id>.data`, the id zero-padded to 8 digits (more once ids pass 99,999,999). */
export function dataFileName(id: number): string {
  return `${String(id).padStart(8, '0')}.data`;
}

export function hintFileName(id: number): string {
  return `${String(id).padStart(8, '0')}.hint`;
}

/** The on-disk index of the sealed data file or segment with the same id (see index-file.ts). */
export function indexFileName(id: number): string {
  return `${String(id).padStart(8, '0')}.kvx`;
}

export type FileKind = 'data' | 'hint' | 'kvs';

/** The id in `name` if it is the canonical spelling of `<id>.<extension>`, else null. */
function idOf(name: string, extensions: RegExp): { id: number; extension: string } | null {
  const match = /^(\d{8,10})\.([a-z]+)$/.exec(name);
  if (!match || !extensions.test(match[2])) return null;
  const id = Number(match[1]);
  // Only the canonical spelling counts, so that no two names can claim one id.
  return name === `${String(id).padStart(8, '0')}.${match[2]}` ? { id, extension: match[2] } : null;
}

export function parseFileName(name: string): { id: number; kind: FileKind } | null {
  const parsed = idOf(name, /^(data|hint|kvs)$/);
  return parsed && { id: parsed.id, kind: parsed.extension as FileKind };
}

/**
 * The id of an index file's name (`<id>.kvx`), else null. Kept apart from
 * parseFileName until the store's open knows index files: there an unknown
 * kind would be taken for a second data file of the same id.
 */
export function parseIndexFileName(name: string): number | null {
  return idOf(name, /^kvx$/)?.id ?? null;
}

export interface ScannedRecord {
  /** The key's bytes; a view valid only during the callback that receives it. */
  key: Buffer;
  offset: number;
  seq: number;
  flags: number;
  valueLength: number;
}

export interface DamagedRange {
  offset: number;
  length: number;
}

export interface ScanResult {
  /** Where the last intact frame ends: appends may continue here. */
  validEnd: number;
  /** Stretches skipped because no intact frame could be read there (the torn tail excluded). */
  damaged: DamagedRange[];
  /** Bytes after the last intact frame: a torn tail, or garbage and zeros after a crash. */
  tailBytes: number;
}

const WINDOW = 1 << 20;
/** Records handed over between two calls of a scan's pause hook. */
const PAUSE_EVERY = 64;

/**
 * A read window over a file, so that a scan issues a few large reads instead
 * of one per record. Its memory is reused from window to window (what a load
 * returned is valid until the next load): a fresh megabyte per window made a
 * merge's scans a steady source of full garbage collections.
 */
class FileWindow {
  private storage = Buffer.alloc(0);
  private buffer = this.storage;
  private base = 0;

  constructor(
    private readonly fsys: FileSystem,
    private readonly fd: number,
    readonly size: number,
  ) {}

  /** Returns a buffer holding [position, position + length), clamped to the file's end, and its base offset. */
  async load(position: number, length: number): Promise<{ buffer: Buffer; base: number }> {
    const end = Math.min(this.size, position + length);
    if (position >= this.base && end <= this.base + this.buffer.length) return { buffer: this.buffer, base: this.base };
    const want = Math.min(this.size - position, Math.max(WINDOW, end - position));
    if (this.storage.length < want) this.storage = Buffer.allocUnsafe(want);
    const buffer = this.storage;
    let filled = 0;
    while (filled < want) {
      const n = await this.fsys.read(this.fd, buffer, filled, want - filled, position + filled);
      if (n === 0) break;
      filled += n;
    }
    this.buffer = buffer.subarray(0, filled);
    this.base = position;
    return { buffer: this.buffer, base: this.base };
  }
}

/**
 * Checks the frame at `position`: returns its total size when the header and
 * every record in it are intact, else -1. Lengths are trusted only after the
 * header CRC matched and they fit inside the file.
 */
async function intactFrameSize(window: FileWindow, position: number, pause?: () => Promise<void> | void): Promise<number> {
  const head = await window.load(position, FRAME_HEADER_SIZE);
  const at = position - head.base;
  const length = frameLength(head.buffer, at);
  if (length < 0 || position + FRAME_HEADER_SIZE + length > window.size) return -1;
  const count = frameCount(head.buffer, at);
  const { buffer, base } = await window.load(position, FRAME_HEADER_SIZE + length);
  const end = position - base + FRAME_HEADER_SIZE + length;
  let cursor = position - base + FRAME_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    // A group frame can hold thousands of records: checking it whole must not hold the event loop either.
    if (pause && i > 0 && i % PAUSE_EVERY === 0) await pause();
    const size = checkRecord(buffer, cursor, end);
    if (size < 0) return -1;
    cursor += size;
  }
  return cursor === end ? FRAME_HEADER_SIZE + length : -1;
}

async function nextIntactFrame(window: FileWindow, from: number, pause?: () => Promise<void> | void): Promise<number> {
  let position = from;
  while (position + FRAME_HEADER_SIZE <= window.size) {
    const { buffer, base } = await window.load(position, WINDOW);
    const found = buffer.indexOf(FRAME_MAGIC_BYTES, position - base);
    if (found < 0) {
      // The magic may straddle the window's edge: step back by its length minus one.
      if (base + buffer.length >= window.size) return -1;
      position = base + buffer.length - (FRAME_MAGIC_BYTES.length - 1);
      continue;
    }
    const candidate = base + found;
    if ((await intactFrameSize(window, candidate, pause)) > 0) return candidate;
    position = candidate + 1;
  }
  return -1;
}

/**
 * Reads every intact frame of a data file in order and hands its records to
 * `onRecord`, a frame at a time and only once the whole frame checked out, so
 * that a batch is seen whole or not at all. Damaged stretches are skipped up to
 * the next intact frame and reported; what follows the last intact frame is
 * reported as the tail.
 */
export async function scanDataFile(
  fsys: FileSystem,
  fd: number,
  size: number,
  from: number,
  onRecord: (record: ScannedRecord, bytes: Buffer) => void,
  /** Awaited after every frame and every PAUSE_EVERY records checked or handed over: where a merge yields, throttles or stops. */
  afterFrame?: () => Promise<void> | void,
): Promise<ScanResult> {
  const window = new FileWindow(fsys, fd, size);
  const damaged: DamagedRange[] = [];
  let position = Math.max(from, FILE_HEADER_SIZE);
  let validEnd = position;
  while (position < size) {
    const frameSize = await intactFrameSize(window, position, afterFrame);
    if (frameSize < 0) {
      const next = await nextIntactFrame(window, position + 1, afterFrame);
      if (next < 0) break;
      damaged.push({ offset: position, length: next - position });
      position = next;
      continue;
    }
    const { buffer, base } = await window.load(position, frameSize);
    const end = position - base + frameSize;
    let sincePause = 0;
    for (let cursor = position - base + FRAME_HEADER_SIZE; cursor < end; ) {
      // A group frame can hold thousands of records: let a merge breathe inside it too (the frame is already checked).
      if (afterFrame && ++sincePause === PAUSE_EVERY) {
        sincePause = 0;
        await afterFrame();
      }
      const keyLength = recordKeyLength(buffer, cursor);
      const valueLength = recordValueLength(buffer, cursor);
      const size = RECORD_HEADER_SIZE + keyLength + valueLength;
      onRecord(
        {
          key: buffer.subarray(cursor + RECORD_HEADER_SIZE, cursor + RECORD_HEADER_SIZE + keyLength),
          offset: base + cursor,
          seq: recordSeq(buffer, cursor),
          flags: recordFlags(buffer, cursor),
          valueLength,
        },
        buffer.subarray(cursor, cursor + size),
      );
      cursor += size;
    }
    position += frameSize;
    validEnd = position;
    if (afterFrame) await afterFrame();
  }
  return { validEnd, damaged, tailBytes: size - validEnd };
}



/** A data file as the store tracks it while open. */
export interface DataFile {
  id: number;
  path: string;
  /** -1 until the file has been created on disk. */
  fd: number;
  /** Where the next record will go, counting appends not yet written. */
  end: number;
  /** Bytes handed to the OS: reads below this go to the file, above it to the pending groups. */
  written: number;
  /** Bytes written since the last fdatasync. */
  unsynced: boolean;
  sealed: boolean;
  /** Bytes of records the index points to (the rest is garbage for a merge to reclaim). */
  liveBytes: number;
  liveKeys: number;
  /** Bytes of tombstones a merge had to keep: needed, so not garbage. */
  keptBytes: number;
  /** The lowest sequence number in the file (Infinity while it has none): decides which tombstones a merge may drop. */
  minSeq: number;
  /** Set for a sealed segment: its block index. Its offsets are logical. */
  segment: SealedSegment | null;
  /** Replaced by a merge; kept open only while older snapshots or reads may still need it. */
  retired: boolean;
  /** Asynchronous reads in flight, which keep a retired file's descriptor open. */
  readers: number;
}

export function newDataFile(dir: string, id: number, fd: number, size: number): DataFile {
  return {
    id,
    path: `${dir}/${dataFileName(id)}`,
    fd,
    end: size,
    written: size,
    unsynced: false,
    sealed: false,
    liveBytes: 0,
    liveKeys: 0,
    keptBytes: 0,
    minSeq: Infinity,
    segment: null,
    retired: false,
    readers: 0,
  };
}

/** The bytes a file takes on disk. */
export function fileBytes(file: DataFile): number {
  return file.segment ? file.segment.fileBytes : Math.max(file.end, FILE_HEADER_SIZE);
}

/** Bytes of records no key needs: overwritten values and tombstones not yet known to be needed. */
export function deadBytes(file: DataFile): number {
  return Math.max(0, recordBytes(file) - file.liveBytes - file.keptBytes);
}

/** Bytes of records in a file, live or dead (a segment's are counted raw). */
export function recordBytes(file: DataFile): number {
  return (file.segment ? file.segment.logicalLength : Math.max(file.end, FILE_HEADER_SIZE)) - FILE_HEADER_SIZE;
}
