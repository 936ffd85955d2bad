import { KeyHashes } from './bloom.js';
import type { IndexFile, IndexLocation } from './index-file.js';
import type { Location } from './keydir.js';

/**
 * With index: 'disk', an entry of the in-memory part with this value length
 * records a delete: it hides the key's older values, which sit on disk.
 */
export const TOMBSTONE_LENGTH = 0xffffffff;

/** Filled by each lookup, so that a miss allocates nothing. */
const found: IndexLocation = { offset: 0, valueLength: 0, tombstone: false, seq: 0 };
const hashes = new KeyHashes();

/**
 * The on-disk part of the index (index: 'disk'): one IndexFile per sealed
 * file, newest file first, so that the first file that knows a key holds its
 * newest record. The list is replaced on every change, never edited, so that
 * a snapshot keeps the list it was given.
 */
export class DiskIndex {
  indexes: readonly IndexFile[] = [];

  /** The newest record of `key` among `indexes` (a delete has value length TOMBSTONE_LENGTH), or null. */
  static find(indexes: readonly IndexFile[], key: Uint8Array): Location | null {
    hashes.of(key);
    for (const index of indexes) {
      // The filter answers most "not here" without a page read.
      if (!index.mayContainHashes(hashes)) continue;
      if (index.findInto(key, found)) return { fileId: index.fileId, offset: found.offset, valueLength: found.tombstone ? TOMBSTONE_LENGTH : found.valueLength };
    }
    return null;
  }

  get(fileId: number): IndexFile | undefined {
    return this.indexes.find((index) => index.fileId === fileId);
  }

  has(fileId: number): boolean {
    return this.get(fileId) !== undefined;
  }

  /** Swaps the indexes of `removed` files for `added` ones in one step (a merge's switch); returns the ones taken out. */
  replace(removed: ReadonlySet<number>, added: readonly IndexFile[]): IndexFile[] {
    const out = this.indexes.filter((index) => removed.has(index.fileId));
    this.indexes = [...this.indexes.filter((index) => !removed.has(index.fileId)), ...added].sort((a, b) => b.fileId - a.fileId);
    return out;
  }

  memoryBytes(): number {
    return this.indexes.reduce((sum, index) => sum + index.memoryBytes(), 0);
  }
}
