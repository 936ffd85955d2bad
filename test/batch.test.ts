import { describe, expect, it } from 'vitest';
import { codes, open } from '../lib/index.js';
import { FaultyFileSystem } from './support/faulty-fs.js';
import { tempDir } from './support/temp-dir.js';

describe('batch', () => {
  it('applies puts and deletes in order, the last operation on a key winning', async () => {
    const dir = tempDir();
    let db = await open(dir);
    await db.set('gone', 'x');
    await db.batch([
      { type: 'put', key: 'a', value: '1' },
      { type: 'put', key: 'a', value: '2' },
      { type: 'del', key: 'gone' },
      { type: 'put', key: 'b', value: new Uint8Array([9]) },
      { type: 'del', key: 'b' },
      { type: 'put', key: 'b', value: '3' },
    ]);
    await db.close();
    db = await open(dir);
    expect(db.getSync('a')?.toString()).toBe('2');
    expect(db.getSync('b')?.toString()).toBe('3');
    expect(db.getSync('gone')).toBeUndefined();
    await db.close();
  });

  it('writes nothing when one operation is invalid, and says which', async () => {
    const db = await open(tempDir(), { maxValueSize: 10 });
    expect(() => db.batch([{ type: 'put', key: 'a', value: '1' }, { type: 'upsert', key: 'b' } as never])).toThrow(/operation 1/);
    expect(() => db.batch([{ type: 'put', key: 'a', value: '1' }, { type: 'put', key: 2, value: '1' } as never])).toThrow(TypeError);
    await expect(db.batch([{ type: 'put', key: 'a', value: '1' }, { type: 'put', key: 'b', value: 'x'.repeat(11) }])).rejects.toMatchObject({
      code: codes.VALUE_TOO_LARGE,
    });
    expect(db.has('a')).toBe(false);
    expect(db.stats().seq).toBe(0);
    await db.close();
  });

  it('takes a whole failed batch back out of the index', async () => {
    const fileSystem = new FaultyFileSystem();
    const db = await open(tempDir(), { fileSystem });
    await db.set('a', 'old');
    fileSystem.failNext('write', 'EIO');
    const failed = db.batch([
      { type: 'put', key: 'a', value: 'new' },
      { type: 'del', key: 'a' },
      { type: 'put', key: 'b', value: 'new' },
    ]);
    await expect(failed).rejects.toMatchObject({ code: codes.IO });
    expect(db.getSync('a')?.toString()).toBe('old');
    expect(db.has('b')).toBe(false);
    await db.close();
  });

  it('resolves an empty batch at once', async () => {
    const db = await open(tempDir());
    await db.batch([]);
    expect(db.stats().seq).toBe(0);
    await db.close();
  });
});
