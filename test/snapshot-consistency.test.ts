import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { open, restore } from '../lib/index.js';
import { contents, SlowSink } from './support/backup.js';
import { rng } from './support/random.js';
import { tempDir } from './support/temp-dir.js';

describe('a backup taken while writes go on', () => {
  it('restores to exactly the state at the moment snapshot() was called, every value from that moment', async () => {
    const random = rng(7);
    // Small files, so that writes during the backup also seal files and start new ones.
    const db = await open(tempDir(), { sync: 'none', maxFileSize: 64 * 1024 });
    // Each value names the write that made it: "<key>@<sequence>", padded so the backup spans many chunks.
    const reference = new Map<string, string>();
    let sequence = 0;
    const pad = '.'.repeat(200);
    const write = async () => {
      const key = `key${Math.floor(random() * 3000)}`;
      const roll = random();
      sequence++;
      if (roll < 0.1) {
        reference.delete(key);
        await db.delete(key);
      } else if (roll < 0.2) {
        const other = `key${Math.floor(random() * 3000)}`;
        reference.set(key, `${key}@${sequence}${pad}`);
        reference.set(other, `${other}@${sequence}${pad}`);
        await db.batch([
          { type: 'put', key, value: `${key}@${sequence}${pad}` },
          { type: 'put', key: other, value: `${other}@${sequence}${pad}` },
        ]);
      } else {
        reference.set(key, `${key}@${sequence}${pad}`);
        await db.set(key, `${key}@${sequence}${pad}`);
      }
    };
    for (let i = 0; i < 4000; i++) await write();

    // Between chunks of the backup, 20 more writes land (and concurrent writers run all along).
    let streaming = true;
    const sink = new SlowSink(async () => {
      for (let i = 0; i < 20; i++) await write();
    });
    const backup = db.snapshot(sink);
    const atSnapshot = new Map(reference);
    const writesBefore = sequence;
    const writers = Array.from({ length: 2 }, async () => {
      while (streaming) await write();
    });
    const summary = await backup;
    streaming = false;
    await Promise.all(writers);
    // The test means something only if writes did land while the backup ran.
    expect(sequence - writesBefore).toBeGreaterThan(100);
    expect(summary.entries).toBe(atSnapshot.size);

    const target = `${tempDir()}/restored`;
    await restore(Readable.from([sink.bytes]), target);
    const restored = await open(target);
    const got = await contents(restored);
    await restored.close();
    const want = new Map([...atSnapshot].map(([k, v]) => [Buffer.from(k).toString('hex'), Buffer.from(v).toString('hex')]));
    expect(got).toEqual(want);
    // And the live store has moved on.
    expect(await contents(db)).not.toEqual(want);
    await db.close();
  });
});
