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
  /** How sealed files store their records: 'lz4' blocks (each kept raw when it does not shrink) or 'none'. Default 'lz4'. */
  compression?: Compression;
  /** Byte budget for decompressed blocks of sealed files kept in memory. Default 64 MiB; 0 caches nothing. */
  blockCacheSize?: number;
  /** Merge in the background when the policy below says so (and compress files as they are sealed). Default true. */
  autoMerge?: boolean;
  /** A merge starts when a sealed file has at least this fraction of dead bytes. Default 0.6. */
  mergeTriggerRatio?: number;
  /** ... or at least this many dead bytes. Default 512 MiB. */
  mergeTriggerBytes?: number;
  /** A merge takes every sealed file with at least this fraction of dead bytes. Default 0.4. */
  mergeIncludeRatio?: number;
  /** ... or at least this many dead bytes. Default 128 MiB. */
  mergeIncludeBytes?: number;
  /** ... or smaller than this on disk, so that small files get combined. Default 10 MiB. */
  mergeSmallFile?: number;
  /**
   * Upper bound on a merge's disk traffic (bytes read plus written per second); 0 for none. Default 12,000,000:
   * with it, a durable set's p99 during a merge stayed within 2x of its p99 without one (docs/performance.md).
   */
  mergeRateLimit?: number;
  /**
   * Where the index lives: 'memory' keeps every key in RAM (the fastest reads); 'disk' keeps only the
   * active file's keys in RAM and reads sealed files' keys from their .kvx index files. Default 'memory'.
   */
  index?: IndexMode;
  /** With index: 'disk', the byte budget for index pages kept in memory. Default 32 MiB; 0 caches nothing. */
  indexCacheSize?: number;
  /**
   * With index: 'disk', the bound on keys held in memory: the active file is sealed once it put this many keys
   * in the memory part, and writes wait while files sealed but not yet indexed hold more than this many.
   * Default 1,048,576; at least 1.
   */
  maxMemoryKeys?: number;
  /** The file-system implementation; for fault-injection tests. Default: node:fs. */
  fileSystem?: FileSystem;
}

export type IndexMode = 'memory' | 'disk';

export type Compression = 'lz4' | 'none';

export type ResolvedOptions = Required<OpenOptions>;

const DEFAULTS: ResolvedOptions = {
  sync: 'always',
  syncInterval: 100,
  maxFileSize: 128 * 1024 * 1024,
  maxKeySize: 1024,
  maxValueSize: 64 * 1024 * 1024,
  strict: false,
  compression: 'lz4',
  blockCacheSize: 64 * 1024 * 1024,
  autoMerge: true,
  mergeTriggerRatio: 0.6,
  mergeTriggerBytes: 512 * 1024 * 1024,
  mergeIncludeRatio: 0.4,
  mergeIncludeBytes: 128 * 1024 * 1024,
  mergeSmallFile: 10 * 1024 * 1024,
  mergeRateLimit: 12_000_000,
  index: 'memory',
  indexCacheSize: 32 * 1024 * 1024,
  maxMemoryKeys: 1_048_576,
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

function ratioIn(options: OpenOptions, name: keyof OpenOptions): void {
  const value = options[name];
  if (value === undefined) return;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`options.${name} must be a number, got ${describe(value)}`);
  if (value < 0 || value > 1) throw new RangeError(`options.${name} must be between 0 and 1, got ${value}`);
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
  for (const name of ['strict', 'autoMerge'] as const) {
    if (given[name] !== undefined && typeof given[name] !== 'boolean') throw new TypeError(`options.${name} must be a boolean`);
  }
  if (given.compression !== undefined && given.compression !== 'lz4' && given.compression !== 'none') {
    throw new TypeError(`options.compression must be 'lz4' or 'none', got ${JSON.stringify(given.compression)}`);
  }
  if (given.index !== undefined && given.index !== 'memory' && given.index !== 'disk') {
    throw new TypeError(`options.index must be 'memory' or 'disk', got ${JSON.stringify(given.index)}`);
  }
  ratioIn(given, 'mergeTriggerRatio');
  ratioIn(given, 'mergeIncludeRatio');
  for (const name of ['blockCacheSize', 'indexCacheSize', 'mergeTriggerBytes', 'mergeIncludeBytes', 'mergeSmallFile', 'mergeRateLimit'] as const) {
    integerIn(given, name, 0, Number.MAX_SAFE_INTEGER);
  }
  if (given.fileSystem !== undefined && (typeof given.fileSystem !== 'object' || given.fileSystem === null)) {
    throw new TypeError('options.fileSystem must be an object implementing FileSystem');
  }
  integerIn(given, 'syncInterval', 1, 60_000);
  integerIn(given, 'maxFileSize', SMALLEST_FILE, MAX_FILE_SIZE);
  integerIn(given, 'maxKeySize', 0, MAX_KEY_SIZE);
  integerIn(given, 'maxValueSize', 0, LARGEST_VALUE_SIZE);
  integerIn(given, 'maxMemoryKeys', 1, 2 ** 32 - 1);
  const resolved = { ...DEFAULTS };
  for (const [name, value] of Object.entries(given)) if (value !== undefined) (resolved as Record<string, unknown>)[name] = value;
  return resolved;
}
