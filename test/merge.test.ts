import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type FileSystem, open, type Store } from '../lib/index.js';
import { nodeFileSystem } from '../lib/filesystem.js';
import { rng } from './support/random.js';
import { tempDir } from './support/temp-dir.js';

const SMALL = { maxFileSize: 4096, autoMerge: false } as const;

async function expectContents(db: Store, reference: Map<string, string>, keys: Iterable<string>): Promise<void> {
  for (const key of keys) expect(db.getSync(key)?.toString(), key).toBe(reference.get(key));
  const listed: string[] = [];
  for await (const [key, value] of db.range()) {
    listed.push(key.toString());
    expect(value.toString()).toBe(reference.get(key.toString()));
  }
  expect(listed.sort()).toEqual([...reference.keys()].sort());
}

describe('merge', () => {
  it('reclaims the bytes of overwritten records and keeps every live value', async () => {
    const dir = tempDir();
    const db = await open(dir, { ...SMALL, compression: 'none' });
    const reference = new Map<string, string>();
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 50; i++) {
        const value = `value-${round}-${i}-${'x'.repeat(40)}`;
        reference.set(`key-${i}`, value);
        await db.set(`key-${i}`, value);
      }
    }
    const before = db.stats();
    expect(before.deadBytes).toBeGreaterThan(before.liveBytes * 10);
    const result = await db.compact();
    const after = db.stats();
    expect(result.filesMerged).toBeGreaterThan(1);
    expect(after.diskBytes).toBeLessThan(before.diskBytes / 5);
    expect(after.files.filter((file) => file.sealed).every((file) => file.deadBytes === 0)).toBe(true);
    await expectContents(db, reference, reference.keys());
    await db.close();
    // The merged data files are gone; at most the new active file remains (created only by a write).
    expect(readdirSync(dir).filter((name) => name.endsWith('.data')).length).toBeLessThanOrEqual(1);
    const reopened = await open(dir, SMALL);
    await expectContents(reopened, reference, reference.keys());
    await reopened.close();
  });

  it('never brings back a deleted key across random writes, merges and restarts', async () => {
    const dir = tempDir();
    const random = rng(11);
    const reference = new Map<string, string>();
    const universe = Array.from({ length: 120 }, (_, i) => `k${i}`);
    let db = await open(dir, { maxFileSize: 2048, mergeSmallFile: 4096, mergeTriggerRatio: 0.3, mergeIncludeRatio: 0.2 });
    for (let step = 0; step < 3000; step++) {
      const key = universe[Math.floor(random() * universe.length)];
      const dice = random();
      if (dice < 0.3) {
        reference.delete(key);
        await db.delete(key);
      } else if (dice < 0.35) {
        const other = universe[Math.floor(random() * universe.length)];
        reference.set(key, `b${step}`);
        reference.delete(other);
        if (other === key) reference.delete(key);
        await db.batch([
          { type: 'put', key, value: `b${step}` },
          { type: 'del', key: other },
        ]);
      } else {
        reference.set(key, `v${step}`);
        await db.set(key, `v${step}`);
      }
      if (step % 500 === 250) await db.compact();
      if (step % 700 === 699) {
        await db.close();
        db = await open(dir, { maxFileSize: 2048 });
        await expectContents(db, reference, universe);
      }
    }
    await db.compact();
    await expectContents(db, reference, universe);
    await db.close();
    db = await open(dir, { maxFileSize: 2048, autoMerge: false });
    await expectContents(db, reference, universe);
    expect(db.stats().merges.lastError).toBe(null);
    await db.close();
  });

  it('serves reads and a range started before it with correct values while it runs', async () => {
    const dir = tempDir();
    const db = await open(dir, { ...SMALL, mergeRateLimit: 200_000 });
    const reference = new Map<string, string>();
    for (let i = 0; i < 400; i++) {
      reference.set(`key-${String(i).padStart(4, '0')}`, `first-${i}`);
      await db.set(`key-${String(i).padStart(4, '0')}`, `first-${i}`);
    }
    const asOfRange = new Map(reference);
    const range = db.range();
    const firstEntry = await range.next();
    const merging = db.compact();
    let reads = 0;
    let done = false;
    void merging.finally(() => {
      done = true;
    });
    while (!done) {
      const i = reads % 400;
      const key = `key-${String(i).padStart(4, '0')}`;
      if (reads % 3 === 0) {
        reference.set(key, `second-${reads}`);
        await db.set(key, `second-${reads}`);
      }
      expect(db.getSync(key)?.toString()).toBe(reference.get(key));
      expect((await db.get(key))?.toString()).toBe(reference.get(key));
      reads++;
    }
    await merging;
    expect(reads).toBeGreaterThan(10);
    const seen: [string, string][] = [[firstEntry.value[0].toString(), firstEntry.value[1].toString()]];
    for await (const [key, value] of range) seen.push([key.toString(), value.toString()]);
    expect(seen).toEqual([...asOfRange.entries()]);
    await expectContents(db, reference, reference.keys());
    await db.close();
  });

  it('reads back exactly what was written, compressed or not, for every kind of value', async () => {
    const random = rng(5);
    const values = new Map<string, Buffer>();
    values.set('empty', Buffer.alloc(0));
    values.set('larger-than-a-block', Buffer.from(JSON.stringify(Array.from({ length: 4000 }, (_, i) => ({ id: i, name: `user ${i}` })))));
    values.set('random-large', Buffer.from(Array.from({ length: 100_000 }, () => Math.floor(random() * 256))));
    for (let i = 0; i < 300; i++) {
      values.set(`json-${i}`, Buffer.from(JSON.stringify({ id: i, email: `user${i}@example.com`, active: i % 2 === 0 })));
      values.set(`random-${i}`, Buffer.from(Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256))));
    }
    const sizes: Record<string, number> = {};
    for (const compression of ['lz4', 'none'] as const) {
      const dir = tempDir();
      let db = await open(dir, { sync: 'none', maxFileSize: 64 * 1024, maxValueSize: 1 << 20, autoMerge: false, compression, blockCacheSize: 64 * 1024 });
      for (const [key, value] of values) await db.set(key, value);
      await db.compact();
      for (const [key, value] of values) expect(db.getSync(key), key).toEqual(value);
      sizes[compression] = db.stats().diskBytes;
      expect(db.stats().files.filter((file) => file.segment).length).toBeGreaterThan(1);
      await db.close();
      db = await open(dir, { maxValueSize: 1 << 20, autoMerge: false, blockCacheSize: 0 });
      for (const [key, value] of values) expect(await db.get(key), key).toEqual(value);
      expect(await db.getMany([...values.keys()])).toEqual([...values.values()]);
      await db.close();
    }
    expect(sizes.lz4).toBeLessThan(sizes.none);
  });

  it('compresses sealed files in the background and reports compressed and raw bytes', async () => {
    const dir = tempDir();
    const db = await open(dir, { maxFileSize: 16 * 1024 });
    for (let i = 0; i < 2000; i++) await db.set(`user:${i}`, JSON.stringify({ id: i, name: `User number ${i}`, tags: ['a', 'b'], active: true }));
    for (let tries = 0; tries < 200 && db.stats().files.some((file) => file.sealed && !file.segment); tries++) await new Promise((r) => setTimeout(r, 20));
    const stats = db.stats();
    expect(stats.files.filter((file) => file.sealed).every((file) => file.segment)).toBe(true);
    expect(stats.merges.completed).toBeGreaterThan(0);
    const sealed = stats.files.filter((file) => file.sealed);
    const stored = sealed.reduce((sum, file) => sum + file.bytes, 0);
    const raw = sealed.reduce((sum, file) => sum + file.rawBytes, 0);
    expect(stored).toBeLessThan(raw * 0.7);
    for (let i = 0; i < 2000; i++) expect(JSON.parse(db.getSync(`user:${i}`)!.toString()).id).toBe(i);
    await db.close();
  });

  it('answers a read from a damaged compressed block with KVCASK_CORRUPTION naming the segment, never a wrong value', async () => {
    const dir = tempDir();
    let db = await open(dir, SMALL);
    const value = (i: number) => JSON.stringify({ id: i, text: 'the same words again and again '.repeat(3) });
    for (let i = 0; i < 200; i++) await db.set(`k${i}`, value(i));
    await db.compact();
    await db.close();
    const segments = readdirSync(dir).filter((name) => name.endsWith('.kvs'));
    expect(segments.length).toBeGreaterThan(0);
    const path = join(dir, segments[0]);
    const bytes = readFileSync(path);
    bytes[40] ^= 0x55; // inside the first block
    writeFileSync(path, bytes);
    db = await open(dir, { ...SMALL, blockCacheSize: 0 });
    let failures = 0;
    for (let i = 0; i < 200; i++) {
      try {
        const got = db.getSync(`k${i}`);
        expect(got?.toString()).toBe(value(i));
      } catch (err) {
        expect(err).toMatchObject({ code: 'KVCASK_CORRUPTION', file: path });
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(0);
    await db.close();
  });

  it('opens to the same contents after a crash at any step of a merge', async () => {
    const dir = tempDir();
    const reference = new Map<string, string>();
    let db = await open(dir, SMALL);
    for (let i = 0; i < 300; i++) {
      const key = `k${i % 100}`;
      if (i % 7 === 3) {
        reference.delete(key);
        await db.delete(key);
      } else {
        reference.set(key, `v${i}`);
        await db.set(key, `v${i}`);
      }
    }
    await db.close();
    // Each trial copies the directory as it is just before the Nth file operation of a
    // compaction: what a process killed at that moment leaves behind.
    let step = 0;
    let reached = true;
    const copies: string[] = [];
    for (let target = 1; reached; target++) {
      reached = false;
      let count = 0;
      let armed = false;
      const copyAt = (): void => {
        if (!armed || ++count !== target) return;
        reached = true;
        const copy = mkdtempSync(join(tmpdir(), 'kvcask-test-crash-'));
        cpSync(dir, copy, { recursive: true, filter: (source) => !source.endsWith('LOCK') });
        copies.push(copy);
      };
      const spy = spyingFileSystem(copyAt);
      const source = mkdtempSync(join(tmpdir(), 'kvcask-test-src-'));
      copies.push(source);
      cpSync(dir, source, { recursive: true });
      const store = await open(source, { ...SMALL, fileSystem: spy });
      armed = true;
      await store.compact();
      armed = false;
      await store.close();
      step = target;
    }
    expect(step).toBeGreaterThan(10);
    try {
      for (const copy of copies) {
        const crashed = await open(copy, SMALL);
        await expectContents(crashed, reference, Array.from({ length: 100 }, (_, i) => `k${i}`));
        await crashed.close();
        expect(readdirSync(copy).some((name) => name.includes('.merging') || name === 'MERGE')).toBe(false);
      }
    } finally {
      for (const copy of copies) rmSync(copy, { recursive: true, force: true });
    }
  });
});

/** node:fs, calling `before` ahead of every operation that changes the directory or a file. */
function spyingFileSystem(before: () => void): FileSystem {
  const mutating = new Set(['write', 'datasync', 'truncate', 'rename', 'link', 'unlink', 'syncDir', 'open', 'mkdir', 'rmdir']);
  const spy: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(nodeFileSystem)) {
    spy[name] = mutating.has(name)
      ? (...args: unknown[]) => {
          before();
          return (fn as (...a: unknown[]) => unknown)(...args);
        }
      : fn;
  }
  return spy as unknown as FileSystem;
}
