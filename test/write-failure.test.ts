import { describe, expect, it } from 'vitest';
import { codes, open } from '../lib/index.js';
import { FaultyFileSystem } from './support/faulty-fs.js';
import { tempDir } from './support/temp-dir.js';

describe('write failures', () => {
  for (const [operation, code] of [['write', 'ENOSPC'], ['datasync', 'EIO']] as const) {
    it(`rejects the writes of a group whose ${operation} fails with ${code}, keeping the system error as cause`, async () => {
      const dir = tempDir();
      const fileSystem = new FaultyFileSystem();
      let db = await open(dir, { fileSystem });
      await db.set('kept', 'old');
      fileSystem.failNext(operation, code);
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

  it('refuses to create the directory it cannot create, with KVCASK_IO', async () => {
    const fileSystem = new FaultyFileSystem();
    fileSystem.failNext('mkdir', 'EACCES');
    await expect(open(`${tempDir()}/sub`, { fileSystem })).rejects.toMatchObject({ code: codes.IO, cause: { code: 'EACCES' } });
  });
});
