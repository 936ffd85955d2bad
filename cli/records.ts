import { readFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import { type Command, InvalidArgumentError } from 'commander';
import type { RangeOptions } from '../lib/index.js';
import { globals, stdout, withStore } from './context.js';
import { interruptSignal } from './interrupt.js';
import { decodeArg, plainBytes, UsageError } from './output.js';

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

function parseLimit(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError('expected a non-negative integer.');
  return Number(text);
}

async function get(keyArg: string, _options: unknown, command: Command): Promise<void> {
  const { json, encoding } = globals(command);
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
  const { encoding } = globals(command);
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
  const key = decodeArg(keyArg, globals(command).encoding, 'key');
  await withStore(command, (store) => store.delete(key));
}

async function* withoutValues(keys: AsyncIterable<Buffer>): AsyncGenerator<[Buffer, Buffer | undefined]> {
  for await (const key of keys) yield [key, undefined];
}

async function scan(options: ScanOptions, command: Command): Promise<void> {
  const { json, encoding } = globals(command);
  // A long scan stops at Ctrl-C between entries rather than mid-line.
  const range: RangeOptions = { reverse: options.reverse === true, signal: interruptSignal() };
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

/** get, set, del and scan. */
export function registerRecordCommands(program: Command): void {
  program.command('get').description('print the value of a key (exit 1 if missing)').argument('<key>').action(get);
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
}
