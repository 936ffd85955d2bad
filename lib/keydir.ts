import { sortByKey } from './key-sort.js';
import { type Bounds, SortedList, SortedStringSet } from './sorted-list.js';

/** Where a value lives: data file, offset of its record, length of its value. */
export interface Location {
  fileId: number;
  offset: number;
  valueLength: number;
}

const MAX_LOAD = 0.7;
/**
 * Past this load the table starts doubling in steps: each insert copies the
 * keys of the next GROWTH_STEP entries of the table into the next table, so
 * the copy ends after 1/64 of the entries' worth of inserts, at about 0.67,
 * before MAX_LOAD, where it must. Starting late keeps the table's size (and
 * its load after doubling, about a third) what doubling at MAX_LOAD gave, and
 * the time two tables are held short: starting at half full, a load of
 * 10,000,000 keys ended with the doubled table half built (docs/performance.md,
 * "Event-loop stalls"). Done at once, the doubling held the event loop for
 * 260 ms at 3,000,000 keys.
 */
const GROWTH_LOAD = 0.65;
const GROWTH_STEP = 64;
/** Slot fields: where the key sits in the arena, and which table entry holds the slot (entries move). */
const STRIDE = 2;
const KEY_AT = 0;
const ENTRY_AT = 1;

/** Table entry fields: slot + 1 (0: empty), hash, and the key's location, so that a read touches one cache line. */
const ENTRY = 5;
const E_SLOT = 0;
const E_HASH = 1;
const E_FILE = 2;
const E_OFFSET = 3;
const E_VALUE_LENGTH = 4;

/** FNV-1a over the key's bytes, finished with a multiply-xorshift so that linear probing sees well-spread bits. */
export function hashOf(key: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i], 0x01000193);
  return tableHash(h);
}

/** hashOf() from the key's unfinished FNV-1a (KeyHashes.fnv), for a caller that hashed the key already. */
export function tableHash(fnv: number): number {
  const h = Math.imul(fnv ^ (fnv >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

/**
 * The in-memory index. Keys live once, in a byte arena (a u16 length, then the
 * bytes); an open-addressing hash table answers point lookups with no per-key
 * JS object, string or allocation; a sorted list of slots, compared by their
 * bytes, answers ranges. A key's location (file, offset, value length) sits
 * in its table entry, so that a point read touches one cache line of the
 * index; a slot knows its entry, so that ranges reach the location too.
 *
 * While snapshots are open, the first change to a key records what it was
 * before, so that each snapshot keeps reading the store as of its creation.
 */
export class Keydir {
  private slots = new Uint32Array(STRIDE * 1024);
  private table: Uint32Array = new Uint32Array(ENTRY * 1024);
  private mask = 1023;
  private count = 0;
  private arena = Buffer.allocUnsafe(64 * 1024);
  private arenaUsed = 0;
  private arenaGarbage = 0;
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  /** Arena positions of the bounds `order` compares against during collect(): slot -1 - i is probeAt[i]. */
  private readonly probeAt: number[] = [];
  private readonly order = new SortedList<number>((a, b) => this.compareSlots(a, b));
  /** Whether `order` is out of date until buildOrder() (see deferOrder). */
  private orderDeferred = false;
  /**
   * Slots added since `order` was last read, sorted in only when a range
   * needs it (foldPending): a load of new keys with no range among them then
   * pays one sort instead of a sorted insert per key. A slot may appear twice
   * (removed, then reused); `pendingBits` says which slots are still owed.
   */
  private pending: number[] = [];
  private pendingBits = new Uint8Array(1024);
  private readonly snapshots = new Set<Snapshot>();
  /**
   * The table being doubled alongside `table`, which answers meanwhile
   * (growStep), or null. Exactly the keys whose entries in `table` lie below
   * `scanned` have a copy in `next`, and every copy is kept current: writes
   * change, remove or add copies as they change `table`.
   */
  private next: Uint32Array | null = null;
  private nextMask = 0;
  /** Per slot, its entry in `next` plus 1 (0: no copy). */
  private nextEntryOf = new Uint32Array(0);
  private scanned = 0;
  /** Whether the table doubles in steps (the default) or at once, which costs less in all when nothing else waits (open()). */
  growInSteps = true;

  get size(): number {
    return this.count;
  }

  /** The slot of a live key, or -1. */
  find(key: Uint8Array): number {
    return this.findHashed(key, hashOf(key));
  }

  /** find() for a key whose hashOf() is `hash`. */
  findHashed(key: Uint8Array, hash: number): number {
    for (let entry = this.candidate(hash, -1); entry >= 0; entry = this.candidate(hash, entry)) {
      const slot = this.table[entry * ENTRY + E_SLOT] - 1;
      if (this.keyEquals(slot, key)) return slot;
    }
    return -1;
  }

  /**
   * The next table entry after `from` (-1: start) whose hash is `hash`, or -1.
   * The hot path of reads: it touches no key bytes, so the caller must check
   * the key it finds in the record and go on to the next candidate if it differs.
   */
  candidate(hash: number, from: number): number {
    const table = this.table;
    const mask = this.mask;
    for (let i = from < 0 ? hash & mask : (from + 1) & mask; ; i = (i + 1) & mask) {
      const at = i * ENTRY;
      if (table[at + E_SLOT] === 0) return -1;
      if (table[at + E_HASH] === hash) return i;
    }
  }

  entryFile(entry: number): number {
    return this.table[entry * ENTRY + E_FILE];
  }

  entryOffset(entry: number): number {
    return this.table[entry * ENTRY + E_OFFSET];
  }

  entryValueLength(entry: number): number {
    return this.table[entry * ENTRY + E_VALUE_LENGTH];
  }

  fileOf(slot: number): number {
    return this.entryFile(this.slots[slot * STRIDE + ENTRY_AT]);
  }

  offsetOf(slot: number): number {
    return this.entryOffset(this.slots[slot * STRIDE + ENTRY_AT]);
  }

  valueLengthOf(slot: number): number {
    return this.entryValueLength(this.slots[slot * STRIDE + ENTRY_AT]);
  }

  keyLengthOf(slot: number): number {
    const at = this.slots[slot * STRIDE + KEY_AT];
    return this.arena[at] | (this.arena[at + 1] << 8);
  }

  /** Sorts `slots` (live ones) in key order in place, with the radix sort that builds the order at open. */
  sortSlots(slots: Uint32Array): void {
    const table = this.slots;
    sortByKey(this.arena, slots, (slot) => table[slot * STRIDE + KEY_AT]);
  }

  /** A copy of the slot's key. */
  keyOf(slot: number): Buffer {
    const at = this.slots[slot * STRIDE + KEY_AT] + 2;
    return Buffer.from(this.arena.subarray(at, at + this.keyLengthOf(slot)));
  }

  locationOf(key: Uint8Array): Location | null {
    const slot = this.find(key);
    return slot < 0 ? null : { fileId: this.fileOf(slot), offset: this.offsetOf(slot), valueLength: this.valueLengthOf(slot) };
  }

  /** Points `key` at a location, adding it if absent; returns its slot. */
  put(key: Uint8Array, fileId: number, offset: number, valueLength: number): number {
    const slot = this.find(key);
    if (slot >= 0) {
      this.update(slot, key, fileId, offset, valueLength);
      return slot;
    }
    return this.add(key, fileId, offset, valueLength);
  }

  /** Adds `key`, which the caller has just found absent (find() gave -1), so that a write of a new key looks it up once; returns its slot. */
  add(key: Uint8Array, fileId: number, offset: number, valueLength: number): number {
    if (this.snapshots.size !== 0) this.remember(key);
    return this.insert(key, fileId, offset, valueLength);
  }

  /** Points the live key `key`, found at `slot`, at a new location. */
  update(slot: number, key: Uint8Array, fileId: number, offset: number, valueLength: number): void {
    if (this.snapshots.size !== 0) this.remember(key);
    const at = this.slots[slot * STRIDE + ENTRY_AT] * ENTRY;
    this.table[at + E_FILE] = fileId;
    this.table[at + E_OFFSET] = offset;
    this.table[at + E_VALUE_LENGTH] = valueLength;
    if (this.next !== null) this.copyLocation(slot);
  }

  remove(key: Uint8Array): void {
    const slot = this.find(key);
    if (slot >= 0) this.removeAt(slot, key);
  }

  /** Removes the live key `key`, found at `slot`. */
  removeAt(slot: number, key: Uint8Array): void {
    if (this.snapshots.size !== 0) this.remember(key);
    if (this.orderDeferred) {
      // Nothing to do: buildOrder() sorts the live keys.
    } else if (this.isPending(slot)) this.pendingBits[slot >>> 3] &= ~(1 << (slot & 7));
    else this.order.delete(slot);
    this.unlinkEntry(this.slots[slot * STRIDE + ENTRY_AT]);
    if (this.next !== null) this.dropCopy(slot);
    this.arenaGarbage += 2 + key.length;
    this.freeSlots.push(slot);
    this.count--;
    if (this.arenaGarbage > 1 << 20 && this.arenaGarbage > this.arenaUsed >> 1) this.compactArena();
  }

  /** The slots of every key whose entry points into file `fileId`. */
  slotsIn(fileId: number): Uint32Array {
    const table = this.table;
    const found: number[] = [];
    for (let at = 0; at < table.length; at += ENTRY) {
      if (table[at + E_SLOT] !== 0 && table[at + E_FILE] === fileId) found.push(table[at + E_SLOT] - 1);
    }
    return Uint32Array.from(found);
  }

  /** Removes the key at `slot` if the slot is still in use and its entry still points into file `fileId`. */
  removeIfIn(slot: number, fileId: number): void {
    const entry = this.slots[slot * STRIDE + ENTRY_AT];
    if (this.table[entry * ENTRY + E_SLOT] !== slot + 1 || this.table[entry * ENTRY + E_FILE] !== fileId) return;
    this.removeAt(slot, this.keyOf(slot));
  }

  /**
   * Stops keeping the key order up to date until buildOrder(). Inserting
   * millions of keys one by one into the sorted list costs cache misses per
   * comparison, and grew faster than the key count: open() loads every key
   * this way, then sorts them all at once.
   */
  deferOrder(): void {
    this.orderDeferred = true;
    this.pending = [];
    this.pendingBits.fill(0);
  }

  /** Sorts every live key into `order` (after deferOrder()); linear in the number of keys for random keys. */
  buildOrder(): void {
    if (!this.orderDeferred) return;
    this.orderDeferred = false;
    const free = this.freeSlotFlags();
    const live = new Uint32Array(this.count);
    // In slot order, which after an open is arena order: reading the keys to sort them walks the arena forwards.
    for (let slot = 0, n = 0; slot < this.nextSlot; slot++) if (free[slot] === 0) live[n++] = slot;
    this.sortSlots(live);
    this.order.assign(live);
  }

  /**
   * Sorts the pending slots into `order`: one by one when they are few, else
   * by sorting every live key again, which is linear and, past about a tenth
   * of the keys, cheaper than as many sorted inserts (about 0.2 µs per key
   * against 2 to 3.5 µs per insert at 1,000,000 keys).
   */
  private foldPending(): void {
    if (this.pending.length === 0) return;
    const owed: number[] = [];
    for (const slot of this.pending) {
      if (!this.isPending(slot)) continue;
      this.pendingBits[slot >>> 3] &= ~(1 << (slot & 7));
      owed.push(slot);
    }
    this.pending = [];
    if (owed.length * 10 > this.order.size) {
      this.deferOrder();
      this.buildOrder();
      return;
    }
    const sorted = Uint32Array.from(owed);
    this.sortSlots(sorted);
    for (const slot of sorted) this.order.add(slot);
  }

  private isPending(slot: number): boolean {
    return (this.pendingBits[slot >>> 3] & (1 << (slot & 7))) !== 0;
  }

  private addPending(slot: number): void {
    if (slot >>> 3 >= this.pendingBits.length) {
      const bigger = new Uint8Array(Math.max(this.pendingBits.length * 2, (slot >>> 3) + 1));
      bigger.set(this.pendingBits);
      this.pendingBits = bigger;
    }
    this.pendingBits[slot >>> 3] |= 1 << (slot & 7);
    this.pending.push(slot);
    // A removed key leaves its slot in `pending`: without ranges the list would grow with every write (with index:
    // 'disk', by every key that ever passed through memory). Once foldPending() would sort everything again anyway,
    // stop keeping the order; the next range builds it.
    if (this.pending.length >= PENDING_FLOOR && this.pending.length * 10 > this.order.size) this.deferOrder();
  }

  /** Collects up to `max` slots in key order within bounds, after `after`. */
  collect(out: number[], max: number, bounds: Bounds<Uint8Array>, reverse: boolean, after?: Uint8Array): number {
    this.buildOrder();
    this.foldPending();
    // Bounds are copied past the arena's end, so that they compare like keys: slot -1 - i is probe i.
    this.probeAt.length = 0;
    let end = this.arenaUsed;
    const probe = (key: Uint8Array | undefined) => {
      if (key === undefined) return undefined;
      this.reserveArena(end + 2 + key.length);
      this.writeKey(end, key);
      this.probeAt.push(end);
      end += 2 + key.length;
      return -this.probeAt.length;
    };
    const slotBounds: Bounds<number> = { gt: probe(bounds.gt), gte: probe(bounds.gte), lt: probe(bounds.lt), lte: probe(bounds.lte) };
    return this.order.collect(out, max, slotBounds, reverse, probe(after));
  }

  /** Opens a view of the index as it is now; release it when done, or writes keep paying for it. */
  snapshot(): Snapshot {
    const snapshot = new Snapshot(this);
    this.snapshots.add(snapshot);
    return snapshot;
  }

  /** Called after a snapshot is released (files a merge replaced may then be closed). */
  onForget: (() => void) | null = null;

  /** @internal */
  forget(snapshot: Snapshot): void {
    this.snapshots.delete(snapshot);
    this.onForget?.();
  }

  /** The snapshots open now. */
  openSnapshots(): Snapshot[] {
    return [...this.snapshots];
  }

  /**
   * Points the key whose record is at (`fileId`, `offset`) at (`toFile`,
   * `toOffset`), if its entry still says so; `hash` is the key's. Returns
   * whether it did. A merge moves records this way without knowing their keys.
   */
  relocate(hash: number, fileId: number, offset: number, toFile: number, toOffset: number): boolean {
    const table = this.table;
    for (let entry = this.candidate(hash, -1); entry >= 0; entry = this.candidate(hash, entry)) {
      const at = entry * ENTRY;
      if (table[at + E_FILE] !== fileId || table[at + E_OFFSET] !== offset) continue;
      const slot = table[at + E_SLOT] - 1;
      if (this.snapshots.size !== 0) this.remember(this.keyOf(slot));
      table[at + E_FILE] = toFile;
      table[at + E_OFFSET] = toOffset;
      if (this.next !== null) this.copyLocation(slot);
      return true;
    }
    return false;
  }

  /** Whether the key with hash `hash` has its newest record at (`fileId`, `offset`). */
  pointsAt(hash: number, fileId: number, offset: number): boolean {
    const table = this.table;
    for (let entry = this.candidate(hash, -1); entry >= 0; entry = this.candidate(hash, entry)) {
      if (table[entry * ENTRY + E_FILE] === fileId && table[entry * ENTRY + E_OFFSET] === offset) return true;
    }
    return false;
  }

  /** Bytes held by the index: its typed arrays and arena exactly, plus the sorted list's references. */
  memoryBytes(): number {
    const growing = this.next === null ? 0 : this.next.byteLength + this.nextEntryOf.byteLength;
    return this.slots.byteLength + this.table.byteLength + growing + this.arena.length + this.count * ORDER_BYTES_PER_KEY;
  }

  private remember(key: Uint8Array): void {
    const before = this.locationOf(key);
    const text = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
    for (const snapshot of this.snapshots) snapshot.record(text, before);
  }

  private keyEquals(slot: number, key: Uint8Array): boolean {
    const arena = this.arena;
    const at = this.slots[slot * STRIDE + KEY_AT];
    if ((arena[at] | (arena[at + 1] << 8)) !== key.length) return false;
    for (let i = 0, j = at + 2; i < key.length; i++, j++) if (arena[j] !== key[i]) return false;
    return true;
  }

  private compareSlots(a: number, b: number): number {
    const arena = this.arena;
    let left = a >= 0 ? this.slots[a * STRIDE + KEY_AT] : this.probeAt[-1 - a];
    let right = b >= 0 ? this.slots[b * STRIDE + KEY_AT] : this.probeAt[-1 - b];
    const leftLength = arena[left] | (arena[left + 1] << 8);
    const rightLength = arena[right] | (arena[right + 1] << 8);
    const leftEnd = left + 2 + Math.min(leftLength, rightLength);
    for (left += 2, right += 2; left < leftEnd; left++, right++) {
      const difference = arena[left] - arena[right];
      if (difference !== 0) return difference;
    }
    return leftLength - rightLength;
  }

  private insert(key: Uint8Array, fileId: number, offset: number, valueLength: number): number {
    const capacity = this.mask + 1;
    if (this.count + 1 > capacity * MAX_LOAD) this.finishGrowth();
    else if (this.next !== null) this.growStep();
    else if (this.growInSteps && this.count + 1 > capacity * GROWTH_LOAD) this.startGrowth();
    const slot = this.allocateSlot();
    this.slots[slot * STRIDE + KEY_AT] = this.storeKey(key);
    const hash = hashOf(key);
    let i = hash & this.mask;
    while (this.table[i * ENTRY + E_SLOT] !== 0) i = (i + 1) & this.mask;
    const at = i * ENTRY;
    this.table[at + E_SLOT] = slot + 1;
    this.table[at + E_HASH] = hash;
    this.table[at + E_FILE] = fileId;
    this.table[at + E_OFFSET] = offset;
    this.table[at + E_VALUE_LENGTH] = valueLength;
    this.slots[slot * STRIDE + ENTRY_AT] = i;
    // Below the scan, the new key would never be copied.
    if (this.next !== null && i < this.scanned) this.copyToNext(slot, i);
    this.count++;
    if (!this.orderDeferred) this.addPending(slot);
    return slot;
  }

  /** Backward-shift deletion: keeps every probe chain unbroken without tombstones. */
  private unlinkEntry(hole: number): void {
    const table = this.table;
    const mask = this.mask;
    let i = hole;
    for (let j = (i + 1) & mask; table[j * ENTRY + E_SLOT] !== 0; j = (j + 1) & mask) {
      const home = table[j * ENTRY + E_HASH] & mask;
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      table.copyWithin(i * ENTRY, j * ENTRY, j * ENTRY + ENTRY);
      const moved = table[i * ENTRY + E_SLOT] - 1;
      this.slots[moved * STRIDE + ENTRY_AT] = i;
      if (this.next !== null) {
        // Moved from above the scan to below it, the scan would miss it; moved the other way (round the table's end),
        // the scan will copy it again.
        if (i < this.scanned && j >= this.scanned) this.copyToNext(moved, i);
        else if (i >= this.scanned && j < this.scanned) this.dropCopy(moved);
      }
      i = j;
    }
    table.fill(0, i * ENTRY, i * ENTRY + ENTRY);
  }

  private startGrowth(): void {
    this.next = new Uint32Array(this.table.length * 2);
    this.nextMask = this.next.length / ENTRY - 1;
    this.nextEntryOf = new Uint32Array(this.slots.length / STRIDE);
    this.scanned = 0;
  }

  /** Copies the keys of the next GROWTH_STEP entries of the table; switches tables once all are copied. */
  private growStep(): void {
    const end = Math.min(this.table.length / ENTRY, this.scanned + GROWTH_STEP);
    this.copyEntries(this.scanned, end);
    this.scanned = end;
    if (end === this.table.length / ENTRY) this.finishGrowth();
  }

  /** Completes the doubling (starting it if need be) and makes the next table the table. */
  private finishGrowth(): void {
    if (this.next === null) this.startGrowth();
    this.copyEntries(this.scanned, this.table.length / ENTRY);
    const entryOf = this.nextEntryOf;
    const copies = Math.min(this.nextSlot, entryOf.length);
    for (let slot = 0; slot < copies; slot++) if (entryOf[slot] !== 0) this.slots[slot * STRIDE + ENTRY_AT] = entryOf[slot] - 1;
    this.table = this.next!;
    this.mask = this.nextMask;
    this.next = null;
    this.nextEntryOf = new Uint32Array(0);
    this.scanned = 0;
  }

  /** Copies the keys of table entries [from, to), which have no copy yet. */
  private copyEntries(from: number, to: number): void {
    const table = this.table;
    for (let entry = from; entry < to; entry++) {
      const slot = table[entry * ENTRY + E_SLOT] - 1;
      if (slot >= 0) this.copyToNext(slot, entry);
    }
  }

  /** Copies the key at `slot`, whose entry in the table is `entry`. */
  private copyToNext(slot: number, entry: number): void {
    const next = this.next!;
    const from = entry * ENTRY;
    let i = this.table[from + E_HASH] & this.nextMask;
    while (next[i * ENTRY + E_SLOT] !== 0) i = (i + 1) & this.nextMask;
    // Field by field: a subarray per entry cost more than the copy (an open grows the table through millions of keys).
    for (let field = 0; field < ENTRY; field++) next[i * ENTRY + field] = this.table[from + field];
    if (slot >= this.nextEntryOf.length) {
      const bigger = new Uint32Array(this.slots.length / STRIDE);
      bigger.set(this.nextEntryOf);
      this.nextEntryOf = bigger;
    }
    this.nextEntryOf[slot] = i + 1;
  }

  /** The key at `slot` has a new location: so does its copy, if it has one. */
  private copyLocation(slot: number): void {
    const copy = slot < this.nextEntryOf.length ? this.nextEntryOf[slot] - 1 : -1;
    if (copy < 0) return;
    const from = this.slots[slot * STRIDE + ENTRY_AT] * ENTRY;
    for (let field = E_FILE; field < ENTRY; field++) this.next![copy * ENTRY + field] = this.table[from + field];
  }

  /** The key at `slot` is gone: so is its copy, if it has one (the slot may soon hold another key). */
  private dropCopy(slot: number): void {
    const copy = slot < this.nextEntryOf.length ? this.nextEntryOf[slot] - 1 : -1;
    if (copy < 0) return;
    this.nextEntryOf[slot] = 0;
    this.unlinkNext(copy);
  }

  /** unlinkEntry() for the next table. */
  private unlinkNext(hole: number): void {
    const next = this.next!;
    const mask = this.nextMask;
    let i = hole;
    for (let j = (i + 1) & mask; next[j * ENTRY + E_SLOT] !== 0; j = (j + 1) & mask) {
      const home = next[j * ENTRY + E_HASH] & mask;
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      next.copyWithin(i * ENTRY, j * ENTRY, j * ENTRY + ENTRY);
      this.nextEntryOf[next[i * ENTRY + E_SLOT] - 1] = i + 1;
      i = j;
    }
    next.fill(0, i * ENTRY, i * ENTRY + ENTRY);
  }

  private storeKey(key: Uint8Array): number {
    const at = this.arenaUsed;
    this.reserveArena(at + 2 + key.length);
    this.writeKey(at, key);
    this.arenaUsed += 2 + key.length;
    return at;
  }

  private writeKey(at: number, key: Uint8Array): void {
    this.arena[at] = key.length & 0xff;
    this.arena[at + 1] = key.length >>> 8;
    this.arena.set(key, at + 2);
  }

  private reserveArena(end: number): void {
    if (end <= this.arena.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.arena.length * 2, end));
    // All of it: collect() keeps bounds past arenaUsed while it grows the arena.
    this.arena.copy(bigger);
    this.arena = bigger;
  }

  /** Drops the bytes of removed keys once they make up half the arena. */
  private compactArena(): void {
    const old = this.arena;
    const fresh = Buffer.allocUnsafe(Math.max(64 * 1024, this.arenaUsed - this.arenaGarbage));
    const free = this.freeSlotFlags();
    let used = 0;
    // In slot order, which is mostly arena order: the copy walks both arenas forwards. Walking the hash table instead
    // read them in random order, and with a million keys (index: 'disk' dropping a sealed file's keys) held the
    // event loop for 600 ms.
    for (let slot = 0; slot < this.nextSlot; slot++) {
      if (free[slot] === 1) continue;
      const at = this.slots[slot * STRIDE + KEY_AT];
      const size = 2 + (old[at] | (old[at + 1] << 8));
      // Short keys byte by byte: a call into C++ per key cost more than the copy.
      if (size <= SHORT_COPY) for (let i = 0; i < size; i++) fresh[used + i] = old[at + i];
      else old.copy(fresh, used, at, at + size);
      this.slots[slot * STRIDE + KEY_AT] = used;
      used += size;
    }
    this.arena = fresh;
    this.arenaUsed = used;
    this.arenaGarbage = 0;
  }

  /** 1 for each slot number below nextSlot that holds no key (it is on the free list). */
  private freeSlotFlags(): Uint8Array {
    const free = new Uint8Array(this.nextSlot);
    for (const slot of this.freeSlots) free[slot] = 1;
    return free;
  }

  private allocateSlot(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    if ((this.nextSlot + 1) * STRIDE > this.slots.length) {
      const bigger = new Uint32Array(this.slots.length * 2);
      bigger.set(this.slots);
      this.slots = bigger;
    }
    return this.nextSlot++;
  }
}

/** Pending slots kept, however small the order, before addPending() gives up on keeping the order. */
const PENDING_FLOOR = 4096;

/** Keys (with their 2-byte length) up to this many bytes are copied by a JS loop when the arena is compacted. */
const SHORT_COPY = 64;

/** A slot number in a sorted chunk (a small integer in a packed array), measured in bench/store. */
const ORDER_BYTES_PER_KEY = 8;

/**
 * A point-in-time view of a Keydir. It holds, for each key changed since it
 * was taken, the location it had then (null: absent then), keyed and ordered
 * by the key's binary string, so that a range can merge them with the live keys.
 */
export class Snapshot {
  readonly changed = new Map<string, Location | null>();
  readonly changedOrder = new SortedStringSet();
  private released = false;

  constructor(readonly keydir: Keydir) {}

  get isReleased(): boolean {
    return this.released;
  }

  /** @internal */
  record(key: string, before: Location | null): void {
    if (this.changed.has(key)) return;
    this.changed.set(key, before);
    this.changedOrder.add(key);
  }

  /** The key's location as of the snapshot, or null when it did not exist then. */
  locationOf(key: string): Location | null {
    const before = this.changed.get(key);
    return before === undefined ? this.keydir.locationOf(Buffer.from(key, 'latin1')) : before;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.keydir.forget(this);
    this.changed.clear();
    this.changedOrder.clear();
  }
}
