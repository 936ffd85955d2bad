import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';
import { tempDir } from './support/temp-dir.js';

describe('getMany', () => {
  it('returns values in the order asked, undefined for missing keys, from files and pending writes alike', async () => {
    const dir = tempDir();
    const db = await open(dir, { maxFileSize: 2048 });
    for (let i = 0; i < 100; i++) await db.set(`k${i}`, `v${i}`);
    void db.set('pending', 'p');
    const values = await db.getMany(['k5', 'missing', 'k99', 'pending', 'k0']);
    expect(values.map((v) => v?.toString())).toEqual(['v5', undefined, 'v99', 'p', 'v0']);
    await db.close();
  });
});
