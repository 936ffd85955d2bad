import { type FileSystem } from '../../lib/index.js';
import { nodeFileSystem } from '../../lib/filesystem.js';

type Operation = keyof FileSystem;

/**
 * node:fs behind the store's file-system seam, counting each call and failing
 * the ones a test arms with `failNext`, the way a full or dying disk would.
 */
export class FaultyFileSystem implements FileSystem {
  readonly calls: Record<string, number> = {};
  /** Writes to descriptors opened with O_DSYNC: each is durable when it completes. */
  syncedWrites = 0;
  private readonly dsyncFds = new Set<number>();
  private readonly armed = new Map<Operation, NodeJS.ErrnoException>();

  failNext(operation: Operation, code: string): void {
    const err: NodeJS.ErrnoException = new Error(`${code}: injected failure of ${operation}`);
    err.code = code;
    this.armed.set(operation, err);
  }

  private enter(operation: Operation): void {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
    const err = this.armed.get(operation);
    if (err) {
      this.armed.delete(operation);
      throw err;
    }
  }

  private async run<T>(operation: Operation, call: () => Promise<T>): Promise<T> {
    this.enter(operation);
    return call();
  }

  open = async (path: string, flags: 'r' | 'r+' | 'wx+', dsync?: boolean) => {
    const fd = await this.run('open', () => nodeFileSystem.open(path, flags, dsync));
    if (dsync) this.dsyncFds.add(fd);
    else this.dsyncFds.delete(fd);
    return fd;
  };
  close = (fd: number) => this.run('close', () => nodeFileSystem.close(fd));
  read = (fd: number, b: Uint8Array, o: number, l: number, p: number) => this.run('read', () => nodeFileSystem.read(fd, b, o, l, p));
  readSync = (fd: number, b: Uint8Array, o: number, l: number, p: number) => {
    this.enter('readSync');
    return nodeFileSystem.readSync(fd, b, o, l, p);
  };
  write = async (fd: number, b: Uint8Array, o: number, l: number, p: number) => {
    await this.run('write', () => nodeFileSystem.write(fd, b, o, l, p));
    if (this.dsyncFds.has(fd)) this.syncedWrites++;
  };

  /** Durable points so far: fdatasyncs plus O_DSYNC writes. */
  get syncs(): number {
    return (this.calls.datasync ?? 0) + this.syncedWrites;
  }
  datasync = (fd: number) => this.run('datasync', () => nodeFileSystem.datasync(fd));
  truncate = (fd: number, l: number) => this.run('truncate', () => nodeFileSystem.truncate(fd, l));
  size = (fd: number) => this.run('size', () => nodeFileSystem.size(fd));
  rename = (a: string, b: string) => this.run('rename', () => nodeFileSystem.rename(a, b));
  link = (a: string, b: string) => this.run('link', () => nodeFileSystem.link(a, b));
  unlink = (p: string) => this.run('unlink', () => nodeFileSystem.unlink(p));
  syncDir = (p: string) => this.run('syncDir', () => nodeFileSystem.syncDir(p));
  readdir = (p: string) => this.run('readdir', () => nodeFileSystem.readdir(p));
  mkdir = (p: string) => this.run('mkdir', () => nodeFileSystem.mkdir(p));
  realpath = (p: string) => this.run('realpath', () => nodeFileSystem.realpath(p));
  rmdir = (p: string) => this.run('rmdir', () => nodeFileSystem.rmdir(p));
}
