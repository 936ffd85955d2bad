import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';
import type { MergeProgress } from '../lib/merge.js';
import { tempDir } from './support/temp-dir.js';

// The rate limit paces a merge by the same byte count its progress reports, so a count that only moved at file
// boundaries let a whole file through at full speed and then slept for it.
describe('merge progress', () => {
  for (const compression of ['none', 'lz4'] as const) {
    it(`counts the bytes read within an input file as the scan goes (${compression} input)`, async () => {
      const dir = tempDir();
      let db = await open(dir, { autoMerge: false, compression, sync: 'none' });
      for (let i = 0; i < 3000; i++) await db.set(`key-${i}`, `value-${i}-${'v'.repeat(100)}`);
      if (compression === 'lz4') {
        // First pass: the data file becomes one compressed segment, the input of the merge timed below.
        await db.compact();
        for (let i = 0; i < 3000; i += 2) await db.delete(`key-${i}`);
        await db.close();
        db = await open(dir, { autoMerge: false, compression, sync: 'none' });
      }
      // Inputs are read in id order: the first is the data file (none) or the segment (lz4).
      const first = db.stats().files[0];
      expect(first.segment).toBe(compression === 'lz4');
      const reports: MergeProgress[] = [];
      const result = await db.compact({ onProgress: (progress) => reports.push({ ...progress }) });
      const total = reports[0].bytesTotal;
      expect(result.filesMerged).toBe(compression === 'lz4' ? 2 : 1);
      const within = reports.filter((progress) => progress.bytesDone > 0 && progress.bytesDone < first.bytes);
      expect(within.length).toBeGreaterThan(3);
      for (let i = 1; i < reports.length; i++) expect(reports[i].bytesDone).toBeGreaterThanOrEqual(reports[i - 1].bytesDone);
      expect(reports.at(-1)!.bytesDone).toBe(total);
      expect(reports.every((progress) => progress.bytesDone <= total)).toBe(true);
      await db.close();
    });
  }
});
