import { describe, expect, it } from 'vitest';
import { codes, open } from '../lib/index.js';
import { hashOf } from '../lib/keydir.js';
import { tempDir } from './support/temp-dir.js';

/** Two distinct keys with the same 32-bit index hash, found by the birthday bound (about 2^16 tries). */
function collidingKeys(): [Buffer, Buffer, Buffer] {
  const seen = new Map<number, Buffer>();
  const found: Buffer[] = [];
  for (let i = 0; found.length < 3; i++) {
    const key = Buffer.from(`key-${i}`);
    const hash = hashOf(key);
    const other = seen.get(hash);
    if (other && found.length === 0) found.push(other, key);
    else if (other && found.length === 2 && hashOf(found[0]) !== hash) found.push(key);
    else seen.set(hash, key);
    if (found.length === 2 && i > 2_000_000) throw new Error('no third key');
  }
  return found as [Buffer, Buffer, Buffer];
}

describe('hash collisions in the index', () => {
  it('reads each of two keys that share a hash, and a missing key sharing it stays missing', async () => {
    const [a, b] = collidingKeys();
    expect(hashOf(a)).toBe(hashOf(b));
    const db = await open(tempDir());
    await db.set(a, 'value of a');
    expect(db.getSync(b)).toBeUndefined();
    expect(await db.get(b)).toBeUndefined();
    await db.set(b, 'value of b');
    expect(db.getSync(a)?.toString()).toBe('value of a');
    expect(db.getSync(b)?.toString()).toBe('value of b');
    expect((await db.getMany([b, a])).map(String)).toEqual(['value of b', 'value of a']);
    await db.delete(a);
    expect(db.getSync(a)).toBeUndefined();
    expect(db.getSync(b)?.toString()).toBe('value of b');
    await db.close();
  });

  it('still reports a damaged record as corruption when another key shares its hash', async () => {
    const [a, b] = collidingKeys();
    const dir = tempDir();
    const db = await open(dir);
    await db.set(b, 'other');
    await db.set(a, 'precious');
    const { openSync, writeSync, closeSync, readFileSync } = await import('node:fs');
    const path = `${dir}/00001000.data`;
    const at = readFileSync(path).indexOf('precious');
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from('P'), 0, 1, at);
    closeSync(fd);
    expect(() => db.getSync(a)).toThrow(expect.objectContaining({ code: codes.CORRUPTION }));
    expect(db.getSync(b)?.toString()).toBe('other');
    await db.close();
  });
});
