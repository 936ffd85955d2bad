import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

describe('values read through the shared read buffer', () => {
  it('returns values that later reads and writes do not change', async () => {
    const db = await open(tempDir(), { sync: 'none' });
    await db.set('a', 'first value');
    await db.set('b', 'second value, longer');
    const a = db.getSync('a')!;
    const b = db.getSync('b')!;
    await db.set('a', 'overwritten');
    db.getSync('a');
    db.getSync('b');
    expect(a.toString()).toBe('first value');
    expect(b.toString()).toBe('second value, longer');
    await db.close();
  });

  it('reads values of hundreds of sizes, across growing the shared buffer and past the size it shares', async () => {
    const dir = tempDir();
    const db = await open(dir, { sync: 'none' });
    const sizes = [...Array.from({ length: 300 }, (_, i) => i * 17), 5000, 65_000, 70_000, 300_000];
    const values = sizes.map((size, i) => Buffer.alloc(size, `value ${i}|`));
    await Promise.all(values.map((value, i) => db.set(`key ${i}`, value)));
    await db.close();
    const reopened = await open(dir);
    for (let round = 0; round < 2; round++) {
      values.forEach((value, i) => expect(reopened.getSync(`key ${i}`)?.equals(value), `key ${i}, ${value.length} B`).toBe(true));
    }
    await reopened.close();
  });
});
