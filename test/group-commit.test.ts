import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';
import { FaultyFileSystem } from './support/faulty-fs.js';
import { tempDir } from './support/temp-dir.js';

describe('group commit', () => {
  it('makes 64 concurrent writers share durable writes instead of paying one each', async () => {
    const fileSystem = new FaultyFileSystem();
    const db = await open(tempDir(), { fileSystem });
    const before = fileSystem.syncs;
    await Promise.all(Array.from({ length: 64 }, async (_, writer) => {
      for (let i = 0; i < 20; i++) await db.set(`w${writer}-${i}`, 'value');
    }));
    const syncs = fileSystem.syncs - before;
    expect(syncs).toBeGreaterThanOrEqual(20);
    expect(syncs).toBeLessThan(64 * 20 / 8);
    expect(db.stats().keys).toBe(64 * 20);
    await db.close();
  });

  it('resolves a durable write only after a synced write covering it', async () => {
    const fileSystem = new FaultyFileSystem();
    const db = await open(tempDir(), { fileSystem });
    await db.set('first', 'creates the data file');
    const before = fileSystem.syncs;
    const written = db.set('k', 'v');
    expect(fileSystem.syncs).toBe(before);
    await written;
    expect(fileSystem.syncs - before).toBe(1);
    await db.close();
  });

  it("resolves writes without any fdatasync under sync: 'none', and syncs once at close", async () => {
    const fileSystem = new FaultyFileSystem();
    const db = await open(tempDir(), { fileSystem, sync: 'none' });
    await db.set('first', 'creates the data file, which is synced once when created');
    const before = fileSystem.calls.datasync ?? 0;
    for (let i = 0; i < 50; i++) await db.set(`k${i}`, 'v');
    expect((fileSystem.calls.datasync ?? 0) - before).toBe(0);
    await db.close();
    expect((fileSystem.calls.datasync ?? 0) - before).toBe(1);
  });

  it("syncs in the background under sync: 'interval'", async () => {
    const fileSystem = new FaultyFileSystem();
    const db = await open(tempDir(), { fileSystem, sync: 'interval', syncInterval: 5 });
    await db.set('first', 'creates the data file, which is synced once when created');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = fileSystem.calls.datasync ?? 0;
    await db.set('k', 'v');
    expect((fileSystem.calls.datasync ?? 0) - before).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((fileSystem.calls.datasync ?? 0) - before).toBe(1);
    await db.close();
  });
});
