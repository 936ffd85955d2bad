import { describe, expect, it } from 'vitest';
import { codes, open } from '../lib/index.js';
import { FaultyFileSystem } from './support/faulty-fs.js';
import { tempDir } from './support/temp-dir.js';

describe('write failures', () => {
  for (const code of ['ENOSPC', 'EIO']) {
    it(`rejects the writes of a group whose durable write fails with ${code}, keeping the system error as cause`, async () => {
      const dir = tempDir();
      const fileSystem = new FaultyFileSystem();
      let db = await open(dir, { fileSystem });
      await db.set('kept', 'old');
      fileSystem.failNext('write', code);
      const failed = db.set('kept', 'new');
      const alsoFailed = db.set('fresh', 'value');
      await expect(failed).rejects.toMatchObject({ code: codes.IO, cause: { code } });
      await expect(alsoFailed).rejects.toMatchObject({ code: codes.IO });
      // The index no longer claims what may not be on disk.
      expect(db.getSync('kept')?.toString()).toBe('old');
      expect(db.getSync('fresh')).toBeUndefined();
      await expect(db.set('later', 'x')).rejects.toMatchObject({ code: codes.FAILED });
      await expect(db.delete('kept')).rejects.toMatchObject({ code: codes.FAILED });
      await db.close();
      db = await open(dir);
      expect(db.getSync('kept')?.toString()).toMatch(/^(old|new)$/);
      await db.set('later', 'x');
      expect(db.getSync('later')?.toString()).toBe('x');
      await db.close();
    });
  }

  it("refuses writes after a background fdatasync fails under sync: 'interval', and never retries it", async () => {
    const fileSystem = new FaultyFileSystem();
    const db = await open(tempDir(), { fileSystem, sync: 'interval', syncInterval: 1 });
    await db.set('first', 'creates the data file');
    fileSystem.failNext('datasync', 'EIO');
    // Whether this write is still queued when the failing background sync hits (then it is rejected too) is timing.
    await db.set('k', 'v').catch((err) => expect(err).toMatchObject({ code: codes.IO }));
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline && (fileSystem.calls.datasync ?? 0) < 2) await new Promise((resolve) => setTimeout(resolve, 2));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const syncsAfterFailure = fileSystem.calls.datasync;
    await expect(db.set('later', 'x')).rejects.toMatchObject({ code: codes.FAILED, cause: { code: codes.IO, cause: { code: 'EIO' } } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fileSystem.calls.datasync).toBe(syncsAfterFailure);
    // 'first' was acknowledged but never synced: close() must not report the data safe.
    await expect(db.close()).rejects.toMatchObject({ code: codes.IO, cause: { code: 'EIO' } });
    expect(fileSystem.calls.datasync).toBe(syncsAfterFailure);
  });

  it("rejects close() when the final fdatasync of sync: 'none' fails, instead of reporting the data safe", async () => {
    const fileSystem = new FaultyFileSystem();
    const db = await open(tempDir(), { fileSystem, sync: 'none' });
    await db.set('k', 'v');
    fileSystem.failNext('datasync', 'EIO');
    await expect(db.close()).rejects.toMatchObject({ code: codes.IO, cause: { code: 'EIO' } });
    await expect(db.set('k', 'v')).rejects.toMatchObject({ code: codes.CLOSED });
  });

  it('refuses to create the directory it cannot create, with KVCASK_IO', async () => {
    const fileSystem = new FaultyFileSystem();
    fileSystem.failNext('mkdir', 'EACCES');
    await expect(open(`${tempDir()}/sub`, { fileSystem })).rejects.toMatchObject({ code: codes.IO, cause: { code: 'EACCES' } });
  });
});
