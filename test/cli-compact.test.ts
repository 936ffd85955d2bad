import fs from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { open } from '../lib/index.js';
import { run } from './support/cli.js';
import { tempDir } from './support/temp-dir.js';

vi.setConfig({ testTimeout: 30_000 });

describe('kvcask compact', () => {
  it('merges the sealed files, reports the bytes reclaimed and keeps every live value', async () => {
    const dir = tempDir();
    const db = await open(dir, { sync: 'none', maxFileSize: 4096, autoMerge: false });
    for (let round = 0; round < 10; round++) for (let i = 0; i < 40; i++) await db.set(`key${i}`, `value-${round}-${i}-${'z'.repeat(30)}`);
    await db.delete('key0');
    await db.close();
    const dataFiles = fs.readdirSync(dir).filter((name) => name.endsWith('.data')).length;
    const result = run(['--dir', dir, '--json', 'compact']);
    expect(result).toMatchObject({ status: 0, err: '' });
    const summary = JSON.parse(result.out);
    expect(summary.filesMerged).toBe(dataFiles);
    expect(summary.bytesReclaimed).toBeGreaterThan(summary.bytesAfter);
    expect(summary.bytesReclaimed).toBe(summary.bytesBefore - summary.bytesAfter);
    const text = run(['--dir', dir, 'compact']);
    expect(text.status).toBe(0);
    expect(text.out).toMatch(/^merged \d+ file\(s\) of \d+ bytes into \d+ of \d+ bytes: -?\d+ bytes reclaimed\n$/);
    expect(run(['--dir', dir, 'get', 'key7']).out).toBe(`value-9-7-${'z'.repeat(30)}`);
    expect(run(['--dir', dir, 'get', 'key0']).status).toBe(1);
    expect(run(['--dir', dir, 'check'])).toMatchObject({ status: 0 });
  });
});
