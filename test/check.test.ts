import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { check, codes, open } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

/** A store of several sealed files (with hints) and an active one. */
async function storeOnDisk(): Promise<string> {
  const dir = tempDir();
  const db = await open(dir, { sync: 'none', maxFileSize: 4096, autoMerge: false });
  for (let i = 0; i < 300; i++) await db.set(`key${i}`, `value-${i}-${'x'.repeat(i % 50)}`);
  await db.close();
  return dir;
}

function flipByte(file: string, offset: number): void {
  const bytes = fs.readFileSync(file);
  bytes[offset] ^= 0x40;
  fs.writeFileSync(file, bytes);
}

describe('check', () => {
  it('reports a clean store as ok, counting its files and every record', async () => {
    const dir = await storeOnDisk();
    const progress: number[] = [];
    const report = await check(dir, { onProgress: (p) => progress.push(p.bytes / p.totalBytes) });
    const names = fs.readdirSync(dir);
    expect(report).toMatchObject({
      dir,
      ok: true,
      damaged: [],
      records: 300,
      dataFiles: names.filter((n) => n.endsWith('.data')).length,
      hintFiles: names.filter((n) => n.endsWith('.hint')).length,
    });
    expect(report.hintFiles).toBeGreaterThan(1);
    expect(progress.at(-1)).toBe(1);
    // Read-only: the directory holds what it held before, and the lock is released.
    expect(fs.readdirSync(dir)).toEqual(names);
    await (await open(dir)).close();
  });

  it('finds a flipped byte in a record of a sealed data file, naming the file and the offset of the damaged frame', async () => {
    const dir = await storeOnDisk();
    const file = path.join(dir, '00001000.data');
    // Inside the second frame (each set is its own frame here): file header 16, frame header 16, then records.
    const frames = fs.readFileSync(file);
    const secondFrame = frames.indexOf('KVFR', 17, 'latin1');
    flipByte(file, secondFrame + 40);
    const report = await check(dir);
    expect(report.ok).toBe(false);
    expect(report.damaged).toEqual([{ file, offset: secondFrame, length: expect.any(Number), kind: 'frame' }]);
    expect(report.records).toBe(299);
  });

  it('finds a damaged hint file and a damaged data file header', async () => {
    const dir = await storeOnDisk();
    flipByte(path.join(dir, '00002000.hint'), 30);
    flipByte(path.join(dir, '00003000.data'), 9);
    const report = await check(dir);
    expect(report.damaged).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: path.join(dir, '00002000.hint'), offset: 0, kind: 'hint' }),
        expect.objectContaining({ file: path.join(dir, '00003000.data'), offset: 0, length: 16, kind: 'header' }),
      ]),
    );
  });

  it('reports a torn tail of the newest file', async () => {
    const dir = await storeOnDisk();
    const newest = fs.readdirSync(dir).filter((n) => n.endsWith('.data')).sort().at(-1)!;
    const size = fs.statSync(path.join(dir, newest)).size;
    fs.appendFileSync(path.join(dir, newest), Buffer.from('KVFR torn'));
    expect((await check(dir)).damaged).toEqual([{ file: path.join(dir, newest), offset: size, length: 9, kind: 'tail' }]);
  });

  it('refuses a store that is open, with KVCASK_LOCKED', async () => {
    const dir = await storeOnDisk();
    const db = await open(dir);
    await expect(check(dir)).rejects.toMatchObject({ code: codes.LOCKED });
    await db.close();
  });

  it('stops with KVCASK_ABORTED when its signal is aborted, and releases the lock', async () => {
    const dir = await storeOnDisk();
    const controller = new AbortController();
    const result = check(dir, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(result).rejects.toMatchObject({ code: codes.ABORTED });
    await (await open(dir)).close();
  });

  it('fails with KVCASK_IO for a directory that does not exist', async () => {
    await expect(check(path.join(tempDir(), 'none'))).rejects.toMatchObject({ code: codes.IO });
  });
});

describe('check of a store with index: disk', () => {
  /** A store with index: 'disk' whose sealed data files and compressed segments each have a .kvx. */
  async function diskIndexStore(): Promise<string> {
    const dir = tempDir();
    const db = await open(dir, { sync: 'none', maxFileSize: 4096, autoMerge: false, index: 'disk' });
    for (let i = 0; i < 300; i++) await db.set(`key${i}`, `value-${i}-${'x'.repeat(i % 50)}`);
    for (let i = 0; i < 300; i += 3) await db.delete(`key${i}`);
    // Half the files become compressed segments; the rest stay data files.
    await db.compact();
    for (let i = 0; i < 200; i++) await db.set(`key${i}`, `again-${i}`);
    await db.close();
    return dir;
  }

  const indexFiles = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.kvx')).sort();

  it('checks every index file of a clean store and finds it clean', async () => {
    const dir = await diskIndexStore();
    const names = fs.readdirSync(dir);
    expect(names.some((n) => n.endsWith('.kvs'))).toBe(true);
    expect(names.some((n) => n.endsWith('.data'))).toBe(true);
    const report = await check(dir);
    expect(report).toMatchObject({ ok: true, damaged: [], indexFiles: indexFiles(dir).length });
    expect(report.indexFiles).toBeGreaterThan(1);
    expect(fs.readdirSync(dir)).toEqual(names);
  });

  it('reports an index page that fails its checksum, naming the .kvx file and the page', async () => {
    const dir = await diskIndexStore();
    const file = path.join(dir, indexFiles(dir)[0]);
    // The header takes the first 4 KiB page; the first index page follows.
    flipByte(file, 4096 + 40);
    const report = await check(dir);
    expect(report.ok).toBe(false);
    expect(report.damaged).toEqual([{ file, offset: 4096, length: 4096, kind: 'index-page' }]);
  });

  it('reports an index file whose header is damaged as a whole', async () => {
    const dir = await diskIndexStore();
    const file = path.join(dir, indexFiles(dir).at(-1)!);
    flipByte(file, 17);
    expect((await check(dir)).damaged).toEqual([{ file, offset: expect.any(Number), length: fs.statSync(file).size, kind: 'index-file' }]);
  });

  it('reports an index page whose entries point at records of other keys, though its checksum holds', async () => {
    const dir = await diskIndexStore();
    const name = indexFiles(dir)[0];
    const file = path.join(dir, name);
    // A well-formed index of the same file in which two keys swap places.
    const id = Number(name.slice(0, 8));
    const { IndexFile, PAGE_SLOT_BYTES, writeIndexFile } = await import('../lib/index-file.js');
    const { PageCache } = await import('../lib/page-cache.js');
    const { nodeFileSystem } = await import('../lib/filesystem.js');
    const header = fs.readFileSync(file);
    const dataLength = header.readUInt32LE(12);
    const index = await IndexFile.open(nodeFileSystem, file, id, dataLength, new PageCache(0, PAGE_SLOT_BYTES));
    const entries = Array.from({ length: index.count }, (_, i) => index.entryAt(i));
    await index.close();
    expect(entries.length).toBeGreaterThan(2);
    [entries[0].offset, entries[1].offset] = [entries[1].offset, entries[0].offset];
    [entries[0].valueLength, entries[1].valueLength] = [entries[1].valueLength, entries[0].valueLength];
    await writeIndexFile(nodeFileSystem, dir, id, dataLength, entries);
    const report = await check(dir);
    expect(report.damaged).toEqual([{ file, offset: 4096, length: 4096, kind: 'index-entry' }]);
  });
});
