#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { open, type RangeOptions, type Store, type SyncMode } from '../lib/index.js';
import { registerServe } from './serve.js';
import { decodeArg, type Encoding, encodings, formatStats, Output, plainBytes, UsageError } from './output.js';

interface Globals {
  dir: string;
  json?: boolean;
  encoding: Encoding;
  sync?: SyncMode;
}

interface ScanOptions {
  prefix?: string;
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
  limit?: number;
  reverse?: boolean;
  keysOnly?: boolean;
  ndjson?: boolean;
}

// Compiled to dist/cli/, so the package root is two levels up.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const stdout = new Output(process.stdout);

async function withStore<T>(command: Command, use: (store: Store) => Promise<T>): Promise<T> {
  const { dir, sync } = command.optsWithGlobals<Globals>();
  // Pass only what the user chose, so that the library's defaults stay the defaults.
  const store = await open(dir, sync === undefined ? undefined : { sync });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

function parseLimit(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError('expected a non-negative integer.');
  return Number(text);
}

async function get(keyArg: string, _options: unknown, command: Command): Promise<void> {
  const { json, encoding } = command.optsWithGlobals<Globals>();
  const key = decodeArg(keyArg, encoding, 'key');
  const value = await withStore(command, (store) => store.get(key));
  if (value === undefined) {
    process.stderr.write(`not found: ${keyArg}\n`);
    process.exitCode = 1;
  } else if (json) {
    await stdout.write(JSON.stringify({ key: key.toString(encoding), value: value.toString(encoding) }), '\n');
  } else if (encoding !== 'utf8') {
    await stdout.write(value.toString(encoding), '\n');
  } else {
    // The bytes as stored, so that `kvcask get k > file` is exact; the newline is only for a person at a terminal.
    await stdout.write(value, process.stdout.isTTY ? '\n' : '');
  }
}

async function set(keyArg: string, valueArg: string | undefined, options: { file?: string }, command: Command): Promise<void> {
  const { encoding } = command.optsWithGlobals<Globals>();
  const key = decodeArg(keyArg, encoding, 'key');
  if (valueArg !== undefined && options.file !== undefined) throw new UsageError('give the value as an argument or with --file, not both');
  if (valueArg === undefined && options.file === undefined && process.stdin.isTTY) {
    throw new UsageError('no value given: pass it as an argument, with --file, or on stdin');
  }
  // The value is read before the store is opened, so that a slow producer on stdin does not hold the lock.
  let value: Buffer;
  if (valueArg !== undefined) value = decodeArg(valueArg, encoding, 'value');
  else if (options.file !== undefined) value = await readFile(options.file);
  else value = await buffer(process.stdin);
  await withStore(command, (store) => store.set(key, value));
}

async function del(keyArg: string, _options: unknown, command: Command): Promise<void> {
  const key = decodeArg(keyArg, command.optsWithGlobals<Globals>().encoding, 'key');
  await withStore(command, (store) => store.delete(key));
}

async function* withoutValues(keys: AsyncIterable<Buffer>): AsyncGenerator<[Buffer, Buffer | undefined]> {
  for await (const key of keys) yield [key, undefined];
}

async function scan(options: ScanOptions, command: Command): Promise<void> {
  const { json, encoding } = command.optsWithGlobals<Globals>();
  const range: RangeOptions = { reverse: options.reverse === true };
  for (const name of ['prefix', 'gt', 'gte', 'lt', 'lte'] as const) {
    const bound = options[name];
    if (bound !== undefined) range[name] = decodeArg(bound, encoding, `--${name}`);
  }
  if (options.limit !== undefined) range.limit = options.limit;
  const format = options.ndjson ? 'ndjson' : json ? 'json' : 'plain';
  await withStore(command, async (store) => {
    // keys() skips reading the values from disk.
    const entries = options.keysOnly ? withoutValues(store.keys(range)) : store.range(range);
    let first = true;
    if (format === 'json') await stdout.write('[');
    for await (const [key, value] of entries) {
      if (format === 'plain') {
        const valuePart = value === undefined ? [] : ['\t', plainBytes(value, encoding)];
        await stdout.write(plainBytes(key, encoding), ...valuePart, '\n');
      } else {
        const entry = value === undefined ? { key: key.toString(encoding) } : { key: key.toString(encoding), value: value.toString(encoding) };
        const separator = format === 'ndjson' ? '\n' : '';
        await stdout.write(format === 'json' && !first ? ',' : '', JSON.stringify(entry), separator);
      }
      first = false;
    }
    if (format === 'json') await stdout.write(']\n');
  });
}

async function stats(_options: unknown, command: Command): Promise<void> {
  const result = await withStore(command, async (store) => store.stats());
  const { json } = command.optsWithGlobals<Globals>();
  await stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatStats(result));
}

function codeOf(err: unknown): string {
  if (err instanceof UsageError || err instanceof TypeError || err instanceof RangeError) return 'KVCASK_USAGE';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('KVCASK_')) return code;
  // What is left with a code are system errors of the CLI's own reads (--file, stdin).
  return typeof code === 'string' ? 'KVCASK_IO' : 'KVCASK_INTERNAL';
}

const program = new Command('kvcask')
  .description('Read and write a kvcask store.')
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
  .addHelpText('after', '\nExit codes: 0 success, 1 key not found, 2 usage or other error.');

program.command('get').description('print the value of a key').argument('<key>').action(get);
program
  .command('set')
  .description('store a value: from the argument, else --file, else stdin')
  .argument('<key>')
  .argument('[value]')
  .option('--file <path>', 'read the value from this file')
  .action(set);
program.command('del').description('delete a key (a missing key is not an error)').argument('<key>').action(del);
program
  .command('scan')
  .description('list entries in key order, one "key<TAB>value" line each')
  .option('--prefix <key>', 'only keys starting with this')
  .option('--gt <key>', 'only keys after this')
  .option('--gte <key>', 'only keys from this on')
  .option('--lt <key>', 'only keys before this')
  .option('--lte <key>', 'only keys up to this')
  .option('--limit <n>', 'at most this many entries', parseLimit)
  .option('--reverse', 'descending key order')
  .option('--keys-only', 'print keys without values')
  .option('--ndjson', 'one JSON object per line (takes precedence over --json)')
  .action(scan);
program.command('stats').description('show key count, files, live and dead bytes, index memory and recovery').action(stats);
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
    process.stderr.write(`kvcask: ${codeOf(err)}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
}
