import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { codes, open } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

const LIB = new URL('../dist/lib/index.js', import.meta.url).href;

describe('directory lock', () => {
  it('refuses a second open of the same directory in this process with KVCASK_LOCKED', async () => {
    const dir = tempDir();
    const db = await open(dir);
    await expect(open(dir)).rejects.toMatchObject({ code: codes.LOCKED });
    await expect(open(`${dir}/.`)).rejects.toMatchObject({ code: codes.LOCKED });
    await db.close();
    const again = await open(dir);
    await again.close();
  });

  it('refuses an open from another process while this one holds the directory', async () => {
    const dir = tempDir();
    const db = await open(dir);
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { open } from ${JSON.stringify(LIB)};
      try { await open(${JSON.stringify(dir)}); console.log('opened'); } catch (err) { console.log(err.code); }
    `], { encoding: 'utf8' });
    expect(child.stdout.trim()).toBe(codes.LOCKED);
    await db.close();
  });

  it('takes over a lock left by a process that died', async () => {
    const dir = tempDir();
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { open } from ${JSON.stringify(LIB)};
      const db = await open(${JSON.stringify(dir)});
      await db.set('k', 'v');
      process.kill(process.pid, 'SIGKILL');
    `]);
    expect(child.signal).toBe('SIGKILL');
    expect(JSON.parse(readFileSync(`${dir}/LOCK`, 'utf8')).pid).toBe(child.pid);
    const db = await open(dir);
    expect(db.getSync('k')?.toString()).toBe('v');
    expect(JSON.parse(readFileSync(`${dir}/LOCK`, 'utf8')).pid).toBe(process.pid);
    await db.close();
  });

  it('does not take over a lock whose owner is alive', async () => {
    const dir = tempDir();
    // The parent of this test process is alive and is not a kvcask store.
    writeFileSync(`${dir}/LOCK`, JSON.stringify({ host: hostname(), pid: process.ppid, start: '' }));
    await expect(open(dir)).rejects.toMatchObject({ code: codes.LOCKED });
  });

  it('takes over a lock file that is empty or unreadable, since a live owner always writes one whole', async () => {
    const dir = tempDir();
    writeFileSync(`${dir}/LOCK`, '');
    const db = await open(dir);
    expect(JSON.parse(readFileSync(`${dir}/LOCK`, 'utf8')).pid).toBe(process.pid);
    await db.close();
  });

  it('treats a lock from another host as held, since its owner cannot be checked', async () => {
    const dir = tempDir();
    writeFileSync(`${dir}/LOCK`, JSON.stringify({ host: 'elsewhere.example', pid: 1, start: '' }));
    await expect(open(dir)).rejects.toMatchObject({ code: codes.LOCKED });
  });
});
