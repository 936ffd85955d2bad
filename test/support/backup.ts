import { Writable } from 'node:stream';
import type { Store } from '../../lib/index.js';

/** A writable that keeps every chunk, taking each one only after `between` has run (default: a turn of the event loop). */
export class SlowSink extends Writable {
  readonly chunks: Buffer[] = [];

  constructor(private readonly between: () => Promise<void> = () => new Promise((resolve) => setImmediate(resolve))) {
    super({ highWaterMark: 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    this.between().then(() => done(), done);
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** The whole backup of `store`, in memory. */
export async function backupOf(store: Store): Promise<Buffer> {
  const sink = new SlowSink();
  await store.snapshot(sink);
  return sink.bytes;
}

/** Every entry of `store` as hex key to hex value. */
export async function contents(store: Pick<Store, 'range'>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const [key, value] of store.range()) out.set(key.toString('hex'), value.toString('hex'));
  return out;
}
