import type { Command } from 'commander';
import { open, type Store, type SyncMode } from '../lib/index.js';
import { type Encoding, Output } from './output.js';
import { ProgressBar, type ProgressMode } from './progress.js';

/** The options every command inherits from the program (flags, else KVCASK_* variables, else defaults). */
export interface Globals {
  dir: string;
  json?: boolean;
  encoding: Encoding;
  sync?: SyncMode;
  progress: ProgressMode;
}

export const stdout = new Output(process.stdout);

export function globals(command: Command): Globals {
  return command.optsWithGlobals<Globals>();
}

export async function withStore<T>(command: Command, use: (store: Store) => Promise<T>): Promise<T> {
  const { dir, sync } = globals(command);
  // A one-shot command starts no background merge (close() would only abort it); `compact` merges on request.
  // Otherwise pass only what the user chose, so that the library's defaults stay the defaults.
  const store = await open(dir, sync === undefined ? { autoMerge: false } : { sync, autoMerge: false });
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
