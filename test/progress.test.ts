import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../cli/progress.js';

function terminal(isTTY: boolean) {
  const written: string[] = [];
  return { isTTY, columns: 200, written, write: (text: string) => written.push(text) };
}

describe('the progress bar', () => {
  it('draws percent, counts, rate and ETA in place on a terminal', () => {
    let now = 0;
    const stream = terminal(true);
    const bar = new ProgressBar('backup', 'entries', { stream, now: () => now });
    now = 2000;
    bar.update(500, 2000, 2 * 1024 * 1024);
    expect(stream.written).toEqual(['\rbackup   25%  [######..................]  500/2,000 entries  250 entries/s  1.0 MiB/s  ETA 0:06\x1b[K']);
    bar.finish(2000, 2000);
    expect(stream.written.at(-1)).toBe('\n');
    expect(stream.written.at(-2)).toMatch(/^\rbackup  100%  \[#{24}\]  2,000\/2,000 entries .* ETA 0:00\x1b\[K$/);
  });

  it('redraws at most every 100 ms', () => {
    let now = 0;
    const stream = terminal(true);
    const bar = new ProgressBar('check', 'bytes', { stream, now: () => now });
    bar.update(1, 100);
    now = 50;
    bar.update(2, 100);
    now = 150;
    bar.update(3, 100);
    expect(stream.written).toHaveLength(2);
  });

  it('shows byte counts in binary units', () => {
    const stream = terminal(true);
    const bar = new ProgressBar('check', 'bytes', { stream, now: () => 1000 });
    expect(bar.line(3 * 1024 * 1024, 6 * 1024 * 1024, undefined, 1000)).toContain('3.0 MiB/6.0 MiB');
  });

  it('draws nothing when the stream is not a terminal, or when told never to', () => {
    for (const [stream, mode] of [[terminal(false), 'auto'], [terminal(true), 'never']] as const) {
      const bar = new ProgressBar('restore', 'entries', { stream, mode });
      bar.update(1, 2);
      bar.finish(2, 2);
      bar.stop();
      expect(stream.written).toEqual([]);
    }
  });

  it('draws on any stream when told always to', () => {
    const stream = terminal(false);
    new ProgressBar('restore', 'entries', { stream, mode: 'always' }).update(1, 2);
    expect(stream.written).toHaveLength(1);
  });
});
