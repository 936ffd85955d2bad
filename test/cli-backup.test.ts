import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { open } from '../lib/index.js';
import { bin, cleanEnv, run } from './support/cli.js';
import { contents } from './support/backup.js';
import { tempDir } from './support/temp-dir.js';

vi.setConfig({ testTimeout: 30_000 });

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

async function seeded(): Promise<string> {
  const dir = path.join(tempDir(), 'store');
  const db = await open(dir, { sync: 'none' });
  for (let i = 0; i < 2000; i++) await db.set(`key${i}`, `value ${i}`);
  await db.set(Buffer.from([0, 255]), allBytes);
  await db.close();
  return dir;
}

async function entriesOf(dir: string): Promise<Map<string, string>> {
  const db = await open(dir);
  try {
    return await contents(db);
  } finally {
    await db.close();
  }
}

describe('kvcask backup and restore', () => {
  it('round-trips a store through a pipe: kvcask backup - | kvcask restore -', async () => {
    const source = await seeded();
    const target = path.join(tempDir(), 'copy');
    const node = JSON.stringify(process.execPath);
    const script = `${node} ${bin} --dir ${source} backup - | ${node} ${bin} --dir ${target} restore -`;
    const result = spawnSync('bash', ['-o', 'pipefail', '-c', script], { env: cleanEnv, encoding: 'utf8' });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    expect(result.stdout).toBe(`restored 2001 entries into ${target}\n`);
    expect(await entriesOf(target)).toEqual(await entriesOf(source));
  });

  it('writes a backup file, prints a summary (as JSON with --json), and restores from it', async () => {
    const source = await seeded();
    const file = path.join(tempDir(), 'store.kvcb');
    const backup = run(['--dir', source, 'backup', file]);
    expect(backup).toMatchObject({ status: 0, err: '' });
    expect(backup.out).toMatch(new RegExp(`^backed up 2001 entries \\(\\d+ bytes\\) to ${file}\\n$`));
    expect(fs.readdirSync(path.dirname(file))).toEqual(['store.kvcb']);
    const target = path.join(tempDir(), 'copy');
    const restored = run(['--json', '--dir', target, 'restore', file]);
    expect(restored.status).toBe(0);
    expect(JSON.parse(restored.out)).toMatchObject({ entries: 2001, bytes: fs.statSync(file).size, dir: target });
    expect(await entriesOf(target)).toEqual(await entriesOf(source));
  });

  it('never replaces an existing backup file or restores into a non-empty directory (exit 2, KVCASK_EXISTS)', async () => {
    const source = await seeded();
    const file = path.join(tempDir(), 'taken');
    fs.writeFileSync(file, 'mine');
    expect(run(['--dir', source, 'backup', file])).toMatchObject({ status: 2, out: '', err: `kvcask: KVCASK_EXISTS: ${file} already exists: a backup never replaces a file\n` });
    expect(fs.readFileSync(file, 'utf8')).toBe('mine');
    expect(fs.readdirSync(path.dirname(file))).toEqual(['taken']);
    const backup = path.join(tempDir(), 'b');
    run(['--dir', source, 'backup', backup]);
    const result = run(['--dir', source, 'restore', backup]);
    expect(result.status).toBe(2);
    expect(result.err).toMatch(/^kvcask: KVCASK_EXISTS: .* is not empty/);
  });

  it('refuses a truncated or bit-flipped backup with KVCASK_CORRUPTION, exit 2, and leaves no directory behind', async () => {
    const source = await seeded();
    const good = run(['--dir', source, 'backup', '-']).stdout;
    const flipped = Buffer.from(good);
    flipped[Math.floor(good.length / 2)] ^= 0x10;
    for (const damaged of [good.subarray(0, good.length - 1), good.subarray(0, 1000), flipped]) {
      const parent = tempDir();
      const result = run(['--dir', path.join(parent, 'copy'), 'restore', '-'], { input: damaged });
      expect(result.status).toBe(2);
      expect(result.out).toBe('');
      expect(result.err).toMatch(/^kvcask: KVCASK_CORRUPTION: .*\(backup stream at offset \d+\)\n$/);
      expect(fs.readdirSync(parent)).toEqual([]);
    }
  });

  it('keeps binary keys and values exact through backup and restore, whatever the --encoding', async () => {
    const parent = tempDir();
    const source = path.join(parent, 'source');
    expect(run(['--dir', source, '--encoding', 'hex', 'set', '00ff80', allBytes.toString('hex')]).status).toBe(0);
    expect(run(['--dir', source, '--encoding', 'base64', 'set', '//8A', allBytes.subarray(100).toString('base64')]).status).toBe(0);
    expect(run(['--dir', source, 'set', 'ключ', 'значение']).status).toBe(0);
    const backup = run(['--dir', source, 'backup']).stdout;
    const target = path.join(parent, 'target');
    expect(run(['--dir', target, 'restore'], { input: backup }).status).toBe(0);
    expect(run(['--dir', target, '--encoding', 'hex', 'get', '00ff80']).out).toBe(`${allBytes.toString('hex')}\n`);
    expect(run(['--dir', target, '--encoding', 'base64', 'get', '//8A']).out).toBe(`${allBytes.subarray(100).toString('base64')}\n`);
    expect(run(['--dir', target, 'get', 'ключ']).out).toBe('значение');
    expect(JSON.parse(run(['--dir', target, '--json', '--encoding', 'hex', 'scan', '--keys-only']).out)).toEqual([
      { key: '00ff80' },
      { key: Buffer.from('ключ').toString('hex') },
      { key: 'ffff00' },
    ]);
  });

  it('shows a progress bar on stderr only when asked (stderr is not a terminal here)', async () => {
    const source = await seeded();
    expect(run(['--dir', source, 'backup', path.join(tempDir(), 'a')]).err).toBe('');
    const drawn = run(['--dir', source, '--progress', 'always', 'backup', path.join(tempDir(), 'b')]).err;
    expect(drawn).toMatch(/\rbackup  100%  \[#{24}\]  2,001\/2,001 entries  [\d,]+ entries\/s  [\d.]+ [KM]?i?B\/s  ETA 0:00\x1b\[K\n$/);
    expect(run(['--dir', source, 'backup', path.join(tempDir(), 'c')], { env: { KVCASK_PROGRESS: 'always' } }).err).toContain('2,001/2,001 entries');
  });
});
