import { posix } from 'node:path';
import type { FileSystem } from '../../lib/index.js';

/**
 * What a power loss does to the bytes a file had not yet synced:
 * - 'synced': they are gone (the file is cut back to its last synced length);
 * - 'torn': a prefix of them, cut at any byte, survived;
 * - 'garbage' / 'zeros': a prefix survived and the rest of the grown file holds random bytes / zeros;
 * - 'all': every write reached the disk, though none was synced;
 * - 'any': each file gets one of the above at random.
 * Directory changes made since a directory's last fsync are all dropped under
 * 'synced', all kept under 'all', and otherwise a random prefix of them is kept
 * (file systems journal metadata in order).
 */
export type CrashMode = 'synced' | 'torn' | 'garbage' | 'zeros' | 'all' | 'any';
const FILE_FATES = ['synced', 'torn', 'garbage', 'zeros', 'all'] as const;

class Inode {
  data: Buffer;
  size: number;
  /** The content as of the last fdatasync (or O_DSYNC write). */
  synced: Buffer;

  constructor(content: Buffer) {
    this.data = Buffer.from(content);
    this.size = content.length;
    this.synced = Buffer.from(content);
  }

  get content(): Buffer {
    return this.data.subarray(0, this.size);
  }

  resize(size: number): void {
    if (size > this.data.length) {
      const grown = Buffer.alloc(Math.max(size, this.data.length * 2));
      this.data.copy(grown, 0, 0, this.size);
      this.data = grown;
    } else if (size > this.size) {
      this.data.fill(0, this.size, size);
    }
    this.size = size;
  }
}

type Entry = { kind: 'dir' } | { kind: 'file'; inode: Inode };
/** One atomic directory change (a rename is two paths changing together). */
type DirChange = [path: string, entry: Entry | null][];

interface Descriptor {
  inode: Inode;
  writable: boolean;
  dsync: boolean;
}

type Random = () => number;

function fsError(code: string, what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${what}`), { code });
}

const isDir = (entry: Entry | undefined | null): boolean => entry?.kind === 'dir';

/**
 * An in-memory file system behind the store's seam that remembers, per file,
 * what was synced, and per directory, which entries were made durable by a
 * directory fsync. `powerLoss()` (or an operation armed with `crashAt()`)
 * turns that into the disk a machine would find after losing power; the
 * image is a new PowerLossFileSystem, as the next boot would see it.
 *
 * Operations complete after a microtask or a turn of the event loop, chosen by
 * the `timing` random source, so that concurrent work interleaves differently
 * from trial to trial, yet every trial replays exactly from its seed.
 */
export class PowerLossFileSystem implements FileSystem {
  /** What a running process sees. */
  private readonly entries: Map<string, Entry>;
  /** Directory entries as of each directory's last fsync. */
  private readonly durable: Map<string, Entry>;
  private readonly pending = new Map<string, DirChange[]>();
  private readonly fds = new Map<number, Descriptor>();
  private nextFd = 3;
  /** State-changing operations performed so far. */
  operations = 0;
  private crashAtOperation = Infinity;
  private crashRandom: Random = Math.random;
  private crashMode: CrashMode = 'any';
  private dead = false;
  /** The disk as found after the crash `crashAt()` armed; null until it happened. */
  afterCrash: PowerLossFileSystem | null = null;

  constructor(
    private readonly timing: Random,
    image?: Map<string, Entry>,
  ) {
    this.entries = image ?? new Map([['/', { kind: 'dir' }]]);
    this.durable = new Map(this.entries);
  }

  get crashed(): boolean {
    return this.dead;
  }

  /** Arms a power loss at the `n`th state-changing operation from now (1: the next one). */
  crashAt(n: number, random: Random, mode: CrashMode): void {
    this.crashAtOperation = this.operations + n;
    this.crashRandom = random;
    this.crashMode = mode;
  }

  /** Cuts the power now: every later operation fails, and the returned file system is the disk as found afterwards. */
  powerLoss(random: Random, mode: CrashMode): PowerLossFileSystem {
    this.dead = true;
    this.afterCrash = new PowerLossFileSystem(this.timing, this.image(random, mode));
    return this.afterCrash;
  }

  /** Another machine booting from a copy of this disk as it is now (everything written counts as on disk). */
  copy(): PowerLossFileSystem {
    return new PowerLossFileSystem(this.timing, this.image(this.timing, 'all'));
  }

  /** Paths of the files (not directories) present, sorted. */
  listFiles(): string[] {
    return [...this.entries].filter(([, entry]) => entry.kind === 'file').map(([path]) => path).sort();
  }

  /** A file's current bytes, bypassing the seam (for tests that inspect or damage the disk). */
  readFile(path: string): Buffer {
    const entry = this.entries.get(path);
    if (entry?.kind !== 'file') throw fsError('ENOENT', path);
    return Buffer.from(entry.inode.content);
  }

  /** Replaces a file's bytes as synced, bypassing the seam: damage done by something other than the store. */
  replaceFile(path: string, content: Buffer): void {
    const entry = this.entries.get(path);
    if (entry?.kind !== 'file') throw fsError('ENOENT', path);
    entry.inode.resize(0);
    entry.inode.resize(content.length);
    content.copy(entry.inode.data);
    entry.inode.synced = Buffer.from(content);
  }

  // ---- the crash ----------------------------------------------------------

  private image(random: Random, mode: CrashMode): Map<string, Entry> {
    const names = new Map(this.durable);
    for (const changes of this.pending.values()) {
      const kept = mode === 'synced' ? 0 : mode === 'all' ? changes.length : Math.floor(random() * (changes.length + 1));
      for (const change of changes.slice(0, kept)) for (const [path, entry] of change) entry ? names.set(path, entry) : names.delete(path);
    }
    const copies = new Map<Inode, Inode>();
    const image = new Map<string, Entry>();
    // Parents sort before their children, so an entry survives only if its directory did.
    for (const path of [...names.keys()].sort()) {
      const entry = names.get(path)!;
      if (path !== '/' && !isDir(image.get(posix.dirname(path)))) continue;
      if (entry.kind === 'dir') {
        image.set(path, entry);
        continue;
      }
      let inode = copies.get(entry.inode);
      if (!inode) copies.set(entry.inode, (inode = new Inode(this.survivingBytes(entry.inode, random, mode))));
      image.set(path, { kind: 'file', inode });
    }
    return image;
  }

  private survivingBytes(inode: Inode, random: Random, mode: CrashMode): Buffer {
    const { synced, content } = inode;
    const fate = mode === 'any' ? FILE_FATES[Math.floor(random() * FILE_FATES.length)] : mode;
    if (fate === 'all') return content;
    if (fate === 'synced') return synced;
    const appendedOnly = content.length >= synced.length && content.subarray(0, synced.length).equals(synced);
    // After a truncation or an overwrite since the last sync, either state may be found.
    if (!appendedOnly) return random() < 0.5 ? synced : content;
    const unsynced = content.length - synced.length;
    const cut = synced.length + Math.floor(random() * (unsynced + 1));
    const bytes = Buffer.from(content.subarray(0, cut));
    if (fate === 'torn' || cut === content.length) return bytes;
    // The file's new size reached the disk but some of its blocks did not.
    const end = cut + 1 + Math.floor(random() * (content.length - cut));
    const filler = Buffer.alloc(end - cut);
    if (fate === 'garbage') for (let i = 0; i < filler.length; i++) filler[i] = Math.floor(random() * 256);
    return Buffer.concat([bytes, filler]);
  }

  // ---- plumbing -----------------------------------------------------------

  /**
   * Runs one operation. A state-changing one counts towards the armed crash;
   * the operation the power fails in is half done: a write lands unsynced,
   * anything else happens or not, at random.
   */
  private run<T>(changes: boolean, body: (interrupted: boolean) => T): Promise<T> {
    if (this.dead) return Promise.reject(fsError('EIO', 'the power is off'));
    if (changes && ++this.operations >= this.crashAtOperation) {
      try {
        if (this.crashRandom() < 0.5) body(true);
      } catch {
        // It failed on its own; the crash happens either way.
      }
      this.powerLoss(this.crashRandom, this.crashMode);
      return Promise.reject(fsError('EIO', 'the power failed during this operation'));
    }
    let result: T;
    try {
      result = body(false);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.timing() < 0.5) return Promise.resolve(result);
    return new Promise((resolve) => setImmediate(() => resolve(result)));
  }

  private descriptor(fd: number): Descriptor {
    const descriptor = this.fds.get(fd);
    if (!descriptor) throw fsError('EBADF', `fd ${fd}`);
    return descriptor;
  }

  private file(path: string): Inode {
    const entry = this.entries.get(path);
    if (!entry) throw fsError('ENOENT', path);
    if (entry.kind !== 'file') throw fsError('EISDIR', path);
    return entry.inode;
  }

  private change(...change: DirChange): void {
    for (const [path, entry] of change) entry ? this.entries.set(path, entry) : this.entries.delete(path);
    const dir = posix.dirname(change[0][0]);
    const list = this.pending.get(dir) ?? [];
    list.push(change);
    this.pending.set(dir, list);
  }

  private parentMustExist(path: string): void {
    const parent = this.entries.get(posix.dirname(path));
    if (!parent) throw fsError('ENOENT', path);
    if (parent.kind !== 'dir') throw fsError('ENOTDIR', path);
  }

  // ---- FileSystem ---------------------------------------------------------

  open = (path: string, flags: 'r' | 'r+' | 'wx+', dsync = false) =>
    this.run(true, () => {
      let inode: Inode;
      if (flags === 'wx+') {
        this.parentMustExist(path);
        if (this.entries.has(path)) throw fsError('EEXIST', path);
        inode = new Inode(Buffer.alloc(0));
        this.change([path, { kind: 'file', inode }]);
      } else {
        inode = this.file(path);
      }
      const fd = this.nextFd++;
      this.fds.set(fd, { inode, writable: flags !== 'r', dsync });
      return fd;
    });

  close = (fd: number) =>
    this.run(false, () => {
      this.descriptor(fd);
      this.fds.delete(fd);
    });

  readSync = (fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number => {
    if (this.dead) throw fsError('EIO', 'the power is off');
    const { content } = this.descriptor(fd).inode;
    const n = Math.max(0, Math.min(length, content.length - position));
    if (n > 0) buffer.set(content.subarray(position, position + n), offset);
    return n;
  };

  read = (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) =>
    this.run(false, () => this.readSync(fd, buffer, offset, length, position));

  write = (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) =>
    this.run(true, (interrupted) => {
      const descriptor = this.descriptor(fd);
      if (!descriptor.writable) throw fsError('EBADF', `fd ${fd} is read-only`);
      const { inode } = descriptor;
      const bytes = buffer.subarray(offset, offset + length);
      if (position + length > inode.size) inode.resize(position + length);
      inode.data.set(bytes, position);
      // An O_DSYNC write is durable once it returns: its bytes and the file's size are synced.
      if (descriptor.dsync && !interrupted) {
        const synced = Buffer.alloc(Math.max(inode.synced.length, position + length));
        inode.synced.copy(synced);
        synced.set(bytes, position);
        inode.synced = synced;
      }
    });

  datasync = (fd: number) =>
    this.run(true, () => {
      const { inode } = this.descriptor(fd);
      inode.synced = Buffer.from(inode.content);
    });

  truncate = (fd: number, length: number) =>
    this.run(true, () => {
      const descriptor = this.descriptor(fd);
      if (!descriptor.writable) throw fsError('EBADF', `fd ${fd} is read-only`);
      descriptor.inode.resize(length);
    });

  size = (fd: number) => this.run(false, () => this.descriptor(fd).inode.size);

  rename = (from: string, to: string) =>
    this.run(true, () => {
      const entry = this.entries.get(from);
      if (!entry) throw fsError('ENOENT', from);
      this.parentMustExist(to);
      if (isDir(this.entries.get(to))) throw fsError('EISDIR', to);
      this.change([from, null], [to, entry]);
    });

  link = (from: string, to: string) =>
    this.run(true, () => {
      const inode = this.file(from);
      this.parentMustExist(to);
      if (this.entries.has(to)) throw fsError('EEXIST', to);
      this.change([to, { kind: 'file', inode }]);
    });

  unlink = (path: string) =>
    this.run(true, () => {
      this.file(path);
      this.change([path, null]);
    });

  syncDir = (path: string) =>
    this.run(true, () => {
      if (!isDir(this.entries.get(path))) throw fsError('ENOENT', path);
      for (const change of this.pending.get(path) ?? []) {
        for (const [name, entry] of change) entry ? this.durable.set(name, entry) : this.durable.delete(name);
      }
      this.pending.delete(path);
    });

  readdir = (path: string) =>
    this.run(false, () => {
      if (!isDir(this.entries.get(path))) throw fsError('ENOENT', path);
      const names: string[] = [];
      for (const name of this.entries.keys()) if (name !== '/' && posix.dirname(name) === path) names.push(posix.basename(name));
      return names;
    });

  mkdir = (path: string) =>
    this.run(true, () => {
      let first: string | undefined;
      const missing: string[] = [];
      for (let at = posix.resolve(path); !this.entries.has(at); at = posix.dirname(at)) missing.unshift(at);
      for (const dir of missing) {
        this.parentMustExist(dir);
        this.change([dir, { kind: 'dir' }]);
        first ??= dir;
      }
      if (!isDir(this.entries.get(posix.resolve(path)))) throw fsError('ENOTDIR', path);
      return first;
    });

  realpath = (path: string) =>
    this.run(false, () => {
      const resolved = posix.resolve(path);
      if (!this.entries.has(resolved)) throw fsError('ENOENT', path);
      return resolved;
    });

  rmdir = (path: string) =>
    this.run(true, () => {
      if (!isDir(this.entries.get(path))) throw fsError('ENOENT', path);
      for (const name of this.entries.keys()) if (name !== path && posix.dirname(name) === path) throw fsError('ENOTEMPTY', path);
      this.change([path, null]);
    });
}
