import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';
import { FaultyFileSystem } from './support/faulty-fs.js';
import { tempDir } from './support/temp-dir.js';

/** node:fs, except that writing any index file waits until `release()`: indexing cannot catch up meanwhile. */
class HeldIndexing extends FaultyFileSystem {
  private held = true;
  private readonly waiting: (() => void)[] = [];
  /** Data-file writes completed so far. */
  dataWrites = 0;

  constructor() {
    super();
    // The base class's operations are fields, not methods: wrapped here rather than overridden.
    const openThrough = this.open;
    const writeThrough = this.write;
    this.open = async (path, flags, dsync) => {
      if (path.endsWith('.kvx.tmp') && this.held) await new Promise<void>((resolve) => this.waiting.push(resolve));
      return openThrough(path, flags, dsync);
    };
    this.write = async (fd, b, o, l, p) => {
      await writeThrough(fd, b, o, l, p);
      if (this.pathOf(fd).endsWith('.data')) this.dataWrites++;
    };
  }

  release(): void {
    this.held = false;
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

const BUDGET = 10;
const keyOf = (i: number) => `key-${i}`;

describe("index: 'disk' write backpressure", () => {
  it('holds writes back while files waiting for their index hold more than maxMemoryKeys keys, and lets them go, none lost, once indexing catches up', async () => {
    const dir = tempDir();
    const fileSystem = new HeldIndexing();
    const db = await open(dir, { index: 'disk', sync: 'none', autoMerge: false, maxMemoryKeys: BUDGET, fileSystem });
    // A first file waits for its index; the second is one key short of being sealed behind it.
    const FIRST_HELD = 2 * BUDGET - 1;
    for (let i = 0; i < FIRST_HELD; i++) await db.set(keyOf(i), `v${i}`);
    const settled: number[] = [];
    const held = Array.from({ length: 5 }, (_, n) => {
      const i = FIRST_HELD + n;
      return db.set(keyOf(i), `v${i}`).then(() => settled.push(i));
    });
    // Written to the data file (and readable) but not acknowledged: the promise waits for indexing.
    const writes = fileSystem.dataWrites;
    while (fileSystem.dataWrites === writes) await nextTurn();
    for (let turn = 0; turn < 10; turn++) await nextTurn();
    expect(settled).toEqual([]);
    expect(db.getSync(keyOf(FIRST_HELD + 4))?.toString()).toBe(`v${FIRST_HELD + 4}`);
    fileSystem.release();
    await Promise.all(held);
    expect(settled.sort((a, b) => a - b)).toEqual([19, 20, 21, 22, 23]);
    const total = FIRST_HELD + 5;
    for (let i = 0; i < total; i++) expect(db.getSync(keyOf(i))?.toString()).toBe(`v${i}`);
    await db.close();
    const reopened = await open(dir, { index: 'disk', maxMemoryKeys: BUDGET });
    expect(reopened.stats().keys).toBe(total);
    for (let i = 0; i < total; i++) expect(reopened.getSync(keyOf(i))?.toString()).toBe(`v${i}`);
    await reopened.close();
  });

  it('does not hold writes back with index: memory, whatever maxMemoryKeys says', async () => {
    const fileSystem = new HeldIndexing();
    const db = await open(tempDir(), { index: 'memory', sync: 'none', autoMerge: false, maxMemoryKeys: 1, fileSystem });
    for (let i = 0; i < 50; i++) await db.set(keyOf(i), `v${i}`);
    expect(db.stats().files.length).toBe(1);
    expect(db.keydir.size).toBe(50);
    await db.close();
  });
});
