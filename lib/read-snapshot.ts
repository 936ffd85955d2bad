import { type Bytes, keyBytes } from './encoding.js';
import { codes, KvcaskError } from './errors.js';
import type { Location, Snapshot } from './keydir.js';
import { type Page, type RangeOptions, type ResolvedRange, resolveRange } from './range.js';
import type { Store } from './store.js';

const PAGE = 256;

/**
 * A consistent read view of a store: every read through it answers as of the
 * moment Store.openSnapshot() was called, whatever is written afterwards. It
 * holds a keydir snapshot, which costs writes a small entry per key changed
 * since, and keeps merges from deleting the files it reads; release it.
 */
export class ReadSnapshot {
  private released = false;

  /** @internal Use Store.openSnapshot(). */
  constructor(
    private readonly store: Store,
    private readonly view: Snapshot,
    /** The sequence number of the newest record the view contains. */
    readonly seq: number,
    /** How many keys the view contains. */
    readonly size: number,
  ) {}

  /** The value `key` had at the snapshot's moment, or undefined. */
  getSync(key: Bytes): Buffer | undefined {
    const bytes = keyBytes(key);
    const location = this.locationOf(bytes);
    return location === null ? undefined : this.store.valueAt(bytes, location);
  }

  get(key: Bytes): Promise<Buffer | undefined> {
    const bytes = keyBytes(key);
    try {
      const location = this.locationOf(bytes);
      return Promise.resolve(location === null ? undefined : this.store.valueAt(bytes, location));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Whether `key` existed at the snapshot's moment. */
  has(key: Bytes): boolean {
    return this.locationOf(keyBytes(key)) !== null;
  }

  /** Like Store.range(), as of the snapshot's moment. */
  range(options?: RangeOptions): AsyncIterableIterator<[Buffer, Buffer]> {
    return this.walk(resolveRange(options), true) as AsyncIterableIterator<[Buffer, Buffer]>;
  }

  /** Like Store.keys(), as of the snapshot's moment. */
  keys(options?: RangeOptions): AsyncIterableIterator<Buffer> {
    return this.walk(resolveRange(options), false) as AsyncIterableIterator<Buffer>;
  }

  /** Ends the view; reads through it (and ranges still open on it) then fail with KVCASK_CLOSED. Idempotent. */
  release(): void {
    this.released = true;
    this.view.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }

  /**
   * @internal Every entry of the view in key order, as a key and the location
   * of its value, a page of keys at a time: the caller reads each value when
   * it wants it, so that memory stays at one value whatever their sizes.
   */
  *locations(): Generator<[Buffer, Location]> {
    const all = resolveRange(undefined);
    const page: Page = { keys: [], locations: [] };
    let after: Buffer | undefined;
    for (;;) {
      this.checkLive();
      page.keys.length = 0;
      page.locations.length = 0;
      this.store.pageOf(this.view, all, after, PAGE, page);
      if (page.keys.length === 0) return;
      after = page.keys[page.keys.length - 1];
      const { keys, locations } = page;
      for (let i = 0; i < keys.length; i++) {
        if (locations[3 * i] === -1) continue;
        this.checkLive();
        yield [keys[i], { fileId: locations[3 * i], offset: locations[3 * i + 1], valueLength: locations[3 * i + 2] }];
      }
    }
  }

  private async *walk(range: ResolvedRange, withValues: boolean): AsyncGenerator<[Buffer, Buffer] | Buffer> {
    this.checkLive();
    const inner = this.store.iterate(range, withValues, this.view);
    try {
      for (;;) {
        // A released view would silently read the live store: check before every step.
        this.checkLive();
        const step = await inner.next();
        if (step.done) return;
        yield step.value;
      }
    } finally {
      await inner.return(undefined);
    }
  }

  private locationOf(key: Uint8Array): Location | null {
    this.checkLive();
    return this.store.locationIn(this.view, key);
  }

  private checkLive(): void {
    if (this.released) throw new KvcaskError(codes.CLOSED, 'the snapshot was released');
  }
}
