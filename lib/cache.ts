/** A cached block, and whether it was read since the clock hand last passed it. */
interface CacheSlot {
  block: Buffer;
  used: boolean;
}

/**
 * Decompressed blocks of sealed segments, kept within a byte budget, evicted by the clock (second chance) policy: a hit
 * only marks its slot used, because moving it to the back of an LRU list (a
 * Map delete and set) cost more than the rest of a read of a cached block. The Map's
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

  /**
   * Keeps `block` if it fits the budget at all, evicting blocks not read since
   * the clock last passed them to make room.
   */
  set(key: number, block: Buffer): void {
    if (block.length > this.budget) return;
    const old = this.blocks.get(key);
    if (old !== undefined) {
      this.bytes -= old.block.length;
      this.blocks.delete(key);
    }
    while (this.bytes + block.length > this.budget) {
      const [oldestKey, oldest] = this.blocks.entries().next().value as [number, CacheSlot];
      this.blocks.delete(oldestKey);
      if (oldest.used) {
        oldest.used = false;
        this.blocks.set(oldestKey, oldest);
      } else {
        this.bytes -= oldest.block.length;
      }
    }
    this.blocks.set(key, { block, used: false });
    this.bytes += block.length;
  }

  /** Drops every block of a file that is gone. */
  forgetFile(fileId: number): void {
    const first = BlockCache.keyOf(fileId, 0);
    const end = BlockCache.keyOf(fileId + 1, 0);
    for (const [key, slot] of this.blocks) {
      if (key >= first && key < end) {
        this.blocks.delete(key);
        this.bytes -= slot.block.length;
      }
    }
  }

  get size(): number {
    return this.bytes;
  }
}
