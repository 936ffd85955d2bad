/**
 * Every benchmark's record: bench/results/<name>-<UTC date, no colons>.json,
 * with the date first, so runs of one benchmark sort by time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Compiled to dist/bench/results-file.js: two levels up is the repository.
const RESULTS_DIR = new URL('../../bench/results/', import.meta.url);

/** Writes `{ date, ...fields }` and returns the file's path. */
export function saveResult(name: string, fields: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const date = new Date().toISOString();
  const file = new URL(`${name}-${date.slice(0, 19).replace(/:/g, '')}.json`, RESULTS_DIR);
  writeFileSync(file, JSON.stringify({ date, ...fields }, null, 2));
  return fileURLToPath(file);
}
