import { createReadStream, createWriteStream, existsSync, fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import { link, open, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { codes, KvcaskError, restore, type SnapshotOptions, type SnapshotSummary, type Store } from '../lib/index.js';
import { globals, progressBar, stdout, withStore } from './context.js';
import { interruptSignal } from './interrupt.js';
import { UsageError } from './output.js';

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes the backup under a temporary name beside `file`, syncs it and links
 * it into place only when complete: `file` never exists half written, and an
 * existing file is never replaced.
 */
async function backupToFile(store: Store, file: string, options: SnapshotOptions): Promise<SnapshotSummary> {
  const path = resolve(file);
  const exists = () => new KvcaskError(codes.EXISTS, `${path} already exists: a backup never replaces a file`, { file: path });
  // Checked first so that a long backup is not made in vain; the link below is what guarantees it.
  if (existsSync(path)) throw exists();
  const temp = join(dirname(path), `.${basename(path)}.kvcask-backup-${process.pid}.tmp`);
  let summary: SnapshotSummary;
  try {
    summary = await store.snapshot(createWriteStream(temp, { flags: 'wx' }), options);
    // The stream closed its descriptor; any descriptor of the file can make its data durable.
    const handle = await open(temp, 'r+');
    await handle.datasync().finally(() => handle.close());
  } catch (err) {
    // EEXIST: the temporary name is another backup's (same pid reused); leave it alone.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') await unlink(temp).catch(() => {});
    throw err;
  }
  try {
    await link(temp, path);
  } catch (err) {
    throw (err as NodeJS.ErrnoException).code === 'EEXIST' ? exists() : new KvcaskError(codes.IO, `cannot create ${path}: ${(err as Error).message}`, { file: path, cause: err });
  } finally {
    await unlink(temp).catch(() => {});
  }
  await syncDirectory(dirname(path));
  return summary;
}

/**
 * Standard output for a backup. process.stdout writes to a pipe synchronously
 * on Linux, so a reader that stops reading would freeze the event loop, and
 * Ctrl-C with it: a pipe or socket gets a stream of its own (asynchronous,
 * with back-pressure), a file a file stream.
 */
function stdoutStream(): NodeJS.WritableStream {
  const stat = fstatSync(1);
  if (stat.isFIFO() || stat.isSocket()) return new Socket({ fd: 1, readable: false, writable: true });
  return createWriteStream('', { fd: 1, autoClose: false });
}

async function backup(file: string | undefined, _options: unknown, command: Command): Promise<void> {
  const target = file ?? '-';
  if (target === '-' && process.stdout.isTTY) throw new UsageError('a backup is binary: give a file, or redirect stdout');
  const bar = progressBar(command, 'backup', 'entries');
  const options: SnapshotOptions = { signal: interruptSignal(), onProgress: (p) => bar.update(p.entries, p.totalEntries, p.bytes) };
  let summary: SnapshotSummary;
  try {
    summary = await withStore(command, (store) => (target === '-' ? store.snapshot(stdoutStream(), options) : backupToFile(store, target, options)));
  } catch (err) {
    bar.stop();
    throw err;
  }
  bar.finish(summary.entries, summary.entries, summary.bytes);
  if (target === '-') return;
  const { json } = globals(command);
  const path = resolve(target);
  await stdout.write(json ? `${JSON.stringify({ ...summary, file: path })}\n` : `backed up ${summary.entries} entries (${summary.bytes} bytes) to ${path}\n`);
}

async function restoreCommand(file: string | undefined, _options: unknown, command: Command): Promise<void> {
  const source = file ?? '-';
  if (source === '-' && process.stdin.isTTY) throw new UsageError('give a backup file, or pipe a backup into stdin');
  const { dir, json } = globals(command);
  const bar = progressBar(command, 'restore', 'entries');
  const readable = source === '-' ? process.stdin : createReadStream(source);
  let summary;
  try {
    summary = await restore(readable, dir, { signal: interruptSignal(), onProgress: (p) => bar.update(p.entries, p.totalEntries, p.bytes) });
  } catch (err) {
    bar.stop();
    throw err;
  }
  bar.finish(summary.entries, summary.entries, summary.bytes);
  await stdout.write(json ? `${JSON.stringify(summary)}\n` : `restored ${summary.entries} entries into ${summary.dir}\n`);
}

/** backup and restore. */
export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('write a consistent backup of the store to a file (never replaced) or, with "-" (the default), to stdout')
    .argument('[file]', 'where to write it; "-" for stdout')
    .action(backup);
  program
    .command('restore')
    .description('rebuild the store in --dir (which must be missing or empty) from a backup file or, with "-" (the default), stdin')
    .argument('[file]', 'the backup to read; "-" for stdin')
    .action(restoreCommand);
}
