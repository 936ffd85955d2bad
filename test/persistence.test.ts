import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';
import { rng } from './support/random.js';
import { tempDir } from './support/temp-dir.js';

describe('persistence', () => {
  it('keeps every value and every delete across close and open', async () => {
    const dir = tempDir();
    const random = rng(7);
    const reference = new Map<string, string>();
    let db = await open(dir, { maxFileSize: 4096 });
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 2000; i++) {
      const key = `key-${Math.floor(random() * 300)}`;
      if (random() < 0.2) {
        writes.push(db.delete(key));
        reference.delete(key);
      } else {
        const value = `value-${i}`;
        writes.push(db.set(key, value));
        reference.set(key, value);
      }
    }
    await Promise.all(writes);
    await db.close();
    db = await open(dir, { maxFileSize: 4096 });
    expect(db.stats().keys).toBe(reference.size);
    for (let i = 0; i < 300; i++) expect(db.getSync(`key-${i}`)?.toString()).toBe(reference.get(`key-${i}`));
    await db.close();
  });

  it('keeps tombstones across a restart even when the value sits in an older file', async () => {
    const dir = tempDir();
    let db = await open(dir, { maxFileSize: 1024 });
    await db.set('doomed', 'x'.repeat(100));
    for (let i = 0; i < 40; i++) await db.set(`filler-${i}`, 'y'.repeat(100));
    await db.delete('doomed');
    await db.close();
    db = await open(dir, { maxFileSize: 1024 });
    expect(db.stats().files.length).toBeGreaterThan(3);
    expect(db.getSync('doomed')).toBeUndefined();
    await db.close();
  });

  it('rotates data files at maxFileSize and writes a hint file for each sealed one', async () => {
    const dir = tempDir();
    let db = await open(dir, { maxFileSize: 2048, autoMerge: false });
    for (let i = 0; i < 100; i++) await db.set(`k${i}`, 'v'.repeat(50));
    await db.close();
    const names = readdirSync(dir);
    const data = names.filter((n) => n.endsWith('.data')).sort();
    expect(data.length).toBeGreaterThan(3);
    for (const name of data.slice(0, -1)) expect(existsSync(`${dir}/${name.replace('.data', '.hint')}`)).toBe(true);
    db = await open(dir, { maxFileSize: 2048, autoMerge: false });
    expect(db.stats().recovery.scannedFiles).toBe(1);
    for (let i = 0; i < 100; i++) expect(db.getSync(`k${i}`)?.toString()).toBe('v'.repeat(50));
    for (const file of db.stats().files) expect(file.bytes).toBeLessThanOrEqual(2048);
    await db.close();
  });

  it('continues the sequence after a restart instead of reusing numbers', async () => {
    const dir = tempDir();
    let db = await open(dir);
    await db.set('a', '1');
    await db.set('b', '2');
    const seq = db.stats().seq;
    await db.close();
    db = await open(dir);
    expect(db.stats().seq).toBe(seq);
    await db.set('c', '3');
    expect(db.stats().seq).toBe(seq + 1);
    await db.close();
  });

  it('reports live and dead bytes per file as values are overwritten', async () => {
    const db = await open(tempDir());
    await db.set('k', 'x'.repeat(100));
    const first = db.stats();
    expect(first.deadBytes).toBe(16); // the frame header of the one group written
    await db.set('k', 'y'.repeat(100));
    const second = db.stats();
    expect(second.liveBytes).toBe(first.liveBytes);
    expect(second.deadBytes).toBe(first.liveBytes + 32);
    await db.close();
  });
});
