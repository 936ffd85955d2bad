/**
 * With index: 'disk', the memory-part slots whose key may have an older
 * record on disk that is not yet counted as overwritten. A write of a key the
 * memory part does not hold used to look that record up at once, to keep each
 * file's live counts exact: with more index pages than the page cache holds,
 * that is a page read and check per write, several times the cost of the
 * write itself. Instead the slot is marked here, and the lookups are done
 * later in batches, in key order (each index page read once for many keys),
 * before anything reads the counts or changes which records the disk index
 * holds: stats, snapshots, a merge, a sealed file's index joining the rest.
 *
 * Settling a slot late gives the same count as settling it at the write,
 * because between the two the disk index only changes by those events, and
 * each of them settles every owed slot first.
 */
export class OwedRetires {
  private flags = new Uint8Array(1024);
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(slot: number): void {
    if (slot >= this.flags.length) {
      const bigger = new Uint8Array(Math.max(slot + 1, this.flags.length * 2));
      bigger.set(this.flags);
      this.flags = bigger;
    }
    if (this.flags[slot] === 0) {
      this.flags[slot] = 1;
      this.count++;
    }
  }

  /** Unmarks `slot`; true if it was marked (its retire was still owed). */
  delete(slot: number): boolean {
    if (slot >= this.flags.length || this.flags[slot] === 0) return false;
    this.flags[slot] = 0;
    this.count--;
    return true;
  }

  /** The marked slots, still marked: a caller settles each one it can still delete(). */
  list(): number[] {
    const slots: number[] = [];
    if (this.count === 0) return slots;
    const flags = this.flags;
    for (let slot = 0; slot < flags.length && slots.length < this.count; slot++) if (flags[slot] !== 0) slots.push(slot);
    return slots;
  }
}
