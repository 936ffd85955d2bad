import type { Command } from 'commander';
import { type IndexMode, open, type OpenOptions, type Store, type SyncMode } from '../lib/index.js';
import { type Encoding, Output } from './output.js';
import { ProgressBar, type ProgressMode } from './progress.js';

/** The options every command inherits from the program (flags, else KVCASK_* variables, else defaults). */
export interface Globals {
  dir: string;
  json?: boolean;
  encoding: Encoding;
  sync?: SyncMode;
  index?: IndexMode;
  progress: ProgressMode;
}

/** The store options the user chose with --sync and --index, and nothing else: the library's defaults stay the defaults. */
export function chosenStoreOptions(command: Command): OpenOptions {
  const { sync, index } = globals(command);
  return { ...(sync === undefined ? {} : { sync }), ...(index === undefined ? {} : { index }) };
}

export const stdout = new Output(process.stdout);

export function globals(command: Command): Globals {
  return command.optsWithGlobals<Globals>();
}

export async function withStore<T>(command: Command, use: (store: Store) => Promise<T>, extra: OpenOptions = {}): Promise<T> {
  // A one-shot command starts no background merge (close() would only abort it); `compact` merges on request.
  const store = await open(globals(command).dir, { ...chosenStoreOptions(command), autoMerge: false, ...extra });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** A progress bar on stderr, drawn as --progress says. */
export function progressBar(command: Command, label: string, unit: string): ProgressBar {
  return new ProgressBar(label, unit, { stream: process.stderr, mode: globals(command).progress });
}
