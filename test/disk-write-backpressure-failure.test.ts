import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { KvcaskError, open } from '../lib/index.js';
import { FaultyFileSystem } from './support/faulty-fs.js';
import { tempDir } from './support/temp-dir.js';

const BUDGET = 10;

/** How `work` settled, or 'pending' if it has not within `ms`. */
function outcome(work: Promise<unknown>, ms: number): Promise<string> {
  return Promise.race([work.then(() => 'resolved', () => 'rejected'), sleep(ms).then(() => 'pending')]);
}

describe("index: 'disk' write backpressure after a failed write", () => {
  it('lets a held-back write settle once sealing its file failed and the store refuses writes', async () => {
    const fileSystem = new FaultyFileSystem();
    const db = await open(tempDir(), { index: 'disk', sync: 'none', autoMerge: false, maxMemoryKeys: BUDGET, fileSystem });
    await db.set('first', 'x');
    // One batch puts more keys than the budget in the active file, so the file is sealed behind it and the batch
    // waits for its index. Sealing syncs the file first ('first' made it, synced, already): that sync fails,
    // so the file is never indexed and its keys never leave the memory part.
    fileSystem.failNext('datasync', 'EIO');
    const operations = Array.from({ length: BUDGET + 5 }, (_, i) => ({ type: 'put' as const, key: `key-${i}`, value: `v${i}` }));
    const batch = db.batch(operations);
    await expect(db.set('after', 'x')).rejects.toBeInstanceOf(KvcaskError);
    expect(fileSystem.injected.map((failure) => `${failure.operation} ${failure.path.slice(-13)}`)).toEqual(['datasync 00001000.data']);
    expect(await outcome(batch, 200)).toBe('resolved');
    await expect(db.close()).rejects.toBeDefined();
  });
});
