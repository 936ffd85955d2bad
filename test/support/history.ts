/**
 * The reference model for crash tests. Writes reach the disk in the order they
 * were issued (each group is one frame, frames are written one after another,
 * and a batch is one frame), so after any crash the store must hold exactly
 * the state after some prefix of the issued writes: a batch is inside the
 * prefix or outside it, a delete inside it cannot be undone by an older set,
 * and every value is the one the prefix says. The prefix must reach at least
 * as far as the durability promise (`floor`).
 */
export type Effect = [key: string, value: string | null];

export interface Write {
  effects: Effect[];
  /** Whether the store wrote anything (deleting a missing key does not, and resolves at once). */
  written: boolean;
  state: 'pending' | 'acked' | 'failed';
}

export class History {
  readonly writes: Write[] = [];
  /** What the store's index says after every issued write: what a delete of a missing key sees. */
  readonly view = new Map<string, string>();
  /** Writes before this index are known to be durable. */
  floor = 0;

  /** Records a write as issued; `written` defaults to whether a single set or delete would write a record. */
  issue(effects: Effect[], written = effects.some(([key, value]) => value !== null || this.view.has(key))): Write {
    const write: Write = { effects, written, state: 'pending' };
    this.writes.push(write);
    for (const [key, value] of write.effects) value === null ? this.view.delete(key) : this.view.set(key, value);
    return write;
  }

  /** Tracks a write's promise; `durableOnAck`: its acknowledgement promises it and every write before it is on disk. */
  track(write: Write, promise: Promise<unknown>, durableOnAck: boolean): Promise<void> {
    const index = this.writes.length - 1;
    return promise.then(
      () => {
        write.state = 'acked';
        if (durableOnAck && write.written) this.floor = Math.max(this.floor, index + 1);
      },
      () => {
        write.state = 'failed';
      },
    );
  }

  /** After a close() that resolved: every acknowledged write, and so everything before it, is on disk whatever the sync mode. */
  closed(): void {
    for (let i = this.writes.length - 1; i >= this.floor; i--) {
      if (this.writes[i].state === 'acked' && this.writes[i].written) {
        this.floor = i + 1;
        return;
      }
    }
  }

  /**
   * Finds the longest prefix, at least `floor` long, whose state equals
   * `actual`; returns its length, or throws naming what does not fit.
   */
  matchPrefix(actual: Map<string, string>): number {
    const state = new Map<string, string>();
    let found = -1;
    for (let k = 0; k <= this.writes.length; k++) {
      if (k > 0) for (const [key, value] of this.writes[k - 1].effects) value === null ? state.delete(key) : state.set(key, value);
      if (k >= this.floor && sameState(state, actual)) found = k;
    }
    if (found >= 0) return found;
    throw new Error(`no prefix of ${this.writes.length} writes from ${this.floor} on gives the store's state: ${this.explain(actual)}`);
  }

  /** Cuts the history to the prefix the store was found in: the writes after it never happened, and those in it are on disk. */
  rewind(k: number): void {
    this.writes.length = k;
    this.view.clear();
    for (const write of this.writes) for (const [key, value] of write.effects) value === null ? this.view.delete(key) : this.view.set(key, value);
    this.floor = k;
  }

  private explain(actual: Map<string, string>): string {
    const durable = new Map<string, string>();
    for (const write of this.writes.slice(0, this.floor)) for (const [key, value] of write.effects) value === null ? durable.delete(key) : durable.set(key, value);
    const ever = new Map<string, Set<string>>();
    for (const write of this.writes) for (const [key, value] of write.effects) if (value !== null) (ever.get(key) ?? ever.set(key, new Set()).get(key)!).add(value);
    const problems: string[] = [];
    for (const [key, value] of actual) if (!ever.get(key)?.has(value)) problems.push(`${key} holds a value never written for it (${value.slice(0, 40)})`);
    for (const [key, value] of durable) {
      const later = this.writes.slice(this.floor).some((w) => w.effects.some(([k]) => k === key));
      if (!later && actual.get(key) !== value) problems.push(`durable ${key}=${value.slice(0, 40)} is ${actual.has(key) ? `now ${actual.get(key)!.slice(0, 40)}` : 'missing'}`);
    }
    for (const key of actual.keys()) if (!durable.has(key) && !this.writes.slice(this.floor).some((w) => w.effects.some(([k, v]) => k === key && v !== null))) problems.push(`${key} is back although deleted or never durably set`);
    return problems.length > 0 ? problems.slice(0, 5).join('; ') : 'every key is individually possible, but no single prefix explains them all (a partial batch or reordered writes)';
  }
}

function sameState(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}
