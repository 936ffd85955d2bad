import type { Command } from 'commander';
import { globals, stdout, withStore } from './context.js';
import { formatStats } from './output.js';

async function stats(_options: unknown, command: Command): Promise<void> {
  const result = await withStore(command, async (store) => store.stats());
  await stdout.write(globals(command).json ? `${JSON.stringify(result, null, 2)}\n` : formatStats(result));
}

export function registerStats(program: Command): void {
  program.command('stats').description('show key count, files, live and dead bytes, index memory and recovery').action(stats);
}
