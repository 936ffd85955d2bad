import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codes, KvcaskError, open } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

const KEYS = 3000;
const value = (i: number) => `value-${i}-${'x'.repeat(i % 50)}`;

/** A disk-index store of several sealed files, closed cleanly, with COUNTS gone (as after a crash), so that open() reads every index page to count live keys. */
async function storeToCount(): Promise<{ dir: string; kvx: string }> {
  const dir = tempDir();
  const db = await open(dir, { index: 'disk', maxFileSize: 64 * 1024 });
  for (let i = 0; i < KEYS; i++) await db.set(`key-${String(i).padStart(5, '0')}`, value(i));
  await db.close();
  rmSync(join(dir, 'COUNTS'));
  const kvx = readdirSync(dir).filter((name) => name.endsWith('.kvx')).sort()[0];
  // One byte of the first page (pages start on the first 4 KiB boundary): its CRC fails, the header, fences and filter still pass.
  const path = join(dir, kvx);
  const bytes = readFileSync(path);
  bytes[4096 + 100] ^= 0x40;
  writeFileSync(path, bytes);
  return { dir, kvx: path };
}

describe('an index page found damaged while open() counts live keys', () => {
  it('is reported, its index rebuilt from the data file, and every value read back', async () => {
    const { dir, kvx } = await storeToCount();
    const db = await open(dir, { index: 'disk' });
    const { recovery } = db.stats();
    expect(recovery.damaged).toContainEqual({ file: kvx, offset: 4096, length: statSync(kvx).size });
    expect(recovery.rebuiltIndexes).toBeGreaterThanOrEqual(1);
    expect(recovery.skippedBytes).toBe(0);
    for (let i = 0; i < KEYS; i++) expect(db.getSync(`key-${String(i).padStart(5, '0')}`)?.toString()).toBe(value(i));
    expect(db.stats().keys).toBe(KEYS);
    await db.close();
    // The rebuilt index is trusted by the next open.
    const again = await open(dir, { index: 'disk', strict: true });
    expect(again.stats().recovery.damaged).toEqual([]);
    await again.close();
  });

  it('is refused in strict mode, naming the index file', async () => {
    const { dir, kvx } = await storeToCount();
    const err = await open(dir, { index: 'disk', strict: true }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(err).toBeInstanceOf(KvcaskError);
    expect((err as KvcaskError).code).toBe(codes.CORRUPTION);
    expect((err as KvcaskError).file).toBe(kvx);
    expect((err as KvcaskError).offset).toBe(4096);
  });
});
