import type { Command } from 'commander';
import { globals, progressBar, stdout, withStore } from './context.js';
import { interruptSignal } from './interrupt.js';

async function compactCommand(_options: unknown, command: Command): Promise<void> {
  const { json } = globals(command);
  const bar = progressBar(command, 'compact', 'bytes');
  await withStore(command, async (store) => {
    let result;
    try {
      result = await store.compact({ signal: interruptSignal(), onProgress: (p) => bar.update(p.bytesDone, p.bytesTotal) });
    } catch (err) {
      bar.stop();
      throw err;
    }
    bar.finish(result.bytesBefore, result.bytesBefore);
    const reclaimed = result.bytesBefore - result.bytesAfter;
    if (json) {
      await stdout.write(`${JSON.stringify({ ...result, bytesReclaimed: reclaimed }, null, 2)}\n`);
    } else {
      await stdout.write(
        `merged ${result.filesMerged} file(s) of ${result.bytesBefore} bytes into ${result.filesWritten} of ${result.bytesAfter} bytes: ${reclaimed} bytes reclaimed\n`,
      );
    }
    // The command holds the store alone (the lock): no request to protect from the merge's I/O, so no rate limit.
  }, { mergeRateLimit: 0 });
}

export function registerCompact(program: Command): void {
  program
    .command('compact')
    .description('merge every sealed file: drop overwritten records and tombstones no longer needed, compress (Ctrl-C stops cleanly)')
    .action(compactCommand);
}
