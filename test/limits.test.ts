import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { codes, open } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

describe('limits and argument checks', () => {
  it('rejects a key over maxKeySize with KVCASK_KEY_TOO_LARGE and writes nothing', async () => {
    const dir = tempDir();
    const db = await open(dir, { maxKeySize: 8 });
    await expect(db.set('123456789', 'v')).rejects.toMatchObject({ code: codes.KEY_TOO_LARGE });
    await db.set('12345678', 'v');
    expect(db.stats().seq).toBe(1);
    await db.close();
  });

  it('counts key length in UTF-8 bytes, not characters', async () => {
    const db = await open(tempDir(), { maxKeySize: 4 });
    await expect(db.set('ééé', 'v')).rejects.toMatchObject({ code: codes.KEY_TOO_LARGE });
    await db.set('éé', 'v');
    await db.close();
  });

  it('rejects a value over maxValueSize with KVCASK_VALUE_TOO_LARGE and writes nothing', async () => {
    const dir = tempDir();
    const db = await open(dir, { maxValueSize: 100 });
    await expect(db.set('k', new Uint8Array(101))).rejects.toMatchObject({ code: codes.VALUE_TOO_LARGE });
    expect(db.has('k')).toBe(false);
    await db.set('k', new Uint8Array(100));
    await db.close();
  });

  it('stores a value larger than the data file size limit in a file of its own', async () => {
    const dir = tempDir();
    let db = await open(dir, { maxFileSize: 4096, autoMerge: false });
    await db.set('small', 'x');
    const big = Buffer.alloc(20_000, 7);
    await db.set('big', big);
    await db.set('after', 'y');
    await db.close();
    db = await open(dir, { maxFileSize: 4096 });
    expect(db.getSync('big')).toEqual(big);
    expect(readdirSync(dir).filter((n) => n.endsWith('.data')).length).toBe(3);
    await db.close();
  });

  it('throws TypeError for keys and values of the wrong type', async () => {
    const db = await open(tempDir());
    expect(() => db.set(42 as never, 'v')).toThrow(TypeError);
    expect(() => db.set('k', { a: 1 } as never)).toThrow(TypeError);
    expect(() => db.set('k', null as never)).toThrow(TypeError);
    expect(() => db.getSync(undefined as never)).toThrow(TypeError);
    expect(() => db.get([] as never)).toThrow(TypeError);
    expect(() => db.delete(Symbol('k') as never)).toThrow(TypeError);
    expect(() => db.getMany('k' as never)).toThrow(TypeError);
    expect(() => db.batch({} as never)).toThrow(TypeError);
    await db.close();
  });

  it('throws TypeError or RangeError for bad options, naming the option', async () => {
    const dir = tempDir();
    await expect(open(dir, { sync: 'sometimes' as never })).rejects.toThrow(/options.sync/);
    await expect(open(dir, { maxFileSize: 10 })).rejects.toThrow(RangeError);
    await expect(open(dir, { maxKeySize: 70000 })).rejects.toThrow(RangeError);
    await expect(open(dir, { maxValueSize: 1.5 })).rejects.toThrow(TypeError);
    await expect(open(dir, { maxFileSise: 1 } as never)).rejects.toThrow(/unknown option "maxFileSise"/);
    await expect(open(42 as never)).rejects.toThrow(TypeError);
  });

  it('rejects operations after close with KVCASK_CLOSED', async () => {
    const db = await open(tempDir());
    await db.set('k', 'v');
    await db.close();
    await expect(db.set('k', 'v')).rejects.toMatchObject({ code: codes.CLOSED });
    await expect(db.get('k')).rejects.toMatchObject({ code: codes.CLOSED });
    expect(() => db.getSync('k')).toThrow(expect.objectContaining({ code: codes.CLOSED }));
    await db.close();
  });

  it('waits for queued writes before close resolves', async () => {
    const dir = tempDir();
    let db = await open(dir);
    const writes = Array.from({ length: 100 }, (_, i) => db.set(`k${i}`, `v${i}`));
    await db.close();
    await Promise.all(writes);
    db = await open(dir);
    expect(db.stats().keys).toBe(100);
    await db.close();
  });
});
