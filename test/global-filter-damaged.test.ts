import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

const SMALL = { maxFileSize: 4096, autoMerge: false, index: 'disk' } as const;

describe('a damaged global filter file', () => {
  for (const [what, damage] of [
    ['a flipped bit', (bytes: Buffer) => ((bytes[bytes.length >> 1] ^= 1), bytes)],
    ['a cut-short file', (bytes: Buffer) => bytes.subarray(0, bytes.length - 9)],
    ['a file count larger than the file', (bytes: Buffer) => (bytes.writeUInt32LE(0xffffff, 8), bytes)],
  ] as const) {
    it(`is ignored and rebuilt from the index files, with ${what}`, async () => {
      const dir = tempDir();
      const db = await open(dir, SMALL);
      for (let i = 0; i < 400; i++) await db.set(`key-${i}`, `value-${i}`);
      await db.close();
      const path = join(dir, 'FILTER');
      const bytes = readFileSync(path);
      writeFileSync(path, damage(bytes));
      const reopened = await open(dir, SMALL);
      expect(existsSync(path)).toBe(false);
      for (let i = 0; i < 400; i++) expect(reopened.getSync(`key-${i}`)?.toString()).toBe(`value-${i}`);
      await reopened.diskIndex!.filled();
      expect(reopened.diskIndex!.fullyFiltered).toBe(true);
      for (let i = 0; i < 400; i++) expect(reopened.getSync(`key-${i}`)?.toString()).toBe(`value-${i}`);
      await reopened.close();
    });
  }

  it('is not believed for files it does not name exactly, even under a valid checksum', async () => {
    const dir = tempDir();
    const db = await open(dir, SMALL);
    for (let i = 0; i < 400; i++) await db.set(`key-${i}`, `value-${i}`);
    await db.close();
    // A filter saved for other files (ids the store does not have) covers none of these.
    const path = join(dir, 'FILTER');
    const bytes = readFileSync(path);
    const count = bytes.readUInt32LE(8);
    const bitsAt = 32 + 12 * count;
    for (let i = 0; i < count; i++) bytes.writeUInt32LE(0xfffff000 + i, 32 + 12 * i);
    bytes.fill(0, bitsAt, bytes.length - 4);
    const { crc32 } = await import('node:zlib');
    bytes.writeUInt32LE(crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4);
    writeFileSync(path, bytes);
    const reopened = await open(dir, SMALL);
    for (let i = 0; i < 400; i++) expect(reopened.getSync(`key-${i}`)?.toString()).toBe(`value-${i}`);
    await reopened.close();
  });
});
