import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { open } from '../lib/index.js';
import { run } from './support/cli.js';
import { tempDir } from './support/temp-dir.js';

vi.setConfig({ testTimeout: 30_000 });

async function storeOnDisk(): Promise<string> {
  const dir = tempDir();
  const db = await open(dir, { sync: 'none', maxFileSize: 4096, autoMerge: false });
  for (let i = 0; i < 200; i++) await db.set(`key${i}`, `value-${i}`);
  await db.close();
  return dir;
}

describe('kvcask check', () => {
  it('exits 0 and says ok for an intact store', async () => {
    const dir = await storeOnDisk();
    const result = run(['--dir', dir, 'check']);
    expect(result).toMatchObject({ status: 0, err: '' });
    expect(result.out).toMatch(new RegExp(`^checked ${dir}: \\d+ data file\\(s\\), \\d+ hint file\\(s\\), 0 index file\\(s\\), 200 record\\(s\\), \\d+ bytes\\nok\\n$`));
  });

  it('exits 2 after a flipped byte, naming the file and offset on stdout and KVCASK_CORRUPTION on stderr', async () => {
    const dir = await storeOnDisk();
    const file = path.join(dir, '00001000.data');
    const bytes = fs.readFileSync(file);
    bytes[40] ^= 0x01;
    fs.writeFileSync(file, bytes);
    const result = run(['--dir', dir, 'check']);
    expect(result.status).toBe(2);
    expect(result.out).toMatch(new RegExp(`^damaged ${file} at offset 16, \\d+ bytes \\(frame\\)$`, 'm'));
    expect(result.out).not.toMatch(/^ok$/m);
    expect(result.err).toBe(`kvcask: KVCASK_CORRUPTION: 1 damaged range(s) in ${dir}\n`);
    const json = run(['--dir', dir, '--json', 'check']);
    expect(json.status).toBe(2);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, records: 199, damaged: [{ file, offset: 16, kind: 'frame' }] });
  });

  it('exits 2 with KVCASK_LOCKED while another process holds the store', async () => {
    const dir = await storeOnDisk();
    const db = await open(dir);
    try {
      const result = run(['--dir', dir, 'check']);
      expect(result.status).toBe(2);
      expect(result.err).toMatch(/^kvcask: KVCASK_LOCKED: /);
    } finally {
      await db.close();
    }
  });
});
