import { describe, expect, it } from 'vitest';
import { codes, open, type RangeOptions } from '../lib/index.js';
import { randomBytes, rng } from './support/random.js';
import { tempDir } from './support/temp-dir.js';

const ALPHABET = [0x00, 0x01, 0x41, 0x61, 0x7f, 0x80, 0xfe, 0xff];
const hex = (b: Buffer) => b.toString('hex');

function expected(reference: Map<string, string>, options: RangeOptions): [string, string][] {
  const bin = (v: unknown) => Buffer.from(v as Uint8Array).toString('latin1');
  let entries = [...reference.entries()].map(([k, v]) => [Buffer.from(k, 'hex').toString('latin1'), k, v] as const);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (options.gt !== undefined) entries = entries.filter((e) => e[0] > bin(options.gt));
  if (options.gte !== undefined) entries = entries.filter((e) => e[0] >= bin(options.gte));
  if (options.lt !== undefined) entries = entries.filter((e) => e[0] < bin(options.lt));
  if (options.lte !== undefined) entries = entries.filter((e) => e[0] <= bin(options.lte));
  if (options.prefix !== undefined) entries = entries.filter((e) => e[0].startsWith(bin(options.prefix)));
  if (options.reverse) entries.reverse();
  if (options.limit !== undefined) entries = entries.slice(0, options.limit);
  return entries.map((e) => [e[1], e[2]]);
}

async function collect(iterable: AsyncIterable<[Buffer, Buffer]>): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const [k, v] of iterable) out.push([hex(k), v.toString()]);
  return out;
}

describe('range', () => {
  it('matches a sorted reference for random bounds, prefixes, limits and directions over thousands of binary keys', async () => {
    const random = rng(99);
    const db = await open(tempDir());
    const reference = new Map<string, string>();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 5000; i++) {
      const key = randomBytes(random, 1 + Math.floor(random() * 4), ALPHABET);
      if (random() < 0.15) {
        writes.push(db.delete(key));
        reference.delete(hex(key));
      } else {
        writes.push(db.set(key, `v${i}`));
        reference.set(hex(key), `v${i}`);
      }
    }
    await Promise.all(writes);
    const bound = () => randomBytes(random, Math.floor(random() * 3), ALPHABET);
    for (let i = 0; i < 400; i++) {
      const options: RangeOptions = {};
      if (random() < 0.4) options.gt = bound();
      if (random() < 0.4) options.gte = bound();
      if (random() < 0.4) options.lt = bound();
      if (random() < 0.4) options.lte = bound();
      if (random() < 0.3) options.prefix = bound();
      if (random() < 0.5) options.limit = Math.floor(random() * 600);
      if (random() < 0.5) options.reverse = true;
      const want = expected(reference, options);
      expect(await collect(db.range(options)), JSON.stringify(options)).toEqual(want);
      const keys: string[] = [];
      for await (const key of db.keys(options)) keys.push(hex(key));
      expect(keys).toEqual(want.map((e) => e[0]));
    }
    await db.close();
  });

  it('treats a prefix of 0xff bytes as reaching the end of the key space', async () => {
    const db = await open(tempDir());
    for (const key of [[0xfe], [0xff], [0xff, 0x00], [0xff, 0xff], [0xff, 0xff, 0x01]]) await db.set(Buffer.from(key), 'v');
    const keys: string[] = [];
    for await (const key of db.keys({ prefix: Buffer.from([0xff, 0xff]) })) keys.push(hex(key));
    expect(keys).toEqual(['ffff', 'ffff01']);
    await db.close();
  });

  it('reads as of the moment it started while writes, deletes and inserts go on', async () => {
    const db = await open(tempDir());
    const before = new Map<string, string>();
    for (let i = 0; i < 2000; i++) {
      const key = `key-${String(i).padStart(5, '0')}`;
      before.set(key, `old-${i}`);
      await db.set(key, `old-${i}`);
    }
    for (const reverse of [false, true]) {
      const seen: [string, string][] = [];
      let step = 0;
      for await (const [k, v] of db.range({ reverse })) {
        seen.push([k.toString(), v.toString()]);
        // Between entries, rewrite the whole store: overwrite, delete and insert all around.
        const i = step++ % 2000;
        void db.set(`key-${String((i * 7) % 2000).padStart(5, '0')}`, `new-${step}`);
        void db.delete(`key-${String((i * 13 + 5) % 2000).padStart(5, '0')}`);
        void db.set(`key-${String(i).padStart(5, '0')}-inserted`, 'new');
        void db.batch([{ type: 'put', key: 'key-00000', value: 'batch' }, { type: 'del', key: 'key-01999' }]);
      }
      const want = [...before.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
      if (reverse) want.reverse();
      expect(seen).toEqual(want);
      // Restore the starting state for the second direction.
      await db.batch((await collectKeys(db)).map((key) => ({ type: 'del' as const, key })));
      await db.batch([...before].map(([key, value]) => ({ type: 'put' as const, key, value })));
    }
    await db.close();
  });

  it('stops with KVCASK_ABORTED when its signal aborts', async () => {
    const db = await open(tempDir());
    for (let i = 0; i < 1000; i++) void db.set(`k${i}`, 'v');
    const controller = new AbortController();
    let count = 0;
    await expect(async () => {
      for await (const _ of db.range({ signal: controller.signal })) if (++count === 10) controller.abort();
    }).rejects.toMatchObject({ code: codes.ABORTED });
    expect(count).toBeLessThan(1000);
    await db.close();
  });

  it('rejects bounds of the wrong type with a TypeError before iterating', async () => {
    const db = await open(tempDir());
    expect(() => db.range({ gt: 5 as never })).toThrow(TypeError);
    expect(() => db.range({ limit: -2 })).toThrow(TypeError);
    expect(() => db.keys({ reverse: 'yes' as never })).toThrow(TypeError);
    await db.close();
  });
});

async function collectKeys(db: Awaited<ReturnType<typeof open>>): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of db.keys()) keys.push(key.toString());
  return keys;
}
