import fs from 'node:fs';

/**
 * The only door between the store and the disk. Every file operation the store
 * performs goes through one of these methods, so that tests can swap in an
 * implementation that records what was synced and simulates power loss, torn
 * writes and failing disks. Descriptors are plain numbers so that the hot read
 * path costs one syscall and no allocation.
 */
export interface FileSystem {
  /**
   * 'r': read only; 'r+': read and write an existing file; 'wx+': create a new file, failing if it exists.
   * With `dsync`, every write is durable when it completes (O_DSYNC), as if followed by fdatasync.
   */
  open(path: string, flags: 'r' | 'r+' | 'wx+', dsync?: boolean): Promise<number>;
  close(fd: number): Promise<void>;
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  /** Writes all of `length` bytes at `position`, or rejects. */
  write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<void>;
  /** fdatasync: the file's bytes and its size are durable when this resolves. */
  datasync(fd: number): Promise<void>;
  truncate(fd: number, length: number): Promise<void>;
  size(fd: number): Promise<number>;
  rename(from: string, to: string): Promise<void>;
  /** A hard link; fails with EEXIST if `to` exists, which makes it an atomic create-with-content. */
  link(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync of a directory: makes creations, renames and removals inside it durable. */
  syncDir(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  /** Creates the directory and any missing parents; resolves with the first directory it created, undefined if all existed. */
  mkdir(path: string): Promise<string | undefined>;
  /** The canonical absolute path (symbolic links resolved) of an existing directory. */
  realpath(path: string): Promise<string>;
  rmdir(path: string): Promise<void>;
}

function settle<T>(resolve: (value: T) => void, reject: (err: unknown) => void) {
  return (err: NodeJS.ErrnoException | null, value: T) => (err ? reject(err) : resolve(value));
}

function writeFully(
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
  done: (err: NodeJS.ErrnoException | null) => void,
): void {
  fs.write(fd, buffer, offset, length, position, (err, written) => {
    if (err) return done(err);
    // A short write is legal (a signal, a nearly full disk); finish it rather than lose the tail.
    if (written < length) return writeFully(fd, buffer, offset + written, length - written, position + written, done);
    done(null);
  });
}

/** The production implementation, on `node:fs` callbacks (cheaper than FileHandle promises per call). */
const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_DSYNC } = fs.constants;
const OPEN_FLAGS = { r: O_RDONLY, 'r+': O_RDWR, 'wx+': O_RDWR | O_CREAT | O_EXCL };

export const nodeFileSystem: FileSystem = {
  open: (path, flags, dsync = false) =>
    new Promise((resolve, reject) => fs.open(path, OPEN_FLAGS[flags] | (dsync ? O_DSYNC : 0), 0o644, settle(resolve, reject))),
  close: (fd) => new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve()))),
  read: (fd, buffer, offset, length, position) =>
    new Promise((resolve, reject) => fs.read(fd, buffer, offset, length, position, settle(resolve, reject))),
  readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  write: (fd, buffer, offset, length, position) =>
    new Promise((resolve, reject) => writeFully(fd, buffer, offset, length, position, (err) => (err ? reject(err) : resolve()))),
  datasync: (fd) => new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve()))),
  truncate: (fd, length) => new Promise((resolve, reject) => fs.ftruncate(fd, length, (err) => (err ? reject(err) : resolve()))),
  size: (fd) => new Promise((resolve, reject) => fs.fstat(fd, (err, stat) => (err ? reject(err) : resolve(stat.size)))),
  rename: (from, to) => new Promise((resolve, reject) => fs.rename(from, to, (err) => (err ? reject(err) : resolve()))),
  link: (from, to) => new Promise((resolve, reject) => fs.link(from, to, (err) => (err ? reject(err) : resolve()))),
  unlink: (path) => new Promise((resolve, reject) => fs.unlink(path, (err) => (err ? reject(err) : resolve()))),
  syncDir: (path) =>
    new Promise((resolve, reject) =>
      fs.open(path, 'r', (err, fd) => {
        if (err) return reject(err);
        fs.fsync(fd, (syncErr) => fs.close(fd, () => (syncErr ? reject(syncErr) : resolve())));
      }),
    ),
  readdir: (path) => new Promise((resolve, reject) => fs.readdir(path, settle(resolve, reject))),
  mkdir: (path) =>
    new Promise((resolve, reject) => fs.mkdir(path, { recursive: true }, (err, first) => (err ? reject(err) : resolve(first)))),
  realpath: (path) => new Promise((resolve, reject) => fs.realpath(path, settle(resolve, reject))),
  rmdir: (path) => new Promise((resolve, reject) => fs.rmdir(path, (err) => (err ? reject(err) : resolve()))),
};

/** Reads a whole (small) file through the seam. */
/** The size of the file at `path`, through an open of its own. */
export async function fileSize(fsys: FileSystem, path: string): Promise<number> {
  const fd = await fsys.open(path, 'r');
  try {
    return await fsys.size(fd);
  } finally {
    await fsys.close(fd);
  }
}

export async function readWholeFile(fsys: FileSystem, path: string): Promise<Buffer> {
  const fd = await fsys.open(path, 'r');
  try {
    const size = await fsys.size(fd);
    const buffer = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const n = await fsys.read(fd, buffer, done, size - done, done);
      if (n === 0) break;
      done += n;
    }
    return done === size ? buffer : buffer.subarray(0, done);
  } finally {
    await fsys.close(fd);
  }
}

/**
 * Background writes of large files (merge outputs, hints) are fdatasynced
 * every this many bytes: one flush of many megabytes holds up the store's own
 * durable writes queued behind it on the disk.
 */
export const SYNC_PIECE = 1024 * 1024;

/**
 * Creates `path` with `data` so that it either exists whole or not at all after
 * a crash: write a temporary file, sync it, rename it over, sync the directory.
 */
export async function writeFileAtomically(fsys: FileSystem, dir: string, name: string, data: Uint8Array): Promise<void> {
  const tmp = `${dir}/${name}.tmp`;
  const fd = await createReplacing(fsys, tmp);
  try {
    let at = 0;
    do {
      const length = Math.min(SYNC_PIECE, data.length - at);
      await fsys.write(fd, data, at, length, at);
      await fsys.datasync(fd);
      at += length;
    } while (at < data.length);
  } finally {
    await fsys.close(fd);
  }
  await fsys.rename(tmp, `${dir}/${name}`);
  await fsys.syncDir(dir);
}

/**
 * Creates `path`, first removing a stale one left by a crash. The unlink is
 * tried only when the create finds the file there: unconditionally it was a
 * wasted, failing syscall on every hint written (docs/performance.md).
 */
async function createReplacing(fsys: FileSystem, path: string): Promise<number> {
  try {
    return await fsys.open(path, 'wx+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  await fsys.unlink(path);
  return fsys.open(path, 'wx+');
}
