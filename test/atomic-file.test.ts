import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeFileSystem, writeFileAtomically } from '../lib/filesystem.js';
import { tempDir } from './support/temp-dir.js';

describe('writing a file atomically', () => {
  it('creates the file and leaves no temporary file behind', async () => {
    const dir = tempDir();
    await writeFileAtomically(nodeFileSystem, dir, 'a.hint', Buffer.from('fresh'));
    expect(readFileSync(`${dir}/a.hint`, 'utf8')).toBe('fresh');
    expect(readdirSync(dir)).toEqual(['a.hint']);
  });

  it('replaces a stale temporary file left by a crash instead of failing or appending to it', async () => {
    const dir = tempDir();
    writeFileSync(`${dir}/a.hint.tmp`, 'stale bytes from before the crash, longer than the new content');
    await writeFileAtomically(nodeFileSystem, dir, 'a.hint', Buffer.from('fresh'));
    expect(readFileSync(`${dir}/a.hint`, 'utf8')).toBe('fresh');
    expect(readdirSync(dir)).toEqual(['a.hint']);
  });

  it('replaces an existing file of the same name', async () => {
    const dir = tempDir();
    await writeFileAtomically(nodeFileSystem, dir, 'a.hint', Buffer.from('first version'));
    await writeFileAtomically(nodeFileSystem, dir, 'a.hint', Buffer.from('second'));
    expect(readFileSync(`${dir}/a.hint`, 'utf8')).toBe('second');
  });
});
