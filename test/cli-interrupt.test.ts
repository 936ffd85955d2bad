import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { open } from '../lib/index.js';
import { run, start } from './support/cli.js';
import { tempDir } from './support/temp-dir.js';

vi.setConfig({ testTimeout: 30_000 });

/** Resolves with the child's exit code and everything it wrote to stderr. */
async function exitOf(child: ReturnType<typeof start>): Promise<{ code: number | null; err: string }> {
  let err = '';
  child.stderr.on('data', (chunk) => (err += chunk));
  const [code] = await once(child, 'exit');
  return { code, err };
}

describe('Ctrl-C (SIGINT)', () => {
  it('stops a backup blocked on a full pipe with KVCASK_ABORTED, exit 2, and leaves the store closed and intact', async () => {
    const dir = tempDir();
    const db = await open(dir, { sync: 'none' });
    // Several megabytes: far more than a pipe buffers, so the backup waits on back-pressure.
    for (let i = 0; i < 100; i++) await db.set(`key${i}`, Buffer.alloc(64 * 1024, i));
    await db.close();
    const child = start(['--dir', dir, 'backup', '-']);
    const exit = exitOf(child);
    // Nobody reads stdout: wait until the first chunks are out and the backup is stuck.
    await once(child.stdout, 'readable');
    child.stdout.pause();
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGINT');
    expect(await exit).toEqual({ code: 2, err: 'kvcask: KVCASK_ABORTED: the snapshot was aborted\n' });
    expect(run(['--dir', dir, 'check']).status).toBe(0);
    expect(run(['--dir', dir, '--json', 'stats']).out).toContain('"keys": 100');
  });

  it('stops a restore waiting for the rest of its input, leaving no directory behind', async () => {
    const dir = tempDir();
    const db = await open(dir, { sync: 'none' });
    for (let i = 0; i < 100; i++) await db.set(`key${i}`, `value${i}`);
    await db.close();
    const backup = run(['--dir', dir, 'backup']).stdout;
    const parent = tempDir();
    const child = start(['--dir', path.join(parent, 'copy'), 'restore', '-']);
    const exit = exitOf(child);
    child.stdin.write(backup.subarray(0, backup.length / 2));
    // The restore is under way once its temporary directory exists.
    while (fs.readdirSync(parent).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(fs.readdirSync(parent)[0]).toMatch(/^\.kvcask-restore-copy-/);
    child.kill('SIGINT');
    expect(await exit).toEqual({ code: 2, err: 'kvcask: KVCASK_ABORTED: the restore was aborted\n' });
    expect(fs.readdirSync(parent)).toEqual([]);
  });
});
