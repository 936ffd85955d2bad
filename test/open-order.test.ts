import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';
import { randomBytes, rng } from './support/random.js';
import { tempDir } from './support/temp-dir.js';

async function keysOf(db: Awaited<ReturnType<typeof open>>, reverse = false): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of db.keys({ reverse })) keys.push(key.toString('hex'));
  return keys;
}

describe('key order after open', () => {
  it('lists the keys loaded from hint files and data files in byte order, without deleted ones, and places new keys among them', async () => {
    const dir = tempDir();
    const random = rng(21);
    const reference = new Map<string, Buffer>();
    let db = await open(dir, { maxFileSize: 8192 });
    const shared = Buffer.from('a long shared prefix/');
    for (let i = 0; i < 3000; i++) {
      const tail = randomBytes(random, Math.floor(random() * 12), [0, 1, 0x61, 0xff]);
      const key = random() < 0.5 ? Buffer.concat([shared.subarray(0, Math.floor(random() * shared.length)), tail]) : tail;
      if (random() < 0.2) {
        await db.delete(key);
        reference.delete(key.toString('hex'));
      } else {
        await db.set(key, `v${i}`);
        reference.set(key.toString('hex'), key);
      }
    }
    await db.close();
    db = await open(dir, { maxFileSize: 8192 });
    expect(db.stats().files.length).toBeGreaterThan(3);
    const sorted = () => [...reference.values()].sort(Buffer.compare).map((key) => key.toString('hex'));
    expect(await keysOf(db)).toEqual(sorted());
    expect(await keysOf(db, true)).toEqual(sorted().reverse());
    for (const key of [Buffer.from('a long'), Buffer.alloc(0), Buffer.from([0xff, 0xff, 0xff])]) {
      await db.set(key, 'new');
      reference.set(key.toString('hex'), key);
    }
    expect(await keysOf(db)).toEqual(sorted());
    await db.close();
  });
});
