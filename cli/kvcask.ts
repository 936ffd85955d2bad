#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { registerBackupCommands } from './backup.js';
import { registerCheck } from './check.js';
import { registerCompact } from './compact.js';
import { encodings, UsageError } from './output.js';
import { progressModes } from './progress.js';
import { registerRecordCommands } from './records.js';
import { registerServe } from './serve.js';
import { registerStats } from './stats.js';

// Compiled to dist/cli/, so the package root is two levels up.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function codeOf(err: unknown): string {
  if (err instanceof UsageError || err instanceof TypeError || err instanceof RangeError) return 'KVCASK_USAGE';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('KVCASK_')) return code;
  // What is left with a code are system errors of the CLI's own reads (--file, stdin).
  return typeof code === 'string' ? 'KVCASK_IO' : 'KVCASK_INTERNAL';
}

const program = new Command('kvcask')
  .description('Read, write, back up, restore and check a kvcask store.')
  .version(version)
  // Usage errors exit 2 (commander's default is 1, which means "not found" here); help and version still exit 0.
  .exitOverride()
  .configureOutput({ outputError: (message, write) => write(`kvcask: KVCASK_USAGE: ${message.replace(/^error: /, '')}`) })
  .addOption(new Option('--dir <path>', 'data directory').env('KVCASK_DIR').default('./kvcask-data'))
  .option('--json', 'machine-readable output')
  .addOption(
    new Option('--encoding <encoding>', 'how keys and values on the command line and in the output are encoded')
      .choices(encodings)
      .env('KVCASK_ENCODING')
      .default('utf8'),
  )
  .addOption(new Option('--sync <mode>', 'when writes count as done; the store defaults to always').choices(['always', 'interval', 'none']).env('KVCASK_SYNC'))
  .addOption(new Option('--index <mode>', 'where the index lives; the store defaults to memory').choices(['memory', 'disk']).env('KVCASK_INDEX'))
  .addOption(
    new Option('--progress <when>', 'progress bar on stderr for backup, restore and check: auto draws it only on a terminal')
      .choices(progressModes)
      .env('KVCASK_PROGRESS')
      .default('auto'),
  )
  .addHelpText(
    'after',
    '\nFlags beat KVCASK_* environment variables, which beat defaults.\n' +
      'Exit codes: 0 success, 1 key not found, 2 usage or data error (damage found by check, a refused backup, Ctrl-C);\n' +
      'errors go to stderr as "kvcask: KVCASK_<CODE>: message".',
  );

// One line per command group; each module registers its own verbs.
registerRecordCommands(program);
registerStats(program);
registerCheck(program);
registerCompact(program);
registerBackupCommands(program);
registerServe(program);

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has already printed its message or the help.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if ((err as NodeJS.ErrnoException).code === 'EPIPE') {
    // The reader went away (`kvcask scan | head`): that ends the output, it is not a failure.
    process.exitCode = 0;
  } else {
    const code = codeOf(err);
    process.stderr.write(`kvcask: ${code}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
    // Interrupted work has cleaned up by now; a write still stuck on a full pipe must not keep the process alive.
    if (code === 'KVCASK_ABORTED') process.exit();
  }
}
