import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { encodeBackupHeader, encodeEntryHeader, encodeTrailer } from './backup-format.js';
import { describe } from './encoding.js';
import { codes, KvcaskError } from './errors.js';
import type { ReadSnapshot } from './read-snapshot.js';
import type { Store } from './store.js';

export interface SnapshotOptions {
  /** Aborting stops the stream; the promise rejects with KVCASK_ABORTED and the writable is destroyed. */
  signal?: AbortSignal;
  /** Called after each chunk handed to the writable. */
  onProgress?: (progress: SnapshotProgress) => void;
}

export interface SnapshotProgress {
  /** Entries written so far. */
  entries: number;
  /** Entries the backup will hold: the keys at the snapshot's moment. */
  totalEntries: number;
  /** Bytes written so far. */
  bytes: number;
}

export interface SnapshotSummary {
  entries: number;
  bytes: number;
  /** Sequence number of the newest record the backup contains. */
  seq: number;
}

/** Entries are gathered into chunks of about this size, so that small entries do not cost a write each. */
const CHUNK = 64 * 1024;

export function checkSignalOption(options: unknown, what: string): { signal?: AbortSignal; onProgress?: (progress: never) => void } {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new TypeError(`${what} options must be an object, got ${describe(options)}`);
  const { signal, onProgress } = options as { signal?: unknown; onProgress?: unknown };
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new TypeError('onProgress must be a function');
  return options as { signal?: AbortSignal; onProgress?: (progress: never) => void };
}

export function abortedError(signal: AbortSignal, what: string): KvcaskError {
  return new KvcaskError(codes.ABORTED, `the ${what} was aborted`, { cause: signal.reason });
}

async function* backupChunks(store: Store, view: ReadSnapshot, summary: SnapshotSummary, onProgress?: (p: SnapshotProgress) => void) {
  let crc = 0;
  let parts: Buffer[] = [];
  let size = 0;
  const emit = (): Buffer => {
    const chunk = parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
    crc = crc32(chunk, crc);
    summary.bytes += chunk.length;
    parts = [];
    size = 0;
    return chunk;
  };
  parts.push(encodeBackupHeader(view.seq, view.size));
  size = parts[0].length;
  for (const [key, location] of view.locations()) {
    const value = store.valueAt(key, location);
    const header = encodeEntryHeader(key, value);
    parts.push(header, key, value);
    size += header.length + key.length + value.length;
    summary.entries++;
    if (size >= CHUNK) {
      yield emit();
      onProgress?.({ entries: summary.entries, totalEntries: view.size, bytes: summary.bytes });
    }
  }
  if (size > 0) yield emit();
  const trailer = encodeTrailer(summary.entries, crc);
  summary.bytes += trailer.length;
  yield trailer;
  onProgress?.({ entries: summary.entries, totalEntries: view.size, bytes: summary.bytes });
}

/**
 * Streams every key and value of the store, as of the moment of the call,
 * into `writable`, at the pace the writable takes them. Writes go on
 * meanwhile; they are not in the backup.
 */
export async function writeSnapshot(store: Store, writable: NodeJS.WritableStream, options?: SnapshotOptions): Promise<SnapshotSummary> {
  if (typeof writable !== 'object' || writable === null || typeof (writable as { write?: unknown }).write !== 'function') {
    throw new TypeError(`snapshot() writes to a writable stream, got ${describe(writable)}`);
  }
  const { signal, onProgress } = checkSignalOption(options, 'snapshot') as SnapshotOptions;
  // Taken before the first await, so the backup's moment is the moment of the call.
  const view = store.openSnapshot();
  const summary: SnapshotSummary = { entries: 0, bytes: 0, seq: view.seq };
  try {
    if (signal?.aborted) throw abortedError(signal, 'snapshot');
    const source = Readable.from(backupChunks(store, view, summary, onProgress), { objectMode: false, highWaterMark: CHUNK });
    await pipeline(source, writable, signal === undefined ? {} : { signal });
    return summary;
  } catch (err) {
    if (signal?.aborted) throw abortedError(signal, 'snapshot');
    if (err instanceof KvcaskError) throw err;
    throw new KvcaskError(codes.IO, `writing the snapshot failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    view.release();
  }
}
