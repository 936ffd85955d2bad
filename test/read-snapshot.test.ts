import { describe, expect, it } from 'vitest';
import { codes, open } from '../lib/index.js';
import { contents } from './support/backup.js';
import { tempDir } from './support/temp-dir.js';

const hex = (text: string) => Buffer.from(text).toString('hex');

describe('openSnapshot', () => {
  it('keeps answering get, has, range and keys as of its moment while the store changes', async () => {
    const db = await open(tempDir(), { sync: 'none' });
    for (let i = 0; i < 600; i++) await db.set(`k${String(i).padStart(3, '0')}`, `v${i}`);
    const before = await contents(db);
    const view = db.openSnapshot();
    expect(view.size).toBe(600);
    expect(view.seq).toBe(600);
    await db.set('k001', 'changed');
    await db.delete('k002');
    await db.batch([
      { type: 'put', key: 'k0005', value: 'new' },
      { type: 'del', key: 'k599' },
    ]);
    expect(view.getSync('k001')?.toString()).toBe('v1');
    expect((await view.get('k002'))?.toString()).toBe('v2');
    expect(await view.get('k0005')).toBeUndefined();
    expect(view.has('k599')).toBe(true);
    expect(view.has('k0005')).toBe(false);
    expect(await contents(view)).toEqual(before);
    const keys: string[] = [];
    for await (const key of view.keys({ gte: 'k000', lt: 'k003' })) keys.push(key.toString());
    expect(keys).toEqual(['k000', 'k001', 'k002']);
    // The live store meanwhile sees every change.
    expect(db.getSync('k001')?.toString()).toBe('changed');
    expect(db.has('k0005')).toBe(true);
    view.release();
    await db.close();
  });

  it('stays consistent across pages of a range while writes land between them', async () => {
    const db = await open(tempDir(), { sync: 'none' });
    await db.batch(Array.from({ length: 2000 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(4, '0')}`, value: '0' })));
    const view = db.openSnapshot();
    let seen = 0;
    for await (const [key, value] of view.range()) {
      expect(value.toString(), key.toString()).toBe('0');
      // Rewrite keys ahead of the walk and delete some: the view must not see either.
      const ahead = `k${String(seen + 300).padStart(4, '0')}`;
      await db.set(ahead, `1`);
      if (seen % 7 === 0) await db.delete(`k${String(seen + 400).padStart(4, '0')}`);
      seen++;
    }
    expect(seen).toBe(2000);
    view.release();
    await db.close();
  });

  it('refuses reads once released, also from a range that was already running', async () => {
    const db = await open(tempDir());
    for (let i = 0; i < 10; i++) await db.set(`k${i}`, 'v');
    const view = db.openSnapshot();
    const range = view.range();
    expect((await range.next()).done).toBe(false);
    view.release();
    await expect(range.next()).rejects.toMatchObject({ code: codes.CLOSED });
    expect(() => view.getSync('k1')).toThrow(expect.objectContaining({ code: codes.CLOSED }));
    expect(() => view.has('k1')).toThrow(expect.objectContaining({ code: codes.CLOSED }));
    await expect(view.get('k1')).rejects.toMatchObject({ code: codes.CLOSED });
    await db.close();
  });

  it('is released by Symbol.asyncDispose, and range options are checked at once', async () => {
    const db = await open(tempDir());
    await db.set('a', '1');
    const view = db.openSnapshot();
    expect(() => view.range({ limit: -2 })).toThrow(TypeError);
    await view[Symbol.asyncDispose]();
    expect(() => view.has('a')).toThrow(expect.objectContaining({ code: codes.CLOSED }));
    await db.close();
    expect(() => db.openSnapshot()).toThrow(expect.objectContaining({ code: codes.CLOSED }));
  });

  it('reads binary keys as of the snapshot', async () => {
    const db = await open(tempDir());
    const key = Buffer.from([0, 255, 128]);
    await db.set(key, Buffer.from([1, 2, 3]));
    const view = db.openSnapshot();
    await db.set(key, 'later');
    expect(view.getSync(key)).toEqual(Buffer.from([1, 2, 3]));
    expect([...(await contents(view)).keys()]).toEqual([key.toString('hex')]);
    expect(hex('later')).toBe((await contents(db)).get(key.toString('hex')));
    view.release();
    await db.close();
  });
});
