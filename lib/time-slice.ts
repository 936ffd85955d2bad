import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

/**
 * Background work (merges, hint building) runs on the event loop that also
 * serves reads and completes writes. It calls `pause()` at safe points; once
 * the current slice has used its budget, that lets every pending callback run
 * before the work goes on, so no request waits behind more than one slice.
 */
export class TimeSlice {
  private start = performance.now();

  /** `urgent`: whether work now waits on this one (writes held back until it is done, or a close() that waits for it); it then yields one turn only. */
  constructor(
    readonly budgetMs: number,
    private readonly urgent: () => boolean = () => false,
  ) {}

  /** Whether the current slice has used its budget. */
  get spent(): boolean {
    return performance.now() - this.start >= this.budgetMs;
  }

  /** Yields to the event loop if the slice is spent; resolves at once otherwise. */
  async pause(): Promise<void> {
    if (this.spent) await this.yield();
  }

  /**
   * Yields to the event loop for as long as the slice ran, then starts a new
   * one: background work that always has more to do takes at most about
   * half of the event loop. Yielding for one turn only (setImmediate) let a
   * CPU-bound merge run slice after slice, and a durable write, which needs a
   * turn to be queued and another for its completion, waited a slice at each.
   */
  async yield(): Promise<void> {
    const ran = performance.now() - this.start;
    if (this.urgent()) await nextTurn();
    else await sleep(Math.max(1, Math.round(ran)));
    this.restart();
  }

  /** Starts a new slice (after the caller waited some other way). */
  restart(): void {
    this.start = performance.now();
  }
}

/** The pause of work that need not yield (open() loading the store, while nothing else waits on the event loop). */
export const noPause = (): Promise<void> => Promise.resolve();

/** Longest stretch background work holds the event loop (a durable write costs about 0.2-0.4 ms here: a few of them per slice). */
export const BACKGROUND_SLICE_MS = 2;
