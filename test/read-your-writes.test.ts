import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

describe('read-your-writes', () => {
  it('returns a value from get and getSync right after set is called, before its promise settles', async () => {
    const db = await open(tempDir());
    const written = db.set('k', 'v1');
    expect(db.getSync('k')?.toString()).toBe('v1');
    expect((await db.get('k'))?.toString()).toBe('v1');
    expect(db.has('k')).toBe(true);
    await written;
    await db.close();
  });

  it('hides a key right after delete is called', async () => {
    const db = await open(tempDir());
    await db.set('k', 'v1');
    const deleted = db.delete('k');
    expect(db.getSync('k')).toBeUndefined();
    expect(db.has('k')).toBe(false);
    await deleted;
    await db.close();
  });

  it('shows the newest of several pending writes to one key', async () => {
    const db = await open(tempDir());
    const writes = [db.set('k', 'a'), db.set('k', 'b'), db.delete('k'), db.set('k', 'c')];
    expect(db.getSync('k')?.toString()).toBe('c');
    await Promise.all(writes);
    expect(db.getSync('k')?.toString()).toBe('c');
    await db.close();
  });

  it('shows a whole batch right after batch is called', async () => {
    const db = await open(tempDir());
    await db.set('gone', 'x');
    const applied = db.batch([
      { type: 'put', key: 'a', value: '1' },
      { type: 'put', key: 'b', value: '2' },
      { type: 'del', key: 'gone' },
    ]);
    expect(db.getSync('a')?.toString()).toBe('1');
    expect(db.getSync('b')?.toString()).toBe('2');
    expect(db.getSync('gone')).toBeUndefined();
    await applied;
    await db.close();
  });

  it('treats an empty value as a value, not a delete', async () => {
    const db = await open(tempDir());
    await db.set('empty', '');
    expect(db.getSync('empty')).toEqual(Buffer.alloc(0));
    expect(db.has('empty')).toBe(true);
    await db.close();
  });

  it('returns Buffers for string and Uint8Array keys alike, UTF-8 encoded', async () => {
    const db = await open(tempDir());
    await db.set('clé', new Uint8Array([1, 2, 3]));
    expect(db.getSync(Buffer.from('clé', 'utf8'))).toEqual(Buffer.from([1, 2, 3]));
    await db.set(new Uint8Array([0xff, 0x00]), 'ünïcode');
    expect(db.getSync(Buffer.from([0xff, 0x00]))?.toString('utf8')).toBe('ünïcode');
    await db.close();
  });
});
