import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What the side-by-side suite needs from a store. Every adapter maps these to
 * the store's own fastest reasonable API, with keys and values as bytes.
 */
export interface PeerStore {
  /** One write; resolves when it is as durable as the store was opened for. */
  put(key: Buffer, value: Buffer): Promise<void>;
  /** A synchronous read, where the store has one. */
  getSync?(key: Buffer): Uint8Array | undefined;
  get(key: Buffer): Promise<Uint8Array | undefined>;
  getMany(keys: Buffer[]): Promise<(Uint8Array | undefined)[]>;
  /** Reads `count` entries, keys and values, in key order from `start`; resolves with how many it read. */
  range(start: Buffer, count: number): Promise<number>;
  /** Writes every key with the store's fastest bulk path (batches or transactions of `chunk` writes). */
  load(keys: Buffer[], value: Buffer, chunk: number): Promise<void>;
  close(): Promise<void>;
}

export interface Peer {
  /** Name in tables and results. */
  name: string;
  /** npm package whose version is recorded. */
  packageName: string;
  /** How the two durability settings map to the store's options, for the results file. */
  durability: { durable: string; noSync: string };
  /**
   * Opens a store in `dir`: `durable` means a put resolves only after its data
   * is on stable storage; otherwise the store's setting without syncs.
   */
  open(dir: string, durable: boolean): Promise<PeerStore>;
}

/** Thrown by `open` when this build of a store lacks the configuration asked for; the suite reports it instead of figures. */
export class NotAvailable extends Error {}

/** Bytes allocated on disk under `dir` (as `du` counts them: sparse files count only their written blocks). */
export function bytesOnDisk(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? bytesOnDisk(path) : statSync(path).blocks * 512;
  }
  return total;
}
