/**
 * Index pages kept in memory (index: 'disk'), within a byte budget.
 *
 * Pages live in fixed-size slots of a few large buffers, and each index file
 * finds its pages through an Int32Array of slot numbers (its `slotOf`,
 * −1 for a page not held). A lookup of a cached page thus touches the slot
 * number and then the page's own bytes: no Map, no slot object and no Buffer
 * object per page, each of which was a cache miss of its own when pages are
 * many (docs/performance.md, "Index pages in slots").
 *
 * Eviction is the clock (second chance): a read marks its slot used; the
 * hand clears a used slot and takes the first one not used since it last
 * passed. Buffers are allocated a chunk of slots at a time as pages arrive,
 * so that an idle budget costs no memory.
 */
const CHUNK_SHIFT = 8;
const CHUNK_SLOTS = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_SLOTS - 1;

export class PageCache {
  /** Slots the budget allows. */
  private readonly slotLimit: number;
  private readonly chunks: Buffer[] = [];
  /** Per slot: the slotOf array of the file holding it (null when free) and the page. */
  private readonly owners: (Int32Array | null)[] = [];
  private pages = new Int32Array(0);
  private used = new Uint8Array(0);
  private readonly free: number[] = [];
  private allocated = 0;
  private hand = 0;
  hits = 0;
  misses = 0;

  /** `slotBytes`: the largest page (with what its reader keeps behind it) a slot holds. */
  constructor(
    readonly budget: number,
    readonly slotBytes: number,
  ) {
    if (!Number.isSafeInteger(budget) || budget < 0) throw new RangeError(`budget must be a non-negative integer, got ${budget}`);
    if (!Number.isSafeInteger(slotBytes) || slotBytes <= 0) throw new RangeError(`slotBytes must be a positive integer, got ${slotBytes}`);
    this.slotLimit = Math.floor(budget / slotBytes);
  }

  /** A new slotOf array for a file of `pageCount` pages: no page held. */
  static slotsFor(pageCount: number): Int32Array {
    return new Int32Array(pageCount).fill(-1);
  }

  /** The buffer holding `slot`; its bytes start at baseOf(slot). */
  bufferOf(slot: number): Buffer {
    return this.chunks[slot >>> CHUNK_SHIFT];
  }

  baseOf(slot: number): number {
    return (slot & CHUNK_MASK) * this.slotBytes;
  }

  /** A hit: marks `slot` (a file's slotOf entry, not −1) used. */
  touch(slot: number): void {
    this.hits++;
    this.used[slot] = 1;
  }

  /**
   * A slot for page `page` of the file whose slotOf is `slotOf`, recorded
   * there, evicting the page the clock finds not used if the budget is full;
   * −1 if the budget holds no slot at all. The caller fills it.
   */
  take(slotOf: Int32Array, page: number): number {
    this.misses++;
    if (this.slotLimit === 0) return -1;
    let slot: number;
    if (this.free.length > 0) slot = this.free.pop()!;
    else if (this.allocated < this.slotLimit) slot = this.grow();
    else slot = this.evict();
    this.owners[slot] = slotOf;
    this.pages[slot] = page;
    this.used[slot] = 0;
    slotOf[page] = slot;
    return slot;
  }

  /** Frees every slot of a file (closed, or its page failed its checks). */
  release(slotOf: Int32Array): void {
    for (let page = 0; page < slotOf.length; page++) this.drop(slotOf, page);
  }

  /** Frees the slot of one page of a file, if it holds one (a page that failed its checks). */
  drop(slotOf: Int32Array, page: number): void {
    const slot = slotOf[page];
    if (slot < 0) return;
    slotOf[page] = -1;
    this.owners[slot] = null;
    this.free.push(slot);
  }

  /** Bytes of the slots holding pages. */
  get size(): number {
    return (this.allocated - this.free.length) * this.slotBytes;
  }

  private grow(): number {
    const slot = this.allocated++;
    if ((slot & CHUNK_MASK) === 0) {
      const slots = Math.min(CHUNK_SLOTS, this.slotLimit - slot);
      this.chunks.push(Buffer.allocUnsafeSlow(slots * this.slotBytes));
      if (slot + slots > this.pages.length) {
        // Doubled, so that a budget of millions of slots copies each entry about once.
        const length = Math.min(this.slotLimit, Math.max(slot + slots, 2 * this.pages.length));
        const pages = new Int32Array(length);
        pages.set(this.pages);
        this.pages = pages;
        const used = new Uint8Array(length);
        used.set(this.used);
        this.used = used;
      }
    }
    return slot;
  }

  private evict(): number {
    for (;;) {
      const slot = this.hand;
      this.hand = slot + 1 === this.allocated ? 0 : slot + 1;
      if (this.used[slot] === 1) {
        this.used[slot] = 0;
        continue;
      }
      this.owners[slot]![this.pages[slot]] = -1;
      return slot;
    }
  }
}
