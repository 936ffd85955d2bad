/**
 * A fixed number of bytes shared by the request bodies being buffered. A
 * request reserves its whole body before reading it, so every admitted body
 * can finish and bodies never deadlock each other; the rest wait their turn,
 * first come first served, with their sockets unread.
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];

  constructor(readonly capacity: number) {}

  /** Bytes reserved right now. */
  get reserved(): number {
    return this.used;
  }

  /** Reserves `bytes` at once if they fit and nobody waits ahead; whether it did. Costs no promise, unlike acquire(). */
  tryAcquire(bytes: number): boolean {
    if (this.waiting.length > 0 || this.used + bytes > this.capacity) return false;
    this.used += bytes;
    return true;
  }

  /** Resolves once `bytes` are reserved; rejects with `signal`'s reason if it aborts first. */
  acquire(bytes: number, signal: AbortSignal): Promise<void> {
    if (bytes > this.capacity) return Promise.reject(new RangeError(`${bytes} bytes exceed the budget of ${this.capacity}`));
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.tryAcquire(bytes)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const entry = {
        bytes,
        grant: () => {
          signal.removeEventListener('abort', abort);
          resolve();
        },
      };
      const abort = () => {
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        reject(signal.reason);
        // The head of the queue may have been the one blocking the others.
        this.grantWaiting();
      };
      signal.addEventListener('abort', abort, { once: true });
      this.waiting.push(entry);
    });
  }

  release(bytes: number): void {
    this.used -= bytes;
    this.grantWaiting();
  }

  private grantWaiting(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0].bytes <= this.capacity) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.grant();
    }
  }
}
