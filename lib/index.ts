export { open, Store } from './store.js';
export type { BatchOperation, DamageReport, FileStats, RecoveryStats, Stats } from './store.js';
export type { OpenOptions, SyncMode } from './options.js';
export type { RangeOptions } from './range.js';
export type { Bytes } from './encoding.js';
export type { FileSystem } from './filesystem.js';
export { codes, KvcaskError } from './errors.js';
export type { ErrorCode } from './errors.js';
