import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IndexFile } from '../lib/index-file.js';
import { open, type Store } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

const SMALL = { maxFileSize: 4096, autoMerge: false, index: 'disk' } as const;

async function fill(db: Store, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) await db.set(`key-${i}`, `value-${i}`);
}

/** How many per-file filter probes `count` misses cost. */
function fileProbesOfMisses(db: Store, count: number): number {
  const probes = vi.spyOn(IndexFile.prototype, 'mayContainHashes');
  for (let i = 0; i < count; i++) expect(db.getSync(`missing-${i}`)).toBeUndefined();
  const calls = probes.mock.calls.length;
  probes.mockRestore();
  return calls;
}

afterEach(() => vi.restoreAllMocks());

describe('the global filter after a crash', () => {
  it('is rebuilt in the background from the index files, and then answers misses without asking each file', async () => {
    const dir = tempDir();
    const db = await open(dir, SMALL);
    await fill(db, 0, 600);
    // A crash: the files as they are while the store is open; open() removed the FILTER a close saves.
    const crashed = tempDir();
    await db.close();
    const running = await open(dir, SMALL);
    await running.set('after', 'crash');
    cpSync(dir, crashed, { recursive: true, filter: (source) => !source.endsWith('LOCK') });
    await running.close();
    expect(existsSync(join(crashed, 'FILTER'))).toBe(false);

    const recovered = await open(crashed, SMALL);
    const disk = recovered.diskIndex!;
    await disk.filled();
    expect(disk.fullyFiltered).toBe(true);
    const files = disk.indexes.length;
    expect(files).toBeGreaterThan(5);
    // Each file's own filter would be asked once per miss; the global filter lets about 1% of misses through.
    expect(fileProbesOfMisses(recovered, 1000)).toBeLessThan(1000 * files * 0.05);
    for (let i = 0; i < 600; i++) expect(recovered.getSync(`key-${i}`)?.toString()).toBe(`value-${i}`);
    expect(recovered.getSync('after')?.toString()).toBe('crash');
    await recovered.close();
  });

  it('is saved at a clean close and covers every file at the next open without reading them', async () => {
    const dir = tempDir();
    const db = await open(dir, SMALL);
    await fill(db, 0, 600);
    await db.close();
    expect(existsSync(join(dir, 'FILTER'))).toBe(true);
    const reads = vi.spyOn(IndexFile.prototype, 'forEachKey');
    const reopened = await open(dir, SMALL);
    const disk = reopened.diskIndex!;
    await disk.filled();
    expect(disk.fullyFiltered).toBe(true);
    // At most the file a close sealed last is read into it again.
    expect(reads.mock.calls.length).toBeLessThanOrEqual(1);
    // Removed once read: a crash from now on must not find it.
    expect(existsSync(join(dir, 'FILTER'))).toBe(false);
    await reopened.close();
  });
});
