import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { codes, open, restore } from '../lib/index.js';
import { backupOf, contents } from './support/backup.js';
import { randomBytes, rng } from './support/random.js';
import { tempDir } from './support/temp-dir.js';

async function storeWith(entries: [Buffer | string, Buffer | string][]) {
  const db = await open(tempDir(), { sync: 'none', maxKeySize: 65535 });
  for (const [key, value] of entries) await db.set(key, value);
  return db;
}

/** Chunks of random sizes, as a pipe or a socket would deliver them. */
function chunked(bytes: Buffer, seed: number): Readable {
  const random = rng(seed);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(random() * 97);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return Readable.from(chunks);
}

/** Nothing of a failed restore may remain: no target, no temporary directory beside it. */
function expectNothingLeft(parent: string): void {
  expect(fs.readdirSync(parent)).toEqual([]);
}

describe('restore', () => {
  it('round-trips binary keys and values, empty values, a 65,535-byte key and a 3 MiB value, in any chunking', async () => {
    const random = rng(3);
    const entries: [Buffer, Buffer][] = [
      [Buffer.from([0]), Buffer.alloc(0)],
      [Buffer.from([255, 0, 255]), randomBytes(random, 300)],
      [Buffer.alloc(65535, 7), Buffer.from('long key')],
      [Buffer.from('big'), randomBytes(random, 3 * 1024 * 1024)],
    ];
    for (let i = 0; i < 500; i++) entries.push([randomBytes(random, 1 + Math.floor(random() * 20)), randomBytes(random, Math.floor(random() * 200))]);
    const db = await storeWith(entries);
    const want = await contents(db);
    const backup = await backupOf(db);
    await db.close();
    const parent = tempDir();
    const summary = await restore(chunked(backup, 1), path.join(parent, 'copy'));
    expect(summary).toMatchObject({ entries: want.size, bytes: backup.length, dir: path.join(parent, 'copy') });
    expect(fs.readdirSync(parent)).toEqual(['copy']);
    const restored = await open(path.join(parent, 'copy'), { maxKeySize: 65535 });
    expect(await contents(restored)).toEqual(want);
    await restored.close();
  });

  it('restores an empty store', async () => {
    const db = await storeWith([]);
    const backup = await backupOf(db);
    await db.close();
    const target = path.join(tempDir(), 'copy');
    expect(await restore(Readable.from([backup]), target)).toMatchObject({ entries: 0 });
    const restored = await open(target);
    expect(restored.stats().keys).toBe(0);
    await restored.close();
  });

  it('refuses a backup cut short at any byte with KVCASK_CORRUPTION and leaves nothing behind', async () => {
    const db = await storeWith([['a', '1'], ['bb', '22'], ['ccc', '']]);
    const backup = await backupOf(db);
    await db.close();
    const parent = tempDir();
    for (let length = 0; length < backup.length; length++) {
      await expect(restore(Readable.from([backup.subarray(0, length)]), path.join(parent, 'copy')), `cut at ${length}`).rejects.toMatchObject({
        code: codes.CORRUPTION,
      });
      expectNothingLeft(parent);
    }
  });

  it('refuses a backup with any single bit flipped, or with bytes after its trailer, and leaves nothing behind', async () => {
    const db = await storeWith([['a', '1'], ['bb', '22'], ['ccc', '']]);
    const backup = await backupOf(db);
    await db.close();
    const parent = tempDir();
    const random = rng(11);
    for (let at = 0; at < backup.length; at++) {
      const damaged = Buffer.from(backup);
      damaged[at] ^= 1 << Math.floor(random() * 8);
      const result = restore(Readable.from([damaged]), path.join(parent, 'copy'));
      // A flipped version number is told apart from damage only when the header's checksum still matches, which it does not.
      await expect(result, `bit flipped at ${at}`).rejects.toMatchObject({ code: codes.CORRUPTION });
      expectNothingLeft(parent);
    }
    await expect(restore(Readable.from([backup, Buffer.from([0])]), path.join(parent, 'copy'))).rejects.toMatchObject({ code: codes.CORRUPTION });
    expectNothingLeft(parent);
  });

  it('refuses a non-empty target with KVCASK_EXISTS, touching nothing, and accepts an empty one', async () => {
    const db = await storeWith([['a', '1']]);
    const backup = await backupOf(db);
    await db.close();
    const parent = tempDir();
    const target = path.join(parent, 'copy');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'mine.txt'), 'keep me');
    await expect(restore(Readable.from([backup]), target)).rejects.toMatchObject({ code: codes.EXISTS });
    expect(fs.readdirSync(parent)).toEqual(['copy']);
    expect(fs.readdirSync(target)).toEqual(['mine.txt']);
    fs.rmSync(path.join(target, 'mine.txt'));
    await restore(Readable.from([backup]), target);
    const restored = await open(target);
    expect(restored.getSync('a')?.toString()).toBe('1');
    await restored.close();
  });

  it('stops with KVCASK_ABORTED when its signal is aborted, even while waiting for input, and leaves nothing behind', async () => {
    const db = await storeWith([['a', '1']]);
    const backup = await backupOf(db);
    await db.close();
    const parent = tempDir();
    // A stream that delivers half the backup and then waits forever.
    const stalled = new Readable({ read() {} });
    stalled.push(backup.subarray(0, 40));
    const controller = new AbortController();
    const result = restore(stalled, path.join(parent, 'copy'), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop')), 50);
    await expect(result).rejects.toMatchObject({ code: codes.ABORTED });
    expectNothingLeft(parent);
  });

  it('reports progress against the entry count in the header', async () => {
    const db = await storeWith(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 'v'] as [string, string]));
    const backup = await backupOf(db);
    await db.close();
    const seen: number[] = [];
    await restore(Readable.from([backup]), path.join(tempDir(), 'copy'), {
      onProgress: (p) => {
        expect(p.totalEntries).toBe(5000);
        seen.push(p.entries);
      },
    });
    expect(seen.at(-1)).toBe(5000);
    expect(seen.length).toBeGreaterThan(1);
  });

  it('throws a TypeError for arguments of the wrong type', async () => {
    await expect(restore('not a stream' as never, 'x')).rejects.toThrow(TypeError);
    await expect(restore(Readable.from([]), '' as never)).rejects.toThrow(TypeError);
    await expect(restore(Readable.from([]), 'x', { signal: 'no' as never })).rejects.toThrow(TypeError);
  });
});
