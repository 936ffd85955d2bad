import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

describe('temporary files left by a crash', () => {
  it("are deleted at open (hint, index, lock, live counts and global filter), and the user's own .tmp files are left alone", async () => {
    const dir = tempDir();
    const db = await open(dir, { index: 'disk' });
    await db.set('a', '1');
    await db.close();
    const ours = ['00001000.hint.tmp', '00001000.kvx.tmp', 'LOCK.tmp', 'COUNTS.tmp', 'FILTER.tmp'];
    const theirs = ['notes.tmp', 'COUNTS.tmp.bak', 'my-FILTER.tmp'];
    for (const name of [...ours, ...theirs]) writeFileSync(`${dir}/${name}`, 'half-written bytes from before a crash');
    const reopened = await open(dir, { index: 'disk' });
    // Checked before close(), which writes COUNTS and FILTER again through their .tmp names.
    for (const name of ours) expect(existsSync(`${dir}/${name}`), name).toBe(false);
    for (const name of theirs) expect(readdirSync(dir)).toContain(name);
    expect((await reopened.get('a'))?.toString()).toBe('1');
    await reopened.close();
  });
});
