import { cpSync, openSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { codes, open } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

const FIRST_DATA = '00001000.data';

/** A closed store whose first data file ends with one frame written by `last`; returns the file size before that frame. */
async function storeEndingWith(last: (db: Awaited<ReturnType<typeof open>>) => Promise<void>) {
  const dir = tempDir();
  const db = await open(dir);
  for (let i = 0; i < 20; i++) await db.set(`synced-${i}`, `value-${i}`);
  const before = statSync(`${dir}/${FIRST_DATA}`).size;
  await last(db);
  await db.close();
  return { dir, before, after: statSync(`${dir}/${FIRST_DATA}`).size };
}

async function expectSyncedOnly(dir: string, lastKeys: string[]) {
  const db = await open(dir);
  for (let i = 0; i < 20; i++) expect(db.getSync(`synced-${i}`)?.toString()).toBe(`value-${i}`);
  for (const key of lastKeys) expect(db.getSync(key)).toBeUndefined();
  const recovery = db.stats().recovery;
  await db.close();
  return recovery;
}

/** A closed store of three one-record frames, the middle one ('damaged') with a flipped bit. */
async function storeWithDamagedMiddleFrame() {
  const dir = tempDir();
  const db = await open(dir);
  await db.set('before', '1');
  const damagedAt = statSync(`${dir}/${FIRST_DATA}`).size;
  await db.set('damaged', '2');
  await db.set('after', '3');
  await db.close();
  const bytes = readFileSync(`${dir}/${FIRST_DATA}`);
  bytes[damagedAt + 30] ^= 0x01; // inside the record of 'damaged'
  writeFileSync(`${dir}/${FIRST_DATA}`, bytes);
  return { dir, damagedAt };
}

/** A closed store of 60 keys in files of 2 KiB: file 1 is sealed and has a hint. */
async function storeWithSealedFiles() {
  const dir = tempDir();
  const db = await open(dir, { maxFileSize: 2048, autoMerge: false });
  for (let i = 0; i < 60; i++) await db.set(`k${i}`, `v${i}`.repeat(10));
  return { dir, db, data: `${dir}/${FIRST_DATA}` };
}

describe('recovery', () => {
  it('truncates a torn last record at every byte offset and keeps every synced one', async () => {
    const { dir, before, after } = await storeEndingWith((db) => db.set('torn', 'x'.repeat(40)));
    for (let cut = before; cut < after; cut++) {
      const copy = tempDir();
      cpSync(dir, copy, { recursive: true });
      truncateSync(`${copy}/${FIRST_DATA}`, cut);
      const recovery = await expectSyncedOnly(copy, ['torn']);
      expect(recovery.truncatedBytes).toBe(cut - before);
      expect(recovery.skippedBytes).toBe(0);
      expect(statSync(`${copy}/${FIRST_DATA}`).size).toBe(before);
    }
  });

  it('drops a torn batch whole, whatever byte it was cut at', async () => {
    const batch = Array.from({ length: 5 }, (_, i) => ({ type: 'put' as const, key: `batch-${i}`, value: `b${i}` }));
    const { dir, before, after } = await storeEndingWith((db) => db.batch(batch));
    for (let cut = before + 1; cut < after; cut++) {
      const copy = tempDir();
      cpSync(dir, copy, { recursive: true });
      truncateSync(`${copy}/${FIRST_DATA}`, cut);
      await expectSyncedOnly(copy, batch.map((op) => op.key));
    }
  });

  it('cuts zeros and garbage left after the last synced frame', async () => {
    for (const fill of [Buffer.alloc(3000), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) & 0xff))]) {
      const { dir, after } = await storeEndingWith(async () => {});
      const fd = openSync(`${dir}/${FIRST_DATA}`, 'r+');
      writeSync(fd, fill, 0, fill.length, after);
      closeSync(fd);
      const recovery = await expectSyncedOnly(dir, []);
      expect(recovery.truncatedBytes).toBe(fill.length);
    }
  });

  it('skips a damaged frame in the middle, keeps the frames after it and reports where', async () => {
    const { dir, damagedAt } = await storeWithDamagedMiddleFrame();
    const db = await open(dir);
    expect(db.getSync('before')?.toString()).toBe('1');
    expect(db.getSync('damaged')).toBeUndefined();
    expect(db.getSync('after')?.toString()).toBe('3');
    const { recovery } = db.stats();
    expect(recovery.damaged).toEqual([{ file: `${dir}/${FIRST_DATA}`, offset: damagedAt, length: expect.any(Number) }]);
    expect(recovery.truncatedBytes).toBe(0);
    await db.close();
  });

  it('refuses to open over mid-file damage in strict mode, naming file and offset', async () => {
    const { dir, damagedAt } = await storeWithDamagedMiddleFrame();
    await expect(open(dir, { strict: true })).rejects.toMatchObject({ code: codes.CORRUPTION, file: `${dir}/${FIRST_DATA}`, offset: damagedAt });
    // The refused open released the directory.
    const db = await open(dir);
    await db.close();
  });

  it('answers a read of a record damaged after open with KVCASK_CORRUPTION, never a wrong value', async () => {
    const dir = tempDir();
    const db = await open(dir);
    await db.set('k', 'precious');
    const bytes = readFileSync(`${dir}/${FIRST_DATA}`);
    const at = bytes.indexOf('precious');
    const fd = openSync(`${dir}/${FIRST_DATA}`, 'r+');
    writeSync(fd, Buffer.from('PRECIOUS'), 0, 8, at);
    closeSync(fd);
    expect(() => db.getSync('k')).toThrow(expect.objectContaining({ code: codes.CORRUPTION, file: `${dir}/${FIRST_DATA}` }));
    await expect(db.get('k')).rejects.toMatchObject({ code: codes.CORRUPTION });
    await expect(db.getMany(['k'])).rejects.toMatchObject({ code: codes.CORRUPTION });
    await db.close();
  });

  it('falls back to the data file when a hint file is corrupted, and rewrites the hint', async () => {
    const sealed = await storeWithSealedFiles();
    const { dir } = sealed;
    let { db } = sealed;
    await db.delete('k3');
    await db.close();
    const hint = `${dir}/00001000.hint`;
    const bytes = readFileSync(hint);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(hint, bytes);
    db = await open(dir, { maxFileSize: 2048, autoMerge: false });
    expect(db.stats().recovery.scannedFiles).toBe(2);
    for (let i = 0; i < 60; i++) expect(db.getSync(`k${i}`)?.toString()).toBe(i === 3 ? undefined : `v${i}`.repeat(10));
    await db.close();
    expect(readFileSync(hint)).not.toEqual(bytes);
    db = await open(dir, { maxFileSize: 2048, autoMerge: false });
    expect(db.stats().recovery.scannedFiles).toBe(1);
    await db.close();
  });

  it('ignores a hint file that describes a different length of its data file', async () => {
    const sealed = await storeWithSealedFiles();
    const { dir, data } = sealed;
    await sealed.db.close();
    truncateSync(data, statSync(data).size - 1);
    const db = await open(dir, { maxFileSize: 2048, autoMerge: false });
    expect(db.stats().recovery.scannedFiles).toBe(2);
    expect(db.stats().recovery.damaged.length).toBe(1);
    await db.close();
  });

  it('reports a sealed data file cut short exactly at a frame boundary as damage, from the length its hint records', async () => {
    const sealed = await storeWithSealedFiles();
    const { dir, data } = sealed;
    await sealed.db.close();
    const size = statSync(data).size;
    const bytes = readFileSync(data);
    const lastFrame = bytes.lastIndexOf('KVFR');
    truncateSync(data, lastFrame);
    const db = await open(dir, { maxFileSize: 2048, autoMerge: false });
    expect(db.stats().recovery.damaged).toEqual([{ file: data, offset: lastFrame, length: size - lastFrame }]);
    await db.close();
    await expect(open(dir, { maxFileSize: 2048, autoMerge: false, strict: true })).rejects.toMatchObject({ code: codes.CORRUPTION, file: data, offset: lastFrame });
  });

  it('reports a damaged hint as damage, since a cut at a frame boundary of its data file would otherwise go unseen', async () => {
    const sealed = await storeWithSealedFiles();
    const { dir, data } = sealed;
    await sealed.db.close();
    const hint = `${dir}/00001000.hint`;
    const hintSize = statSync(hint).size;
    writeFileSync(hint, Buffer.alloc(hintSize));
    const bytes = readFileSync(data);
    const lastFrame = bytes.lastIndexOf('KVFR');
    const lostKey = bytes.subarray(lastFrame + 36, lastFrame + 36 + bytes.readUInt16LE(lastFrame + 30)).toString();
    expect(lostKey).toMatch(/^k\d+$/);
    truncateSync(data, lastFrame);
    await expect(open(dir, { maxFileSize: 2048, autoMerge: false, strict: true })).rejects.toMatchObject({ code: codes.CORRUPTION, file: hint, offset: 0 });
    let db = await open(dir, { maxFileSize: 2048, autoMerge: false });
    expect(db.getSync(lostKey)).toBeUndefined();
    expect(db.stats().recovery.damaged).toEqual([{ file: hint, offset: 0, length: hintSize }]);
    expect(db.stats().recovery.skippedBytes).toBe(0);
    await db.close();
    // Reported once: the hint written anew describes the file as it is now.
    db = await open(dir, { maxFileSize: 2048, autoMerge: false });
    expect(db.stats().recovery.damaged).toEqual([]);
    expect(db.stats().recovery.scannedFiles).toBe(1);
    await db.close();
  });

  it("with index: 'disk', reports a damaged header and a torn tail of a sealed data file whose index it rebuilds, and keeps every key", async () => {
    const dir = tempDir();
    const options = { index: 'disk', maxFileSize: 2048, autoMerge: false } as const;
    let db = await open(dir, options);
    for (let i = 0; i < 60; i++) await db.set(`k${i}`, `v${i}`.repeat(10));
    await db.close();
    const data = `${dir}/${FIRST_DATA}`;
    const size = statSync(data).size;
    truncateSync(`${dir}/00001000.kvx`, 0);
    const bytes = readFileSync(data);
    bytes[12] ^= 0x01; // the header's checksum
    writeFileSync(data, Buffer.concat([bytes, Buffer.alloc(40, 0xee)]));
    await expect(open(dir, { ...options, strict: true })).rejects.toMatchObject({ code: codes.CORRUPTION, file: data, offset: 0 });
    db = await open(dir, options);
    const { damaged, rebuiltIndexes } = db.stats().recovery;
    expect(damaged.filter((range) => range.file === data)).toEqual([
      { file: data, offset: 0, length: 16 },
      { file: data, offset: size, length: 40 },
    ]);
    expect(rebuiltIndexes).toBe(1);
    for (let i = 0; i < 60; i++) expect(db.getSync(`k${i}`)?.toString()).toBe(`v${i}`.repeat(10));
    await db.close();
  });

  it('restarts a newest file that was created but never written before a crash', async () => {
    const dir = tempDir();
    let db = await open(dir);
    await db.set('k', 'v');
    await db.close();
    writeFileSync(`${dir}/00002000.data`, Buffer.alloc(5));
    db = await open(dir);
    expect(db.getSync('k')?.toString()).toBe('v');
    await db.set('k2', 'v2');
    await db.close();
    db = await open(dir);
    expect(db.getSync('k2')?.toString()).toBe('v2');
    await db.close();
  });
});
