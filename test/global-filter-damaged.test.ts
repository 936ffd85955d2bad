import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IndexFile } from '../lib/index-file.js';
import { open, type Store } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

const SMALL = { maxFileSize: 4096, autoMerge: false, index: 'disk' } as const;
const KEYS = 400;

/** A closed store of KEYS keys in small files, and the path of the FILTER its close saved. */
async function closedStore(): Promise<{ dir: string; path: string }> {
  const dir = tempDir();
  const db = await open(dir, SMALL);
  for (let i = 0; i < KEYS; i++) await db.set(`key-${i}`, `value-${i}`);
  await db.close();
  return { dir, path: join(dir, 'FILTER') };
}

function expectEveryKey(db: Store): void {
  for (let i = 0; i < KEYS; i++) expect(db.getSync(`key-${i}`)?.toString()).toBe(`value-${i}`);
}

afterEach(() => vi.restoreAllMocks());

describe('a damaged global filter file', () => {
  for (const [what, damage] of [
    ['a flipped bit', (bytes: Buffer) => ((bytes[bytes.length >> 1] ^= 1), bytes)],
    ['a cut-short file', (bytes: Buffer) => bytes.subarray(0, bytes.length - 9)],
    ['a file count larger than the file', (bytes: Buffer) => (bytes.writeUInt32LE(0xffffff, 8), bytes)],
  ] as const) {
    it(`is ignored and rebuilt from the index files, with ${what}`, async () => {
      const { dir, path } = await closedStore();
      writeFileSync(path, damage(readFileSync(path)));
      const reads = vi.spyOn(IndexFile.prototype, 'forEachKey');
      const reopened = await open(dir, SMALL);
      // open() takes FILTER (it goes stale with the first write), damaged or not: what shows the damage is the rebuild below.
      expect(existsSync(path)).toBe(false);
      expectEveryKey(reopened);
      await reopened.diskIndex!.filled();
      expect(reopened.diskIndex!.fullyFiltered).toBe(true);
      // Rebuilt: every index file was read into a new filter (a believed one would have spared them all).
      expect(reads.mock.calls.length).toBeGreaterThanOrEqual(reopened.diskIndex!.indexes.length);
      expectEveryKey(reopened);
      await reopened.close();
    });
  }

  it('is not believed for files it does not name exactly, even under a valid checksum', async () => {
    const { dir, path } = await closedStore();
    // A filter saved for other files (ids the store does not have) covers none of these.
    const bytes = readFileSync(path);
    const count = bytes.readUInt32LE(8);
    const bitsAt = 32 + 12 * count;
    for (let i = 0; i < count; i++) bytes.writeUInt32LE(0xfffff000 + i, 32 + 12 * i);
    bytes.fill(0, bitsAt, bytes.length - 4);
    const { crc32 } = await import('node:zlib');
    bytes.writeUInt32LE(crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4);
    writeFileSync(path, bytes);
    const reopened = await open(dir, SMALL);
    expectEveryKey(reopened);
    await reopened.close();
  });
});
