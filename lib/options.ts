import { constants as bufferConstants } from 'node:buffer';
import { describe } from './encoding.js';
import { type FileSystem, nodeFileSystem } from './filesystem.js';
import { FILE_HEADER_SIZE, FRAME_HEADER_SIZE, MAX_FILE_SIZE, MAX_KEY_SIZE, RECORD_HEADER_SIZE } from './record.js';

export type SyncMode = 'always' | 'interval' | 'none';

export interface OpenOptions {
  /** When a write's promise resolves: 'always' after fdatasync (default), 'interval' and 'none' after the write reached the OS. */
  sync?: SyncMode;
  /** With sync: 'interval', how often the active file is fdatasynced, in ms. Default 100. */
  syncInterval?: number;
  /** Size at which the active data file is sealed and a new one started. Default 128 MiB. */
  maxFileSize?: number;
  /** Longest key accepted, in bytes. Default 1024; at most 65535. */
  maxKeySize?: number;
  /** Longest value accepted, in bytes. Default 64 MiB. */
  maxValueSize?: number;
  /** Refuse to open when a data file is damaged anywhere but its torn tail, instead of skipping the damage. Default false. */
  strict?: boolean;
  /** The file-system implementation; for fault-injection tests. Default: node:fs. */
  fileSystem?: FileSystem;
}

export type ResolvedOptions = Required<OpenOptions>;

const DEFAULTS: ResolvedOptions = {
  sync: 'always',
  syncInterval: 100,
  maxFileSize: 128 * 1024 * 1024,
  maxKeySize: 1024,
  maxValueSize: 64 * 1024 * 1024,
  strict: false,
  fileSystem: nodeFileSystem,
};

const SMALLEST_FILE = 1024;
/** The largest maxValueSize: a record with the longest key must still fit in one data file, and in one Buffer. */
export const LARGEST_VALUE_SIZE = Math.min(bufferConstants.MAX_LENGTH, MAX_FILE_SIZE - FILE_HEADER_SIZE - FRAME_HEADER_SIZE - RECORD_HEADER_SIZE - MAX_KEY_SIZE);

function integerIn(options: OpenOptions, name: keyof OpenOptions, min: number, max: number): void {
  const value = options[name];
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`options.${name} must be an integer, got ${describe(value)}`);
  if (value < min || value > max) throw new RangeError(`options.${name} must be between ${min} and ${max}, got ${value}`);
}

export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) return { ...DEFAULTS };
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  const given = options as OpenOptions;
  for (const name of Object.keys(given)) {
    if (!(name in DEFAULTS)) throw new TypeError(`unknown option "${name}"`);
  }
  if (given.sync !== undefined && !['always', 'interval', 'none'].includes(given.sync)) {
    throw new TypeError(`options.sync must be 'always', 'interval' or 'none', got ${JSON.stringify(given.sync)}`);
  }
  if (given.strict !== undefined && typeof given.strict !== 'boolean') throw new TypeError('options.strict must be a boolean');
  if (given.fileSystem !== undefined && (typeof given.fileSystem !== 'object' || given.fileSystem === null)) {
    throw new TypeError('options.fileSystem must be an object implementing FileSystem');
  }
  integerIn(given, 'syncInterval', 1, 60_000);
  integerIn(given, 'maxFileSize', SMALLEST_FILE, MAX_FILE_SIZE);
  integerIn(given, 'maxKeySize', 0, MAX_KEY_SIZE);
  integerIn(given, 'maxValueSize', 0, LARGEST_VALUE_SIZE);
  const resolved = { ...DEFAULTS };
  for (const [name, value] of Object.entries(given)) if (value !== undefined) (resolved as Record<string, unknown>)[name] = value;
  return resolved;
}
