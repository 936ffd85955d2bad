import { SortedStringSet } from './sorted-set.js';

/** Where a value lives: data file, offset of its record, length of its value. */
export interface Location {
  fileId: number;
  offset: number;
  valueLength: number;
}

/**
 * The in-memory index: key -> slot through a hash map (point reads), keys in
 * byte order through a sorted set (ranges), and the slot's location packed in
 * typed arrays so that a live key costs no object of its own. Keys are binary
 * strings (one char per byte), so JS string order is byte order.
 *
 * While snapshots are open, the first change to a key records what it was
 * before, so that each snapshot keeps reading the store as of its creation.
 */
export class Keydir {
  private readonly slots = new Map<string, number>();
  readonly order = new SortedStringSet();
  fileIds = new Uint32Array(1024);
  offsets = new Uint32Array(1024);
  valueLengths = new Uint32Array(1024);
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private keyBytes = 0;
  private readonly snapshots = new Set<Snapshot>();

  get size(): number {
    return this.slots.size;
  }

  /** The slot of a live key, or undefined; the hot path of every read. */
  slotOf(key: string): number | undefined {
    return this.slots.get(key);
  }

  locationOf(key: string): Location | null {
    const slot = this.slots.get(key);
    return slot === undefined ? null : { fileId: this.fileIds[slot], offset: this.offsets[slot], valueLength: this.valueLengths[slot] };
  }

  put(key: string, fileId: number, offset: number, valueLength: number): void {
    if (this.snapshots.size !== 0) this.remember(key);
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.allocateSlot();
      this.slots.set(key, slot);
      this.order.add(key);
      this.keyBytes += key.length;
    }
    this.fileIds[slot] = fileId;
    this.offsets[slot] = offset;
    this.valueLengths[slot] = valueLength;
  }

  remove(key: string): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    if (this.snapshots.size !== 0) this.remember(key);
    this.slots.delete(key);
    this.order.delete(key);
    this.freeSlots.push(slot);
    this.keyBytes -= key.length;
  }

  /** Opens a view of the index as it is now; release it when done, or writes keep paying for it. */
  snapshot(): Snapshot {
    const snapshot = new Snapshot(this);
    this.snapshots.add(snapshot);
    return snapshot;
  }

  /** @internal */
  forget(snapshot: Snapshot): void {
    this.snapshots.delete(snapshot);
  }

  /**
   * An estimate of the index's memory: the typed arrays exactly, plus per key
   * the key's bytes and the measured overhead of the map and the sorted set
   * (see docs/performance.md for how it was measured).
   */
  memoryBytes(): number {
    return this.fileIds.byteLength * 3 + this.keyBytes + this.slots.size * PER_KEY_OVERHEAD;
  }

  private remember(key: string): void {
    const before = this.locationOf(key);
    for (const snapshot of this.snapshots) snapshot.record(key, before);
  }

  private allocateSlot(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    if (this.nextSlot === this.fileIds.length) {
      const grow = (array: Uint32Array) => {
        const bigger = new Uint32Array(array.length * 2);
        bigger.set(array);
        return bigger;
      };
      this.fileIds = grow(this.fileIds);
      this.offsets = grow(this.offsets);
      this.valueLengths = grow(this.valueLengths);
    }
    return this.nextSlot++;
  }
}

/** Map entry, string header and sorted-set reference per key, measured by bench/keydir-memory. */
const PER_KEY_OVERHEAD = 80;

/**
 * A point-in-time view of a Keydir. It holds, for each key changed since it
 * was taken, the location it had then (null: absent then), ordered so that a
 * range can merge them with the live keys.
 */
export class Snapshot {
  readonly changed = new Map<string, Location | null>();
  readonly changedOrder = new SortedStringSet();
  private released = false;

  constructor(readonly keydir: Keydir) {}

  /** @internal */
  record(key: string, before: Location | null): void {
    if (this.changed.has(key)) return;
    this.changed.set(key, before);
    this.changedOrder.add(key);
  }

  /** The key's location as of the snapshot, or null when it did not exist then. */
  locationOf(key: string): Location | null {
    const before = this.changed.get(key);
    return before === undefined ? this.keydir.locationOf(key) : before;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.keydir.forget(this);
    this.changed.clear();
    this.changedOrder.clear();
  }
}
