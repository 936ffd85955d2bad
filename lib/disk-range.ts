import { TOMBSTONE_LENGTH } from './disk-index.js';
import type { IndexFile } from './index-file.js';
import { compareBytes } from './key-order.js';
import type { Snapshot } from './keydir.js';
import { nextPage, type Page, type ResolvedRange } from './range.js';

/** Keys of one source in range order, and per key its file id, offset and value length. */
interface Run {
  keys: Buffer[];
  locations: number[];
  /** Whether the source may have more keys after the last one here. */
  full: boolean;
}

function beyondUpper(key: Buffer, range: ResolvedRange): boolean {
  const { lt, lte } = range.bounds;
  return (lt !== undefined && compareBytes(key, lt) >= 0) || (lte !== undefined && compareBytes(key, lte) > 0);
}

function beyondLower(key: Buffer, range: ResolvedRange): boolean {
  const { gt, gte } = range.bounds;
  return (gt !== undefined && compareBytes(key, gt) <= 0) || (gte !== undefined && compareBytes(key, gte) < 0);
}

/** Up to `max` entries of one index file after `after`, within the range: one seek, then a walk in key order. */
function indexRun(index: IndexFile, range: ResolvedRange, after: Buffer | undefined, max: number): Run {
  const run: Run = { keys: [], locations: [], full: false };
  const { gt, gte, lt, lte } = range.bounds;
  if (!range.reverse) {
    let position = after !== undefined ? index.seek(after, true) : gt !== undefined ? index.seek(gt, true) : gte !== undefined ? index.seek(gte, false) : 0;
    for (; position < index.count && run.keys.length < max; position++) {
      const entry = index.entryAt(position);
      if (beyondUpper(entry.key, range)) return run;
      run.keys.push(entry.key);
      run.locations.push(index.fileId, entry.offset, entry.tombstone ? TOMBSTONE_LENGTH : entry.valueLength);
    }
    run.full = position < index.count;
  } else {
    let end = after !== undefined ? index.seek(after, false) : lt !== undefined ? index.seek(lt, false) : lte !== undefined ? index.seek(lte, true) : index.count;
    for (; end > 0 && run.keys.length < max; end--) {
      const entry = index.entryAt(end - 1);
      if (beyondLower(entry.key, range)) return run;
      run.keys.push(entry.key);
      run.locations.push(index.fileId, entry.offset, entry.tombstone ? TOMBSTONE_LENGTH : entry.valueLength);
    }
    run.full = end > 0;
  }
  return run;
}

/**
 * Appends to `page` the next keys of a range in index: 'disk' mode, after
 * `after`: the in-memory part as of `snapshot` merged with every index file
 * in `indexes` (newest first), the newest record of each key winning. Keys
 * whose newest record is a delete come out with file id -1. The page ends
 * where a source that was cut short might be missing keys.
 */
export function nextDiskPage(snapshot: Snapshot, indexes: readonly IndexFile[], range: ResolvedRange, after: Buffer | undefined, max: number, page: Page): void {
  const memory: Page = { keys: [], locations: [] };
  nextPage(snapshot, range, after, max, memory);
  // The memory page holds at least `max` keys exactly when a list behind it was cut short.
  const runs: Run[] = [{ keys: memory.keys, locations: memory.locations, full: memory.keys.length >= max }];
  for (const index of indexes) runs.push(indexRun(index, range, after, max));
  const sign = range.reverse ? -1 : 1;
  let stop: Buffer | undefined;
  for (const run of runs) {
    if (!run.full || run.keys.length === 0) continue;
    const last = run.keys[run.keys.length - 1];
    if (stop === undefined || sign * compareBytes(last, stop) < 0) stop = last;
  }
  const at = new Array<number>(runs.length).fill(0);
  for (;;) {
    let next: Buffer | undefined;
    for (let r = 0; r < runs.length; r++) {
      const key = runs[r].keys[at[r]];
      if (key !== undefined && (next === undefined || sign * compareBytes(key, next) < 0)) next = key;
    }
    if (next === undefined || (stop !== undefined && sign * compareBytes(next, stop) > 0)) return;
    // The first run holding the key, the newest source, decides; a memory entry of -1 was absent from
    // the memory part at the snapshot, so the files below decide.
    let chosen: Run | null = null;
    let chosenAt = 0;
    for (let r = 0; r < runs.length; r++) {
      const run = runs[r];
      if (at[r] >= run.keys.length || compareBytes(run.keys[at[r]], next) !== 0) continue;
      if (chosen === null && !(r === 0 && run.locations[3 * at[r]] === -1)) {
        chosen = run;
        chosenAt = 3 * at[r];
      }
      at[r]++;
    }
    page.keys.push(next);
    if (chosen === null || chosen.locations[chosenAt + 2] === TOMBSTONE_LENGTH) page.locations.push(-1, 0, 0);
    else page.locations.push(chosen.locations[chosenAt], chosen.locations[chosenAt + 1], chosen.locations[chosenAt + 2]);
  }
}
