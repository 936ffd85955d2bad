import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { KeyHashes } from '../lib/bloom.js';
import { PageCache } from '../lib/page-cache.js';
import { codes, KvcaskError } from '../lib/errors.js';
import { nodeFileSystem } from '../lib/filesystem.js';
import { INDEX_VERSION, IndexFile, type IndexEntry, PAGE_SLOT_BYTES, writeIndexFile } from '../lib/index-file.js';
import { prefixOf } from '../lib/key-order.js';
import { indexFileName, parseFileName, parseIndexFileName } from '../lib/segment.js';
import { randomBytes, rng } from './support/random.js';
import { tempDir } from './support/temp-dir.js';

const DATA_LENGTH = 0xffffffff;
const FILE_ID = 7001;

function randomEntries(seed: number, count: number, keyLength: () => number = () => 0): IndexEntry[] {
  const random = rng(seed);
  const seen = new Set<string>();
  const entries: IndexEntry[] = [];
  while (entries.length < count) {
    const key = randomBytes(random, keyLength() || 1 + Math.floor(random() * 300), random() < 0.5 ? [0, 1, 0xff, 0x61] : undefined);
    if (seen.has(key.toString('hex'))) continue;
    seen.add(key.toString('hex'));
    const valueLength = Math.floor(random() * 1_000_000);
    const largestOffset = DATA_LENGTH - (20 + key.length + valueLength);
    entries.push({
      key,
      offset: 16 + Math.floor(random() * (largestOffset - 16)),
      valueLength,
      tombstone: random() < 0.2,
      seq: Math.floor(random() * Number.MAX_SAFE_INTEGER),
    });
  }
  return entries;
}

async function build(entries: IndexEntry[], cache = new PageCache(1 << 20, PAGE_SLOT_BYTES)): Promise<{ index: IndexFile; path: string; dir: string }> {
  const dir = tempDir();
  await writeIndexFile(nodeFileSystem, dir, FILE_ID, DATA_LENGTH, entries);
  const path = `${dir}/${indexFileName(FILE_ID)}`;
  return { index: await IndexFile.open(nodeFileSystem, path, FILE_ID, DATA_LENGTH, cache), path, dir };
}

/** An entry as one string, so that comparing 50,000 of them stays fast. */
const describeEntry = (entry: IndexEntry | null) =>
  entry && `${entry.key.toString('hex')} ${entry.offset} ${entry.valueLength} ${entry.tombstone} ${entry.seq}`;

const sortedCopy = (entries: IndexEntry[]) => entries.slice().sort((a, b) => Buffer.compare(a.key, b.key));

/** How many reference keys sort before `probe` (or at or before it when exclusive). */
function referenceSeek(sorted: IndexEntry[], probe: Buffer, exclusive: boolean): number {
  let count = 0;
  for (const { key } of sorted) if (Buffer.compare(key, probe) < 0 || (exclusive && key.equals(probe))) count++;
  return count;
}

async function rejection(promise: Promise<unknown>): Promise<KvcaskError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KvcaskError);
  return err as KvcaskError;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return null;
}

describe('index file', () => {
  it('finds every key and no absent key, and walks in key order, for 0 to 50,000 random entries', async () => {
    for (const [seed, count] of [
      [1, 0],
      [2, 1],
      [3, 9],
      [4, 2_000],
      [5, 50_000],
    ]) {
      const entries = randomEntries(seed, count);
      const { index } = await build(entries);
      expect(index.count).toBe(count);
      expect(entries.filter((entry) => !index.mayContainHashes(new KeyHashes().of(entry.key)))).toEqual([]);
      expect(entries.map((entry) => describeEntry(index.findSync(entry.key)))).toEqual(entries.map(describeEntry));
      const present = new Set(entries.map((entry) => entry.key.toString('hex')));
      const absent = randomEntries(seed + 100, 2_000).filter((probe) => !present.has(probe.key.toString('hex')));
      expect(absent.map((probe) => index.findSync(probe.key))).toEqual(absent.map(() => null));
      const walked = Array.from({ length: index.count }, (_, position) => describeEntry(index.entryAt(position)));
      expect(walked).toEqual(sortedCopy(entries).map(describeEntry));
      expect(index.seek(Buffer.alloc(0), false)).toBe(0);
      await index.close();
    }
  });

  it('seeks inclusively and exclusively at every key, between keys and past both ends', async () => {
    const entries = randomEntries(6, 1_500);
    const sorted = sortedCopy(entries);
    const { index } = await build(entries);
    const probes: Buffer[] = [Buffer.alloc(0), Buffer.alloc(301, 0xff)];
    for (const { key } of sorted) probes.push(key, Buffer.concat([key, Buffer.from([0])]), key.subarray(0, key.length - 1));
    for (const probe of probes) {
      expect(index.seek(probe, false)).toBe(referenceSeek(sorted, probe, false));
      expect(index.seek(probe, true)).toBe(referenceSeek(sorted, probe, true));
    }
    sorted.forEach((entry, position) => {
      expect(index.seek(entry.key, false)).toBe(position);
      expect(index.seek(entry.key, true)).toBe(position + 1);
    });
    await index.close();
  });

  it('has no entries when written empty', async () => {
    const { index } = await build([]);
    expect(index.count).toBe(0);
    expect(index.findSync(Buffer.from('a'))).toBeNull();
    expect(index.seek(Buffer.from('a'), false)).toBe(0);
    expect(index.seek(Buffer.from('a'), true)).toBe(0);
    expect(() => index.entryAt(0)).toThrow(RangeError);
    await index.close();
  });

  it('finds, walks and seeks keys longer than a page, up to 65,535 bytes, among short ones', async () => {
    const lengths = [65_535, 4_063, 4_064, 5_000, 3, 40_000, 1];
    const entries = randomEntries(7, 200, () => (lengths.length > 0 ? lengths.pop()! : 10));
    const sorted = sortedCopy(entries);
    const { index } = await build(entries);
    for (const entry of entries) expect(index.findSync(entry.key)).toEqual(entry);
    expect(Array.from({ length: index.count }, (_, position) => index.entryAt(position))).toEqual(sorted);
    for (const { key } of sorted.filter((entry) => entry.key.length > 4_000)) {
      const after = Buffer.concat([key, Buffer.from([0])]);
      expect(index.seek(after, false)).toBe(referenceSeek(sorted, after, false));
      expect(index.seek(key, true)).toBe(referenceSeek(sorted, key, true));
    }
    await index.close();
  });

  it('returns locations without allocating a result through findInto', async () => {
    const entries = randomEntries(8, 500);
    const { index } = await build(entries);
    const out = { offset: -1, valueLength: -1, tombstone: false, seq: -1 };
    const hashes = new KeyHashes();
    for (const { key, offset, valueLength, tombstone, seq } of entries) {
      expect(index.findInto(key, prefixOf(key, 0, key.length), hashes.of(key), out)).toBe(true);
      expect(out).toEqual({ offset, valueLength, tombstone, seq });
    }
    const absent = Buffer.alloc(400, 7);
    expect(index.findInto(absent, prefixOf(absent, 0, absent.length), hashes.of(absent), out)).toBe(false);
    await index.close();
  });

  it('tells every present key from every absent one on pages crowded with short keys', async () => {
    // Two-byte keys put about 190 entries on a page: its hash table's probe chains are long and its fingerprints collide.
    const entries: IndexEntry[] = [];
    for (let i = 0; i < 0x10000; i += 2) entries.push({ key: Buffer.from([i >> 8, i & 0xff]), offset: 16 + i, valueLength: i, tombstone: i % 6 === 0, seq: i });
    const { index } = await build(entries);
    expect(index.pageCount).toBeGreaterThan(100);
    for (let i = 0; i < 0x10000; i++) {
      const found = index.findSync(Buffer.from([i >> 8, i & 0xff]));
      if (i % 2 === 0) expect(found).toEqual(entries[i / 2]);
      else expect(found).toBeNull();
    }
    await index.close();
  });

  it('awaits its pause between slices of a large index\'s work, and writes the same file', async () => {
    const entries = randomEntries(21, 20_000, () => 16);
    let pauses = 0;
    let pausing = false;
    const dir = tempDir();
    // A pause that really lets the event loop run: work that called it without waiting for it would overlap it.
    await writeIndexFile(nodeFileSystem, dir, FILE_ID, DATA_LENGTH, entries, undefined, async () => {
      expect(pausing).toBe(false);
      pausing = true;
      pauses++;
      await new Promise((resolve) => setImmediate(resolve));
      pausing = false;
    });
    const { path: unpaused } = await build(entries);
    expect(pauses).toBeGreaterThan(3 * (20_000 / 4096));
    expect(readFileSync(`${dir}/${indexFileName(FILE_ID)}`).equals(readFileSync(unpaused))).toBe(true);
  });

  it('sorts entries given in any order and rejects a repeated key, leaving no file', async () => {
    const dir = tempDir();
    const entries = randomEntries(9, 50);
    const repeated = [...entries, { ...entries[10], offset: 16 }];
    await expect(writeIndexFile(nodeFileSystem, dir, FILE_ID, DATA_LENGTH, repeated)).rejects.toThrow(RangeError);
    await expect(writeIndexFile(nodeFileSystem, dir, FILE_ID, 100, entries)).rejects.toThrow(RangeError);
    await expect(writeIndexFile(nodeFileSystem, dir, FILE_ID, DATA_LENGTH, [{ ...entries[0], key: 'a' as unknown as Buffer }])).rejects.toThrow(TypeError);
    expect(await nodeFileSystem.readdir(dir)).toEqual([]);
  });

  it('throws KVCASK_CORRUPTION naming the file, never a wrong answer, when any byte of a page is damaged', async () => {
    const entries = randomEntries(10, 400, () => 24);
    const { path, index: intact } = await build(entries);
    await intact.close();
    const original = readFileSync(path);
    const pagesEnd = 4096 + Math.ceil((400 * (2 + 19 + 24)) / 4000) * 4096;
    const random = rng(11);
    for (let trial = 0; trial < 60; trial++) {
      const at = 4096 + Math.floor(random() * (pagesEnd - 4096));
      const damaged = Buffer.from(original);
      damaged[at] ^= 1 + Math.floor(random() * 255);
      writeFileSync(path, damaged);
      const index = await IndexFile.open(nodeFileSystem, path, FILE_ID, DATA_LENGTH, new PageCache(1 << 20, PAGE_SLOT_BYTES));
      let reported = 0;
      const answers = [...entries.map((entry) => () => expect(index.findSync(entry.key)).toEqual(entry)), ...entries.map((_, position) => () => index.entryAt(position))];
      for (const answer of answers) {
        const err = thrown(answer);
        if (err === null) continue;
        expect(err).toBeInstanceOf(KvcaskError);
        expect((err as KvcaskError).code).toBe(codes.CORRUPTION);
        expect((err as KvcaskError).file).toBe(path);
        expect(((err as KvcaskError).offset! - 4096) % 4096).toBe(0);
        reported++;
      }
      expect(reported).toBeGreaterThan(0);
      await index.close();
    }
  });

  it('refuses to open when any byte of the header, fences, Bloom filter or trailer is damaged', async () => {
    const entries = randomEntries(12, 300, () => 16);
    const { path, index: intact } = await build(entries);
    const pagesEnd = 4096 + Math.ceil((300 * (2 + 19 + 16)) / 4000) * 4096;
    await intact.close();
    const original = readFileSync(path);
    const positions = [...Array.from({ length: 80 }, (_, i) => i), ...Array.from({ length: original.length - pagesEnd }, (_, i) => pagesEnd + i)];
    for (const at of positions) {
      const damaged = Buffer.from(original);
      damaged[at] ^= 0x20;
      writeFileSync(path, damaged);
      const err = await rejection(IndexFile.open(nodeFileSystem, path, FILE_ID, DATA_LENGTH, new PageCache(1 << 20, PAGE_SLOT_BYTES)));
      expect(err.code).toBe(codes.CORRUPTION);
      expect(err.file).toBe(path);
    }
  });

  it('refuses to open a truncated file, or one for another file id or data length', async () => {
    const { path, index } = await build(randomEntries(13, 1_000));
    await index.close();
    const original = readFileSync(path);
    for (const length of [0, 10, 79, 4096, original.length - 4096, original.length - 8, original.length - 1]) {
      writeFileSync(path, original);
      truncateSync(path, length);
      const err = await rejection(IndexFile.open(nodeFileSystem, path, FILE_ID, DATA_LENGTH, new PageCache(0, PAGE_SLOT_BYTES)));
      expect(err.code).toBe(codes.CORRUPTION);
    }
    writeFileSync(path, original);
    expect((await rejection(IndexFile.open(nodeFileSystem, path, FILE_ID + 1, DATA_LENGTH, new PageCache(0, PAGE_SLOT_BYTES)))).code).toBe(codes.CORRUPTION);
    expect((await rejection(IndexFile.open(nodeFileSystem, path, FILE_ID, DATA_LENGTH - 1, new PageCache(0, PAGE_SLOT_BYTES)))).code).toBe(codes.CORRUPTION);
  });

  it('refuses to open another format version with KVCASK_VERSION', async () => {
    const { path, index } = await build(randomEntries(14, 10));
    await index.close();
    const file = readFileSync(path);
    file.writeUInt16LE(INDEX_VERSION + 1, 4);
    const headerCrc = crc32(file.subarray(0, 76));
    file.writeUInt32LE(headerCrc, 76);
    file.writeUInt32LE(headerCrc, file.length - 4);
    writeFileSync(path, file);
    const err = await rejection(IndexFile.open(nodeFileSystem, path, FILE_ID, DATA_LENGTH, new PageCache(0, PAGE_SLOT_BYTES)));
    expect(err.code).toBe(codes.VERSION);
  });

  it('keeps its page cache within budget, and works with a budget smaller than a page', async () => {
    const entries = randomEntries(15, 20_000, () => 16);
    const budget = 5 * 4096;
    const cache = new PageCache(budget, PAGE_SLOT_BYTES);
    const { index, path } = await build(entries, cache);
    const random = rng(16);
    const firstPages = sortedCopy(entries).slice(0, 300);
    for (let i = 0; i < 20_000; i++) {
      const entry = firstPages[Math.floor(random() * firstPages.length)];
      expect(index.findSync(entry.key)).toEqual(entry);
      expect(cache.size).toBeLessThanOrEqual(budget);
    }
    expect(cache.hits).toBeGreaterThan(cache.misses);
    await index.close();
    expect(cache.size).toBe(0);
    const tiny = new PageCache(100, PAGE_SLOT_BYTES);
    const uncached = await IndexFile.open(nodeFileSystem, path, FILE_ID, DATA_LENGTH, tiny);
    for (const entry of entries.slice(0, 500)) expect(uncached.findSync(entry.key)).toEqual(entry);
    for (const entry of entries.slice(0, 500)) expect(uncached.findSync(Buffer.concat([entry.key, Buffer.from([0])]))).toBeNull();
    expect(tiny.size).toBe(0);
    await uncached.close();
  });

  it('answers from the rewritten file, not stale cached pages, when an index of the same id is written again', async () => {
    const cache = new PageCache(1 << 20, PAGE_SLOT_BYTES);
    const first = randomEntries(17, 100, () => 8);
    const { index: old, dir, path } = await build(first, cache);
    for (const entry of first) old.findSync(entry.key);
    const second = first.map((entry) => ({ ...entry, offset: entry.offset + 1, tombstone: !entry.tombstone }));
    await writeIndexFile(nodeFileSystem, dir, FILE_ID, DATA_LENGTH, second);
    const renewed = await IndexFile.open(nodeFileSystem, path, FILE_ID, DATA_LENGTH, cache);
    for (const entry of second) expect(renewed.findSync(entry.key)).toEqual(entry);
    await old.close();
    await renewed.close();
  });

  it('holds under 2.25 bytes of memory per 16-byte key, its 1.25-byte Bloom filter included', async () => {
    const { index } = await build(randomEntries(18, 50_000, () => 16));
    expect(index.memoryBytes()).toBeGreaterThan(50_000 * 1.25);
    expect(index.memoryBytes() / index.count).toBeLessThan(2.25);
    await index.close();
  });

  it('is named <id>.kvx, and only the canonical spelling is an index file name', () => {
    expect(indexFileName(42)).toBe('00000042.kvx');
    expect(indexFileName(1_234_567_890)).toBe('1234567890.kvx');
    expect(parseIndexFileName('00000042.kvx')).toBe(42);
    expect(parseIndexFileName('0000000042.kvx')).toBeNull();
    expect(parseIndexFileName('00000042.kvs')).toBeNull();
    expect(parseIndexFileName('00000042.kvx.tmp')).toBeNull();
    expect(parseFileName('00000042.kvx')).toBeNull();
  });
});
