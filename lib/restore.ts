import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { BackupReader } from './backup-format.js';
import { describe } from './encoding.js';
import { codes, ioError, KvcaskError } from './errors.js';
import { nodeFileSystem } from './filesystem.js';
import { LARGEST_VALUE_SIZE } from './options.js';
import { MAX_KEY_SIZE } from './record.js';
import { abortedError, checkSignalOption } from './snapshot.js';
import { type BatchOperation, open, type Store } from './store.js';

export interface RestoreOptions {
  /** Aborting stops the restore: it rejects with KVCASK_ABORTED and leaves nothing behind. */
  signal?: AbortSignal;
  onProgress?: (progress: RestoreProgress) => void;
}

export interface RestoreProgress {
  entries: number;
  /** The entry count the backup's header announces. */
  totalEntries: number;
  /** Bytes of the backup read so far. */
  bytes: number;
}

export interface RestoreSummary {
  entries: number;
  bytes: number;
  /** The sequence number the backed-up store had reached (the restored store numbers its records afresh). */
  seq: number;
  dir: string;
}

/** Entries are written in batches of about this many bytes (a batch is one frame). */
const BATCH_BYTES = 4 * 1024 * 1024;
const BATCH_ENTRIES = 4096;
/** The prefix of the temporary directory a restore builds in, next to its target. */
export const RESTORE_TEMP_PREFIX = '.kvcask-restore-';

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw ioError('readdir', dir, err);
  }
}

async function copyInto(
  store: Store,
  reader: BackupReader,
  signal: AbortSignal | undefined,
  onProgress: RestoreOptions['onProgress'],
): Promise<{ entries: number; seq: number }> {
  const { entries: totalEntries, seq } = await reader.header();
  let operations: BatchOperation[] = [];
  let bytes = 0;
  let entries = 0;
  const flush = async () => {
    if (signal?.aborted) throw abortedError(signal, 'restore');
    await store.batch(operations);
    entries += operations.length;
    operations = [];
    bytes = 0;
    onProgress?.({ entries, totalEntries, bytes: reader.offset });
  };
  for (let entry = await reader.next(); entry !== null; entry = await reader.next()) {
    operations.push({ type: 'put', key: entry.key, value: entry.value });
    bytes += entry.key.length + entry.value.length;
    if (bytes >= BATCH_BYTES || operations.length >= BATCH_ENTRIES) await flush();
  }
  await flush();
  return { entries, seq };
}

/**
 * Rebuilds a store in `dir` from a backup stream. Every checksum, the count
 * and the trailer are verified; the store is built in a temporary directory
 * beside `dir` and renamed into place only once complete, so `dir` either
 * holds the whole restored store or is left as it was.
 */
export async function restore(readable: AsyncIterable<unknown>, dir: string, options?: RestoreOptions): Promise<RestoreSummary> {
  if (typeof (readable as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] !== 'function') {
    throw new TypeError(`restore() reads from a readable stream or an async iterable of bytes, got ${describe(readable)}`);
  }
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`dir must be a non-empty string, got ${describe(dir)}`);
  const { signal, onProgress } = checkSignalOption(options, 'restore') as RestoreOptions;
  const target = resolvePath(dir);
  const parent = dirname(target);
  if (!(await isEmptyOrMissing(target))) {
    throw new KvcaskError(codes.EXISTS, `${target} is not empty: restore only into a new or empty directory`, { file: target });
  }
  if (signal?.aborted) throw abortedError(signal, 'restore');
  // A stream stuck waiting for input must also give way to the signal.
  if (signal !== undefined && readable instanceof Readable) addAbortSignal(signal, readable);
  const path = (readable as { path?: unknown }).path;
  const name = typeof path === 'string' ? path : 'backup stream';
  const reader = new BackupReader(readable, name);
  let temp: string;
  try {
    await mkdir(parent, { recursive: true });
    temp = await mkdtemp(join(parent, `${RESTORE_TEMP_PREFIX}${basename(target)}-`));
  } catch (err) {
    throw ioError('mkdtemp', parent, err);
  }
  let store: Store | undefined;
  try {
    store = await open(temp, { sync: 'none', maxKeySize: MAX_KEY_SIZE, maxValueSize: LARGEST_VALUE_SIZE });
    const copied = await copyInto(store, reader, signal, onProgress);
    // close() syncs the active file; sealed files were synced when sealed.
    await store.close();
    store = undefined;
    try {
      await nodeFileSystem.syncDir(temp);
      await rename(temp, target);
      await nodeFileSystem.syncDir(parent);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw new KvcaskError(codes.EXISTS, `${target} was filled while the restore ran; nothing was restored`, { file: target, cause: err });
      }
      throw ioError('rename', temp, err);
    }
    return { ...copied, bytes: reader.offset, dir: target };
  } catch (err) {
    await store?.close().catch(() => {});
    await rm(temp, { recursive: true, force: true }).catch(() => {});
    if (signal?.aborted) throw abortedError(signal, 'restore');
    if (err instanceof KvcaskError || err instanceof TypeError) throw err;
    throw new KvcaskError(codes.IO, `reading the backup failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
