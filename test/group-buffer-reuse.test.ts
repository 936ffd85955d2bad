import { describe, expect, it } from 'vitest';
import { nodeFileSystem } from '../lib/filesystem.js';
import { type FileSystem, open } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

/** Writes that stay in flight for a few milliseconds, so that the next group fills while one is being written. */
const slowWrites: FileSystem = {
  ...nodeFileSystem,
  write: async (fd, buffer, offset, length, position) => {
    await new Promise((resolve) => setTimeout(resolve, 3));
    return nodeFileSystem.write(fd, buffer, offset, length, position);
  },
};
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** A value of `size` bytes that differs from every other key's and round's. */
const valueFor = (i: number, round: number, size: number) => Buffer.alloc(size, `${i}:${round};`);

describe('group buffers reused across group commits', () => {
  it('keeps every value intact, pending and written, while later groups fill during earlier groups\' writes', async () => {
    const dir = tempDir();
    const db = await open(dir, { sync: 'none', fileSystem: slowWrites });
    // Small groups reuse kept buffers; a 200 KiB value grows one; a 2 MiB value is never kept.
    const sizes = [1, 100, 3000, 200 * 1024, 40, 2 * 1024 * 1024, 7];
    const written = new Map<string, Buffer>();
    const writes: Promise<void>[] = [];
    for (let round = 0; round < 24; round++) {
      for (let i = 0; i < 4; i++) {
        const key = `r${round}k${i}`;
        const value = valueFor(i, round, sizes[(i + round) % sizes.length]);
        writes.push(db.set(key, value));
        written.set(key, value);
      }
      // The group just cut is now being written; the next round fills a new one meanwhile.
      await nextTurn();
      await nextTurn();
      for (const [key, value] of written) expect(db.getSync(key)?.equals(value), `${key} in round ${round}`).toBe(true);
      if (round % 4 === 3) await Promise.all(writes);
    }
    await Promise.all(writes);
    for (const [key, value] of written) expect(db.getSync(key)?.equals(value), `${key} once written`).toBe(true);
    await db.close();
    const reopened = await open(dir);
    for (const [key, value] of written) expect(reopened.getSync(key)?.equals(value), `${key} after reopening`).toBe(true);
    await reopened.close();
  });
});
