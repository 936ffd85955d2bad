/**
 * A cached block, whether it was read since the clock hand last passed it,
 * and whether it left the cache: a reader may keep the slot set() returned
 * and read it again through touch() while it is not gone, without a Map lookup.
 */
export interface CacheSlot {
  block: Buffer;
  used: boolean;
  gone: boolean;
}

/**
 * Decompressed blocks of sealed segments and pages of index files, kept
 * within a byte budget, evicted by the clock (second chance) policy: a hit
 * only marks its slot used, because moving it to the back of an LRU list (a
 * Map delete and set) cost more than the rest of an index lookup. The Map's
 * insertion order is the clock: eviction looks at the front, and a used slot
 * goes to the back unmarked instead of out.
 */
export class BlockCache {
  private readonly blocks = new Map<number, CacheSlot>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly budget: number) {}

  /** Cache keys: the file's id and the block's index, as one exact double. */
  static keyOf(fileId: number, block: number): number {
    return fileId * 0x200000 + block;
  }

  /**
   * Cache keys of index file pages: the negatives of keyOf (minus one), so
   * that they never meet a segment block's key of the same file id. keyOf
   * already spends every bit of an exact double on positive keys (ids up to
   * 2^32 times 2^21 blocks), so no offset added to the id could make room.
   */
  static indexKeyOf(fileId: number, page: number): number {
    return -1 - BlockCache.keyOf(fileId, page);
  }

  get(key: number): Buffer | undefined {
    const slot = this.blocks.get(key);
    if (slot === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    slot.used = true;
    return slot.block;
  }

  /** Whether `key` is cached; unlike get(), counts neither a hit nor a miss and gives no second chance. */
  has(key: number): boolean {
    return this.blocks.has(key);
  }

  /** A hit on a slot a reader kept from set(), which must not be gone: what get() does for its block. */
  touch(slot: CacheSlot): Buffer {
    this.hits++;
    slot.used = true;
    return slot.block;
  }

  /**
   * Keeps `block` if it fits the budget at all, evicting blocks not read since
   * the clock last passed them to make room; returns its slot, or null if not kept.
   */
  set(key: number, block: Buffer): CacheSlot | null {
    if (block.length > this.budget) return null;
    const old = this.blocks.get(key);
    if (old !== undefined) {
      this.bytes -= old.block.length;
      this.blocks.delete(key);
      old.gone = true;
    }
    while (this.bytes + block.length > this.budget) {
      const [oldestKey, oldest] = this.blocks.entries().next().value as [number, CacheSlot];
      this.blocks.delete(oldestKey);
      if (oldest.used) {
        oldest.used = false;
        this.blocks.set(oldestKey, oldest);
      } else {
        this.bytes -= oldest.block.length;
        oldest.gone = true;
      }
    }
    const slot: CacheSlot = { block, used: false, gone: false };
    this.blocks.set(key, slot);
    this.bytes += block.length;
    return slot;
  }

  /** Drops every block and index page of a file that is gone. */
  forgetFile(fileId: number): void {
    this.forgetKeys(BlockCache.keyOf(fileId, 0), BlockCache.keyOf(fileId + 1, 0));
    this.forgetIndex(fileId);
  }

  /** Drops the index pages of a file, whose index file is closed or rewritten. */
  forgetIndex(fileId: number): void {
    // Its pages' keys lie in [-keyOf(fileId + 1, 0), -keyOf(fileId, 0)), bounds that stay exact doubles for every u32 id.
    this.forgetKeys(-BlockCache.keyOf(fileId + 1, 0), -BlockCache.keyOf(fileId, 0));
  }

  private forgetKeys(first: number, end: number): void {
    for (const [key, slot] of this.blocks) {
      if (key >= first && key < end) {
        this.blocks.delete(key);
        this.bytes -= slot.block.length;
        slot.gone = true;
      }
    }
  }

  get size(): number {
    return this.bytes;
  }
}
