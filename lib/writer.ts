import { codes, ioError, KvcaskError } from './errors.js';
import type { FileSystem } from './filesystem.js';
import type { ResolvedOptions } from './options.js';
import { encodeFileHeader, FILE_HEADER_SIZE, FRAME_HEADER_SIZE, writeFrameHeader, writeRecord } from './record.js';
import { type DataFile, FILE_ID_STEP } from './segment.js';

/** Past this size a group stops taking appends, so that one write syscall stays bounded. */
const GROUP_LIMIT = 4 * 1024 * 1024;
const FIRST_GROUP_CAPACITY = 64 * 1024;
/**
 * Group buffers up to this size are kept for the next groups once written: a
 * fresh 64 KiB buffer per group cost a lone writer 64 KiB of garbage per set
 * and a mark-compact every few hundred sets (docs/performance.md, Workshop).
 */
const SPARE_LIMIT = 1024 * 1024;
/** In the steady state one group is written while the next fills; a second spare covers a rotation or a full group. */
const SPARES = 2;

/**
 * One group commit: the records appended while the previous group was being
 * written, encoded into one buffer and written as one frame by one durable
 * write. Every writer in it shares one promise.
 */
export class Group {
  buffer: Buffer;
  used = FRAME_HEADER_SIZE;
  count = 0;
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;
  /**
   * Per appended record: its position in `buffer` (where its key can be read
   * back) and the file id (-1: absent), offset and value length its key had
   * before, so that a failed group can be taken back out of the index.
   */
  readonly undo: number[] = [];

  constructor(
    readonly file: DataFile,
    readonly start: number,
    buffer: Buffer,
  ) {
    this.buffer = buffer;
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Encodes a record into the group; returns its offset in the data file. */
  append(seq: number, flags: number, key: Uint8Array, value: Uint8Array | string | null, valueLength: number): number {
    const position = this.used;
    if (seq < this.file.minSeq) this.file.minSeq = seq;
    this.used = writeRecord(this.buffer, position, seq, flags, key, value, valueLength);
    this.count++;
    return this.start + position;
  }

  ensureRoom(size: number): void {
    if (this.used + size <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.used + size));
    this.buffer.copy(bigger, 0, 0, this.used);
    this.buffer = bigger;
  }
}

export interface WriterHost {
  readonly dir: string;
  readonly fileSystem: FileSystem;
  readonly options: ResolvedOptions;
  /** Registers a data file that the writer is about to create. */
  addFile(id: number): DataFile;
  /** Forgets a data file registered but never created. */
  dropFile(file: DataFile): void;
  /** Called once a data file has taken its last record and been synced. */
  sealed(file: DataFile): void;
  /** Takes a group's records back out of the index after its write failed. */
  undo(group: Group): void;
  /** Called once, when the writer starts refusing writes: a file it was sealing may now never be sealed. */
  failed(): void;
}

/**
 * The append path: queues groups, writes them in order, rotates data files at
 * the size threshold and applies the sync policy. After any write or sync
 * failure it refuses all further writes: what reached the disk is unknown, and
 * retrying an fsync can report success for data the kernel already dropped.
 */
export class Writer {
  private readonly queue: Group[] = [];
  private open: Group | null = null;
  private scheduled = false;
  private running = false;
  private lastWritten: DataFile | null = null;
  private timer: NodeJS.Timeout | null = null;
  private intervalSync: Promise<void> | null = null;
  private readonly sealing = new WeakMap<DataFile, Promise<void>>();
  /** Buffers of groups whose write has completed, free for new groups; never one still being written. */
  private readonly spares: Buffer[] = [];
  failure: KvcaskError | null = null;
  /** Set when the writer failed while acknowledged writes (sync 'interval' or 'none') were not yet synced. */
  private lostUnsynced: KvcaskError | null = null;

  constructor(
    private readonly host: WriterHost,
    public active: DataFile,
    private nextFileId: number,
  ) {
    this.lastWritten = active.fd >= 0 ? active : null;
    if (host.options.sync === 'interval') {
      this.timer = setInterval(() => this.syncActive(), host.options.syncInterval);
      this.timer.unref();
    }
  }

  /**
   * Returns the group that will hold the next `size` bytes of records, all in
   * one frame of one file. Rotates to a new file first when they would push
   * the active one past maxFileSize; a frame never spans two files.
   */
  reserve(size: number): Group {
    if (this.failure) throw this.failure;
    let file = this.active;
    if (file.end > FILE_HEADER_SIZE && file.end + FRAME_HEADER_SIZE + size > this.host.options.maxFileSize) {
      file = this.active = this.host.addFile(this.nextFileId);
      this.nextFileId += FILE_ID_STEP;
    }
    let group = this.open;
    if (group === null || group.file !== file || (group.used + size > GROUP_LIMIT && group.count > 0)) {
      group = new Group(file, file.end, this.groupBuffer(FRAME_HEADER_SIZE + size));
      file.end += FRAME_HEADER_SIZE;
      this.queue.push(group);
      this.open = group;
    }
    group.ensureRoom(size);
    file.end += size;
    return group;
  }

  private groupBuffer(size: number): Buffer {
    // A spare too small for this group stays for a later one rather than becoming garbage.
    if (this.spares.length > 0 && this.spares[this.spares.length - 1].length >= size) return this.spares.pop()!;
    return Buffer.allocUnsafe(Math.max(FIRST_GROUP_CAPACITY, size));
  }

  /** Schedules the group's write; the promise settles when the sync policy says it is done. */
  commit(group: Group): Promise<void> {
    if (!this.scheduled && !this.running) {
      this.scheduled = true;
      // Wait one turn of the event loop so that every write issued in this turn joins the group.
      setImmediate(() => void this.run());
    }
    return group.promise;
  }

  /** Copies bytes of a record not yet handed to the OS out of its pending group. */
  readPending(file: DataFile, offset: number, length: number): Buffer | null {
    for (const group of this.queue) {
      if (group.file === file && offset >= group.start && offset + length <= group.start + group.used) {
        const from = offset - group.start;
        return Buffer.from(group.buffer.subarray(from, from + length));
      }
    }
    return null;
  }

  /** Groups not yet written: their undo entries may still point at any file. */
  get pending(): readonly Group[] {
    return this.queue;
  }

  /**
   * Starts a new active file and seals the current one once its queued
   * writes are done. Returns the sealed file, or null when it never took a record.
   */
  async rotate(): Promise<DataFile | null> {
    if (this.failure) throw this.failure;
    const previous = this.active;
    this.active = this.host.addFile(this.nextFileId);
    this.nextFileId += FILE_ID_STEP;
    const last = this.queue.filter((group) => group.file === previous).pop();
    if (last) await last.promise.catch(() => {});
    if (this.failure) throw this.failure;
    if (previous.fd < 0) {
      this.host.dropFile(previous);
      return null;
    }
    try {
      await this.seal(previous);
    } catch (err) {
      // Its unsynced writes may be lost: refuse writes, as after any failed sync, so close() reports it too.
      this.fail(err);
      throw err;
    }
    return previous;
  }

  /** fdatasyncs every file with writes not yet synced (a no-op under sync: 'always', where each write is durable). */
  async syncWritten(): Promise<void> {
    const file = this.lastWritten;
    if (file === null || this.failure) return;
    try {
      await this.syncFile(file);
    } catch (err) {
      this.fail(err);
      throw err;
    }
  }

  /** Resolves once every group queued so far has settled (whether written or failed). */
  async drain(): Promise<void> {
    while (this.queue.length > 0) await this.queue[this.queue.length - 1].promise.catch(() => {});
    if (this.intervalSync) await this.intervalSync;
  }

  /** Writes what is queued and makes the active file durable, whatever the sync mode; rejects if it could not. */
  async close(): Promise<void> {
    await this.drain();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // Acknowledged writes that never got synced may be gone, and no promise of theirs can say so any more: close() must.
    if (this.lostUnsynced !== null) throw this.lostUnsynced;
    if (this.failure === null && this.active.fd >= 0) {
      try {
        await this.syncFile(this.active);
      } catch (err) {
        this.fail(err);
        throw err;
      }
    }
  }

  /** fdatasyncs a file that has unsynced writes. Clears the mark first: a write landing meanwhile sets it again. */
  private async syncFile(file: DataFile): Promise<void> {
    if (!file.unsynced) return;
    file.unsynced = false;
    try {
      await this.host.fileSystem.datasync(file.fd);
    } catch (err) {
      // Whatever the kernel kept, it is not known to be on disk.
      file.unsynced = true;
      throw ioError('fdatasync', file.path, err);
    }
  }

  private async run(): Promise<void> {
    this.scheduled = false;
    this.running = true;
    try {
      while (this.queue.length > 0 && this.failure === null) {
        const group = this.queue[0];
        if (group === this.open) this.open = null;
        await this.flush(group);
        this.queue.shift();
        // Written and out of the queue: nothing reads this buffer any more (readPending and undo only see queued groups).
        if (group.buffer.length <= SPARE_LIMIT && this.spares.length < SPARES) this.spares.push(group.buffer);
        group.resolve();
        // Let the writers just released queue their next records before the next group is cut.
        if (this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.running = false;
    }
  }

  /**
   * Writes one group as one frame. Under sync: 'always' the active file is
   * open with O_DSYNC, so the write returns only once the frame is durable:
   * one syscall and one thread-pool hop per group instead of two.
   */
  private async flush(group: Group): Promise<void> {
    const file = group.file;
    if (file.fd < 0) await this.create(file);
    writeFrameHeader(group.buffer, 0, group.used - FRAME_HEADER_SIZE, group.count);
    try {
      await this.host.fileSystem.write(file.fd, group.buffer, 0, group.used, group.start);
    } catch (err) {
      throw ioError(this.dsync ? 'write (O_DSYNC)' : 'write', file.path, err);
    }
    file.written = group.start + group.used;
    if (!this.dsync) file.unsynced = true;
  }

  private get dsync(): boolean {
    return this.host.options.sync === 'always';
  }

  /** Creates a data file and makes its name durable before any record in it is acknowledged. */
  private async create(file: DataFile): Promise<void> {
    const fsys = this.host.fileSystem;
    // The previous file is made durable first, so that only the newest file can ever have a torn tail.
    const previous = this.lastWritten;
    if (previous !== null && previous !== file) await this.seal(previous);
    try {
      file.fd = await fsys.open(file.path, 'wx+', this.dsync);
      const header = encodeFileHeader(file.id);
      await fsys.write(file.fd, header, 0, header.length, 0);
      if (!this.dsync) await fsys.datasync(file.fd);
      await fsys.syncDir(this.host.dir);
      file.written = FILE_HEADER_SIZE;
    } catch (err) {
      throw ioError('create', file.path, err);
    }
    this.lastWritten = file;
  }

  /** Makes a file durable and hands it over as sealed; rotate() and create() may both ask, it happens once. */
  private seal(file: DataFile): Promise<void> {
    let sealing = this.sealing.get(file);
    if (sealing === undefined) {
      sealing = (async () => {
        await this.syncFile(file);
        file.sealed = true;
        this.host.sealed(file);
      })();
      this.sealing.set(file, sealing);
    }
    return sealing;
  }

  private syncActive(): void {
    const file = this.active;
    if (this.intervalSync || this.failure || file.fd < 0 || !file.unsynced) return;
    this.intervalSync = this.syncFile(file).then(
      () => {
        this.intervalSync = null;
      },
      (err) => {
        this.intervalSync = null;
        this.fail(err);
      },
    );
  }

  private fail(err: unknown): void {
    const cause = err instanceof KvcaskError ? err : ioError('write', this.active.path, err);
    const first = this.failure === null;
    if (first) {
      this.failure = new KvcaskError(
        codes.FAILED,
        `the store refuses writes after a failed write or sync (${cause.message}); close and reopen it`,
        { cause },
      );
    }
    if (this.lastWritten?.unsynced) this.lostUnsynced ??= cause;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const failed = this.queue.splice(0);
    this.open = null;
    for (let i = failed.length - 1; i >= 0; i--) this.host.undo(failed[i]);
    for (const group of failed) group.reject(cause);
    if (first) this.host.failed();
  }
}
