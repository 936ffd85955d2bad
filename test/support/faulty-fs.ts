import { type FileSystem } from '../../lib/index.js';
import { nodeFileSystem } from '../../lib/filesystem.js';

type Operation = keyof FileSystem;

export interface InjectedFailure {
  operation: Operation;
  code: string;
  /** The path the operation was on (for descriptors, the path they were opened with). */
  path: string;
  /** The descriptor it was on, if any. */
  fd?: number;
  /** Which call of the operation it was, counting from 1. */
  call: number;
}

/**
 * A file system (node:fs unless another is given) behind the store's seam,
 * counting each call and failing the ones a test arms with `failNext`, the way
 * a full or dying disk would.
 */
export class FaultyFileSystem implements FileSystem {
  readonly calls: Record<string, number> = {};
  /** Writes to descriptors opened with O_DSYNC: each is durable when it completes. */
  syncedWrites = 0;
  /** Failures injected so far, in order. */
  readonly injected: InjectedFailure[] = [];
  /** Every datasync call, by the path of its descriptor. */
  readonly datasyncs: string[] = [];
  private readonly dsyncFds = new Set<number>();
  private readonly paths = new Map<number, string>();
  private readonly armed = new Map<Operation, { code: string; skip: number }>();

  /** When set, a failing write first writes the first half of its bytes. */
  partialWrites = false;

  constructor(private readonly inner: FileSystem = nodeFileSystem) {}

  /** Makes a call of `operation` fail with `code`: the next one, or the one after `skip` more. */
  failNext(operation: Operation, code: string, skip = 0): void {
    this.armed.set(operation, { code, skip });
  }

  pathOf(fd: number): string {
    return this.paths.get(fd) ?? `fd ${fd}`;
  }

  private enter(operation: Operation, path: string, fd?: number): void {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
    const armed = this.armed.get(operation);
    if (!armed) return;
    if (armed.skip-- > 0) return;
    this.armed.delete(operation);
    this.injected.push({ operation, code: armed.code, path, call: this.calls[operation], ...(fd === undefined ? {} : { fd }) });
    throw Object.assign(new Error(`${armed.code}: injected failure of ${operation} on ${path}`), { code: armed.code });
  }

  private async run<T>(operation: Operation, path: string, call: () => Promise<T>, fd?: number): Promise<T> {
    this.enter(operation, path, fd);
    return call();
  }

  open = async (path: string, flags: 'r' | 'r+' | 'wx+', dsync?: boolean) => {
    const fd = await this.run('open', path, () => this.inner.open(path, flags, dsync));
    this.paths.set(fd, path);
    if (dsync) this.dsyncFds.add(fd);
    else this.dsyncFds.delete(fd);
    return fd;
  };
  close = (fd: number) => this.run('close', this.pathOf(fd), () => this.inner.close(fd), fd);
  read = (fd: number, b: Uint8Array, o: number, l: number, p: number) => this.run('read', this.pathOf(fd), () => this.inner.read(fd, b, o, l, p), fd);
  readSync = (fd: number, b: Uint8Array, o: number, l: number, p: number) => {
    this.enter('readSync', this.pathOf(fd), fd);
    return this.inner.readSync(fd, b, o, l, p);
  };
  write = async (fd: number, b: Uint8Array, o: number, l: number, p: number) => {
    try {
      this.enter('write', this.pathOf(fd), fd);
    } catch (err) {
      // A disk filling up mid-write keeps what fitted.
      if (this.partialWrites && l > 1) await this.inner.write(fd, b, o, l >> 1, p);
      throw err;
    }
    await this.inner.write(fd, b, o, l, p);
    if (this.dsyncFds.has(fd)) this.syncedWrites++;
  };

  /** Durable points so far: fdatasyncs plus O_DSYNC writes. */
  get syncs(): number {
    return (this.calls.datasync ?? 0) + this.syncedWrites;
  }
  datasync = (fd: number) => {
    this.datasyncs.push(this.pathOf(fd));
    return this.run('datasync', this.pathOf(fd), () => this.inner.datasync(fd), fd);
  };
  truncate = (fd: number, l: number) => this.run('truncate', this.pathOf(fd), () => this.inner.truncate(fd, l), fd);
  size = (fd: number) => this.run('size', this.pathOf(fd), () => this.inner.size(fd), fd);
  rename = (a: string, b: string) => this.run('rename', a, () => this.inner.rename(a, b));
  link = (a: string, b: string) => this.run('link', a, () => this.inner.link(a, b));
  unlink = (p: string) => this.run('unlink', p, () => this.inner.unlink(p));
  syncDir = (p: string) => this.run('syncDir', p, () => this.inner.syncDir(p));
  readdir = (p: string) => this.run('readdir', p, () => this.inner.readdir(p));
  mkdir = (p: string) => this.run('mkdir', p, () => this.inner.mkdir(p));
  realpath = (p: string) => this.run('realpath', p, () => this.inner.realpath(p));
  rmdir = (p: string) => this.run('rmdir', p, () => this.inner.rmdir(p));
}
