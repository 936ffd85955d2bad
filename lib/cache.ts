/**
 * Decompressed blocks of sealed segments and pages of index files, kept within a byte budget. A Map
 * keeps insertion order, so deleting and re-inserting a key on a hit makes
 * its first key the least recently used: eviction pops from the front.
 */
export class BlockCache {
  private readonly blocks = new Map<number, Buffer>();
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
    const block = this.blocks.get(key);
    if (block === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.blocks.delete(key);
    this.blocks.set(key, block);
    return block;
  }

  /** Whether `key` is cached; unlike get(), counts neither a hit nor a miss and leaves the eviction order alone. */
  has(key: number): boolean {
    return this.blocks.has(key);
  }

  /** Keeps `block` if it fits the budget at all, evicting the least recently used blocks to make room. */
  set(key: number, block: Buffer): void {
    if (block.length > this.budget) return;
    const old = this.blocks.get(key);
    if (old !== undefined) {
      this.bytes -= old.length;
      this.blocks.delete(key);
    }
    while (this.bytes + block.length > this.budget) {
      const [oldestKey, oldest] = this.blocks.entries().next().value as [number, Buffer];
      this.blocks.delete(oldestKey);
      this.bytes -= oldest.length;
    }
    this.blocks.set(key, block);
    this.bytes += block.length;
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
    for (const [key, block] of this.blocks) {
      if (key >= first && key < end) {
        this.blocks.delete(key);
        this.bytes -= block.length;
      }
    }
  }

  get size(): number {
    return this.bytes;
  }
}
