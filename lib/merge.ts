import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import { codes, corruption, ioError, KvcaskError } from './errors.js';
import { type FileSystem, readWholeFile, writeFileAtomically } from './filesystem.js';
import { HintBuilder } from './hint.js';
import { hashOf, type Keydir } from './keydir.js';
import type { ResolvedOptions } from './options.js';
import { FILE_HEADER_SIZE, FLAG_TOMBSTONE } from './record.js';
import { BACKGROUND_SLICE_MS, TimeSlice } from './time-slice.js';
import { scanSegment, SegmentBuilder, segmentFileName } from './sealed-segment.js';
import { type DataFile, deadBytes, FILE_ID_STEP, fileBytes, hintFileName, indexFileName, newDataFile, recordBytes, type ScannedRecord, scanDataFile } from './segment.js';

/**
 * Merges rewrite the live records of some sealed files into new sealed
 * segments and retire the old files.
 *
 * Ordering: at open, files are applied in id order and the last record of a
 * key wins. A merge names its outputs with the ids right after its newest
 * input (data files are FILE_ID_STEP apart, leaving room). That keeps the
 * rule true: a copied record was its key's newest when copied, so it is newer
 * than any record of that key in a file before the outputs, and anything
 * written meanwhile goes to a file after them.
 *
 * Tombstones: one is dropped when no file before the outputs, other than the
 * inputs, holds a record older than it (each file's lowest sequence number says
 * so), or when its key's newer value sits in such a file. It is kept when its
 * key has a newer value in an input or after the outputs: that value may not
 * be durable yet. Else a deleted key could return.
 *
 * Crash atomicity: outputs are written as `<id>.kvs.merging` with hints
 * `<id>.hint.merging`, made durable, then the MERGE marker (inputs and outputs)
 * is written atomically: that is the commit. After it, outputs are renamed and
 * inputs deleted; open() redoes those steps while MERGE exists, and deletes
 * `.merging` leftovers when it does not.
 */

export const MERGE_MARKER = 'MERGE';
const MARKER_MAGIC = 0x4d43564b; // "KVCM"
const MARKER_VERSION = 1;
const PENDING = '.merging';
/** Moves relocated between two looks at the clock when a merge switches the index over. */
const RELOCATE_CHUNK = 256;

export interface MergeProgress {
  /** Bytes of input files read so far. */
  bytesDone: number;
  bytesTotal: number;
}

export interface CompactOptions {
  signal?: AbortSignal;
  onProgress?: (progress: MergeProgress) => void;
}

export interface MergeResult {
  filesMerged: number;
  filesWritten: number;
  /** Bytes the merged files took on disk. */
  bytesBefore: number;
  /** Bytes the files written take on disk. */
  bytesAfter: number;
}

export function pendingSegmentName(id: number): string {
  return `${segmentFileName(id)}${PENDING}`;
}

export function pendingHintName(id: number): string {
  return `${hintFileName(id)}${PENDING}`;
}

export function pendingIndexName(id: number): string {
  return `${indexFileName(id)}${PENDING}`;
}

/** Whether `name` is something an unfinished merge left behind. */
export function isMergeLeftover(name: string): boolean {
  return /^\d{8,10}\.(kvs|hint|kvx)\.merging(\.tmp)?$/.test(name) || name === `${MERGE_MARKER}.tmp`;
}

/**
 * The files a merge should take now, or none. The automatic policy starts a
 * merge when a file is dead enough (or, with compression on, when a sealed
 * data file awaits compression) and then takes every file that is dead enough
 * to include, small, or uncompressed. `everything` takes every sealed file.
 */
export function planMerge(files: readonly DataFile[], options: ResolvedOptions, everything: boolean): DataFile[] {
  const sealed = files.filter((file) => file.sealed && !file.retired);
  // One file alone is rewritten only if that changes something.
  if (everything) return sealed.length > 1 ? sealed : sealed.filter((file) => file.segment === null || deadBytes(file) > 0 || file.keptBytes > 0);
  const compress = options.compression === 'lz4';
  const ratio = (file: DataFile) => deadBytes(file) / Math.max(1, recordBytes(file));
  const triggered = sealed.some(
    (file) =>
      (compress && file.segment === null) ||
      (deadBytes(file) > 0 && (ratio(file) >= options.mergeTriggerRatio || deadBytes(file) >= options.mergeTriggerBytes)),
  );
  if (!triggered) return [];
  return sealed.filter(
    (file) =>
      (compress && file.segment === null) ||
      (deadBytes(file) > 0 && (ratio(file) >= options.mergeIncludeRatio || deadBytes(file) >= options.mergeIncludeBytes)) ||
      // Small by its records, and relative to maxFileSize, or with small files every file would count as small.
      recordBytes(file) < Math.min(options.mergeSmallFile, options.maxFileSize / 4),
  );
}

export interface MergeHost {
  readonly dir: string;
  readonly fileSystem: FileSystem;
  readonly options: ResolvedOptions;
  /** Every file, in id order, including retired ones still open. */
  allFiles(): DataFile[];
  /** Whether the record at (`fileId`, `offset`) is its key's newest, or may become it again if a queued write fails. */
  holdsNewest(key: Uint8Array, hash: number, fileId: number, offset: number): boolean;
  /** The id of the file holding `key`'s newest value, or -1 when it has none. */
  valueHolder(key: Uint8Array): number;
  /** Called as a value is copied; returns the moment of the copy, so that later changes to its liveness can be told from earlier ones. */
  copyStamp(key: Uint8Array, fileId: number, offset: number): number;
}

/** Per record moved: key hash, input id, input offset, output id, output offset, record size, copy stamp. */
const MOVE = 7;

/** The outputs of a merge, written and durable but not yet committed, and the records they took over. */
export class MergeRun {
  readonly outputs: DataFile[] = [];
  private readonly builders: SegmentBuilder[] = [];
  private readonly hints: HintBuilder[] = [];
  moves: Float64Array;
  moveCount = 0;
  /** Per input id: the range of its moves, in input offset order. */
  readonly inputMoves = new Map<number, [number, number]>();

  constructor(
    readonly inputs: DataFile[],
    private nextId: number,
    private readonly lastId: number,
  ) {
    // Sized for the inputs' live records, the most it can take: growing it by copying megabytes would stall the event loop.
    const live = inputs.reduce((sum, file) => sum + file.liveKeys, 0);
    this.moves = new Float64Array(MOVE * Math.max(4096, live + 1024));
  }

  addMove(hash: number, input: number, inputOffset: number, output: number, outputOffset: number, size: number, stamp: number): void {
    if ((this.moveCount + 1) * MOVE > this.moves.length) {
      const bigger = new Float64Array(this.moves.length * 2);
      bigger.set(this.moves);
      this.moves = bigger;
    }
    const at = this.moveCount++ * MOVE;
    this.moves[at] = hash;
    this.moves[at + 1] = input;
    this.moves[at + 2] = inputOffset;
    this.moves[at + 3] = output;
    this.moves[at + 4] = outputOffset;
    this.moves[at + 5] = size;
    this.moves[at + 6] = stamp;
  }

  /** Where the record at (input, offset) went, as the index of its move, or -1 if it was not copied. */
  findMove(input: number, offset: number): number {
    const range = this.inputMoves.get(input);
    if (!range) return -1;
    let [low, high] = range;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const at = this.moves[middle * MOVE + 2];
      if (at === offset) return middle;
      if (at < offset) low = middle + 1;
      else high = middle;
    }
    return -1;
  }

  /** The copy stamp of move `index` (MergeHost.copyStamp). */
  stampOf(index: number): number {
    return this.moves[index * MOVE + 6];
  }

  /** The size of the record of move `index`. */
  sizeOf(index: number): number {
    return this.moves[index * MOVE + 5];
  }

  /** Where the record of move `index` went: output id and offset. */
  outputOf(index: number): [number, number] {
    return [this.moves[index * MOVE + 3], this.moves[index * MOVE + 4]];
  }

  /** The output that takes the next record of `size` bytes: a new one once the current one would pass maxFileSize. */
  outputFor(host: MergeHost, size: number): number {
    const current = this.builders.length - 1;
    if (current >= 0) {
      const length = this.builders[current].logicalLength;
      if (length === FILE_HEADER_SIZE || length + size <= host.options.maxFileSize) return current;
    }
    if (this.nextId >= this.lastId) {
      throw new KvcaskError(codes.FAILED, 'merge ran out of file ids after its newest input; it will be retried with other files');
    }
    const id = this.nextId++;
    const file = newDataFile(host.dir, id, -1, 0);
    file.path = `${host.dir}/${segmentFileName(id)}`;
    file.sealed = true;
    this.outputs.push(file);
    this.builders.push(new SegmentBuilder(host.fileSystem, `${host.dir}/${pendingSegmentName(id)}`, file.path, id, host.options.compression === 'lz4'));
    this.hints.push(new HintBuilder());
    return this.builders.length - 1;
  }

  get bytesWritten(): number {
    return this.builders.reduce((sum, builder) => sum + builder.storedBytes, 0);
  }

  builder(index: number): SegmentBuilder {
    return this.builders[index];
  }

  hint(index: number): HintBuilder {
    return this.hints[index];
  }

  /** Writes what every output still holds in memory; outputs before the current one are finished. */
  async flush(host: MergeHost, final: boolean): Promise<void> {
    for (let i = 0; i < this.builders.length; i++) {
      const builder = this.builders[i];
      const file = this.outputs[i];
      if (file.segment !== null) continue;
      const last = i === this.builders.length - 1;
      if (!last || final) {
        if (!builder.created) await builder.create();
        const { fd, segment } = await builder.finish();
        file.fd = fd;
        file.segment = segment;
        file.end = file.written = segment.logicalLength;
        const hint = this.hints[i].finish(file.id, segment.logicalLength);
        try {
          await writeFileAtomically(host.fileSystem, host.dir, pendingHintName(file.id), hint);
        } catch (err) {
          throw ioError('write hint', `${host.dir}/${pendingHintName(file.id)}`, err);
        }
      } else if (builder.blockFull) {
        if (!builder.created) await builder.create();
        await builder.cutBlock();
      }
    }
  }

  /** Removes every output file; the merge will not be committed. */
  async discard(host: MergeHost): Promise<void> {
    for (const builder of this.builders) await builder.discard();
    for (const file of this.outputs) {
      await host.fileSystem.unlink(`${host.dir}/${pendingHintName(file.id)}`).catch(() => {});
      await host.fileSystem.unlink(`${host.dir}/${pendingIndexName(file.id)}`).catch(() => {});
    }
  }
}

function aborted(signal: AbortSignal): KvcaskError {
  return new KvcaskError(codes.ABORTED, 'the merge was aborted', { cause: signal.reason });
}

/**
 * Copies the live records of `inputs` into new segments, in bounded slices
 * of event-loop time, at most `mergeRateLimit` bytes per second. Returns the
 * durable, uncommitted outputs; on failure or abort they are removed.
 */
export async function writeMergeOutputs(host: MergeHost, inputs: DataFile[], signal: AbortSignal | undefined, onProgress?: (p: MergeProgress) => void): Promise<MergeRun> {
  const files = host.allFiles();
  const newest = Math.max(...inputs.map((file) => file.id));
  const after = files.find((file) => file.id > newest);
  const lastId = after ? after.id : newest + FILE_ID_STEP;
  const run = new MergeRun(inputs, newest + 1, lastId);
  const inputIds = new Set(inputs.map((file) => file.id));
  // A tombstone may go only if it is older than every record in the other files before the outputs.
  let floor = Infinity;
  for (const file of files) if (!file.retired && !inputIds.has(file.id) && file.id < newest && file.minSeq < floor) floor = file.minSeq;
  const bytesTotal = inputs.reduce((sum, file) => sum + fileBytes(file), 0);
  const rate = host.options.mergeRateLimit;
  const started = performance.now();
  const slice = new TimeSlice(BACKGROUND_SLICE_MS);

  const pace = async (bytesRead: number) => {
    if (signal?.aborted) throw aborted(signal);
    await run.flush(host, false);
    onProgress?.({ bytesDone: bytesRead, bytesTotal });
    const due = rate > 0 ? ((bytesRead + run.bytesWritten) / rate) * 1000 - (performance.now() - started) : 0;
    if (due > 1) {
      await sleep(due);
      slice.restart();
    } else {
      await slice.pause();
    }
  };

  try {
    let readBefore = 0;
    for (const input of inputs) {
      const first = run.moveCount;
      // Bytes of this input read so far, from the end of the last record seen (logical offsets scaled to stored bytes
      // in a segment): counted as the scan goes, so the rate limit spreads the merge's I/O evenly over each file
      // instead of letting a whole file through at full speed and then sleeping for it.
      const scale = input.segment !== null ? fileBytes(input) / Math.max(1, input.segment.logicalLength) : 1;
      let within = 0;
      const paceWithin = () => pace(readBefore + Math.floor(within * scale));
      const onRecord = (record: ScannedRecord, bytes: Buffer) => {
        within = record.offset + bytes.length;
        const tombstone = (record.flags & FLAG_TOMBSTONE) !== 0;
        const hash = hashOf(record.key);
        if (tombstone) {
          if (record.seq < floor) return;
          // Kept while its key is absent, and also when the key's newer value is in an input (copied after it) or
          // in a file after the outputs (maybe not durable yet). Dropped only when that value sits in a file before
          // the outputs, which the tombstone would otherwise shadow.
          const holder = host.valueHolder(record.key);
          if (holder >= 0 && !inputIds.has(holder) && holder < newest) return;
        } else if (!host.holdsNewest(record.key, hash, input.id, record.offset)) {
          return;
        }
        const index = run.outputFor(host, bytes.length);
        const output = run.outputs[index];
        const offset = run.builder(index).add(bytes);
        run.hint(index).add(record.seq, offset, record.valueLength, record.flags, record.key);
        if (record.seq < output.minSeq) output.minSeq = record.seq;
        if (tombstone) output.keptBytes += bytes.length;
        else run.addMove(hash, input.id, record.offset, output.id, offset, bytes.length, host.copyStamp(record.key, input.id, record.offset));
      };
      if (signal?.aborted) throw aborted(signal);
      if (input.segment !== null) {
        const damaged = await scanSegment(host.fileSystem, input.fd, input.segment, onRecord, paceWithin);
        if (damaged.length > 0) throw corruption('a block failed its checks during a merge', input.path, damaged[0].offset);
      } else {
        const scan = await scanDataFile(host.fileSystem, input.fd, input.written, FILE_HEADER_SIZE, onRecord, paceWithin);
        if (scan.damaged.length > 0 || scan.tailBytes > 0) {
          const at = scan.damaged[0]?.offset ?? scan.validEnd;
          throw corruption('damaged data found during a merge', input.path, at);
        }
      }
      readBefore += fileBytes(input);
      run.inputMoves.set(input.id, [first, run.moveCount]);
      await pace(readBefore);
    }
    await run.flush(host, true);
    await host.fileSystem.syncDir(host.dir);
    return run;
  } catch (err) {
    await run.discard(host);
    throw err;
  }
}

/**
 * Points the index at the output copy (or, `backwards`, back at the input) of
 * every record in moves [start, end) that is still where the merge found it,
 * moving its bytes between the files' live counts.
 */
export function relocateRange(keydir: Keydir, run: MergeRun, files: Map<number, DataFile>, start: number, end: number, backwards = false): void {
  const moves = run.moves;
  const fromAt = backwards ? 3 : 1;
  const toAt = backwards ? 1 : 3;
  for (let i = start; i < end; i++) {
    const at = i * MOVE;
    const from = moves[at + fromAt];
    const to = moves[at + toAt];
    if (!keydir.relocate(moves[at], from, moves[at + fromAt + 1], to, moves[at + toAt + 1])) continue;
    const size = moves[at + 5];
    const source = files.get(from)!;
    const target = files.get(to)!;
    source.liveBytes -= size;
    source.liveKeys--;
    target.liveBytes += size;
    target.liveKeys++;
  }
}

/** relocateRange over every move, in bounded slices of event-loop time (both copies are valid meanwhile). */
export async function relocate(keydir: Keydir, run: MergeRun, files: Map<number, DataFile>, backwards = false): Promise<void> {
  const slice = new TimeSlice(BACKGROUND_SLICE_MS);
  for (let start = 0; start < run.moveCount; start += RELOCATE_CHUNK) {
    const end = Math.min(run.moveCount, start + RELOCATE_CHUNK);
    relocateRange(keydir, run, files, start, end, backwards);
    if (end < run.moveCount) await slice.pause();
  }
}

// ---- the MERGE marker ------------------------------------------------------

/** MERGE: "KVCM" | version u16 | 0 u16 | input count u32 | output count u32 | input ids u32... | output ids u32... | crc32 of all before. */
export function encodeMarker(inputs: readonly number[], outputs: readonly number[]): Buffer {
  const buffer = Buffer.alloc(16 + 4 * (inputs.length + outputs.length) + 4);
  buffer.writeUInt32LE(MARKER_MAGIC, 0);
  buffer.writeUInt16LE(MARKER_VERSION, 4);
  buffer.writeUInt32LE(inputs.length, 8);
  buffer.writeUInt32LE(outputs.length, 12);
  [...inputs, ...outputs].forEach((id, i) => buffer.writeUInt32LE(id, 16 + 4 * i));
  buffer.writeUInt32LE(crc32(buffer.subarray(0, buffer.length - 4)), buffer.length - 4);
  return buffer;
}

export function decodeMarker(buffer: Buffer, path: string): { inputs: number[]; outputs: number[] } {
  if (buffer.length < 20 || buffer.readUInt32LE(buffer.length - 4) !== crc32(buffer.subarray(0, buffer.length - 4))) {
    throw corruption('the MERGE marker is damaged: whether its merge committed is unknown', path, 0);
  }
  if (buffer.readUInt32LE(0) !== MARKER_MAGIC || buffer.readUInt16LE(4) !== MARKER_VERSION) {
    throw corruption('the MERGE marker has an unknown format', path, 0);
  }
  const inputCount = buffer.readUInt32LE(8);
  const outputCount = buffer.readUInt32LE(12);
  if (buffer.length !== 20 + 4 * (inputCount + outputCount)) throw corruption('the MERGE marker has a wrong length', path, 8);
  const ids = Array.from({ length: inputCount + outputCount }, (_, i) => buffer.readUInt32LE(16 + 4 * i));
  return { inputs: ids.slice(0, inputCount), outputs: ids.slice(inputCount) };
}

export async function writeMarker(fsys: FileSystem, dir: string, inputs: readonly number[], outputs: readonly number[]): Promise<void> {
  try {
    await writeFileAtomically(fsys, dir, MERGE_MARKER, encodeMarker(inputs, outputs));
  } catch (err) {
    throw ioError('write', `${dir}/${MERGE_MARKER}`, err);
  }
}

async function unlinkIfThere(fsys: FileSystem, path: string): Promise<void> {
  try {
    await fsys.unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('unlink', path, err);
  }
}

async function renameIfThere(fsys: FileSystem, from: string, to: string): Promise<void> {
  try {
    await fsys.rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('rename', from, err);
  }
}

/** The steps after the commit, each safe to repeat: outputs renamed into place, inputs deleted, marker removed. */
export async function completeMerge(fsys: FileSystem, dir: string, inputs: readonly number[], outputs: readonly number[]): Promise<void> {
  for (const id of outputs) {
    await renameIfThere(fsys, `${dir}/${pendingSegmentName(id)}`, `${dir}/${segmentFileName(id)}`);
    await renameIfThere(fsys, `${dir}/${pendingHintName(id)}`, `${dir}/${hintFileName(id)}`);
    await renameIfThere(fsys, `${dir}/${pendingIndexName(id)}`, `${dir}/${indexFileName(id)}`);
  }
  await fsys.syncDir(dir);
  for (const id of inputs) {
    for (const name of [`${String(id).padStart(8, '0')}.data`, segmentFileName(id), hintFileName(id), indexFileName(id)]) await unlinkIfThere(fsys, `${dir}/${name}`);
  }
  await fsys.syncDir(dir);
  await unlinkIfThere(fsys, `${dir}/${MERGE_MARKER}`);
  await fsys.syncDir(dir);
}

/** At open: finishes a committed merge, or removes what an uncommitted one left. */
export async function recoverMerge(fsys: FileSystem, dir: string, names: readonly string[]): Promise<void> {
  if (names.includes(MERGE_MARKER)) {
    const path = `${dir}/${MERGE_MARKER}`;
    let buffer: Buffer;
    try {
      buffer = await readWholeFile(fsys, path);
    } catch (err) {
      throw ioError('read', path, err);
    }
    const { inputs, outputs } = decodeMarker(buffer, path);
    await completeMerge(fsys, dir, inputs, outputs);
  }
  const leftovers = names.filter(isMergeLeftover);
  for (const name of leftovers) await unlinkIfThere(fsys, `${dir}/${name}`);
  if (leftovers.length > 0) await fsys.syncDir(dir);
}
