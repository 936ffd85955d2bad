import { crc32 } from 'node:zlib';
import { corruption } from './errors.js';
import type { IndexFile } from './index-file.js';
import { compareBytes } from './key-order.js';
import { recordSize } from './record.js';
import type { DataFile } from './segment.js';

/**
 * With index: 'disk', open() does not read every key, so the per-file
 * figures that memory mode gets from loading them (live keys and bytes, kept
 * tombstones, oldest sequence number) are saved at a clean close in COUNTS
 * and read back if the indexed files are still exactly those it describes.
 * Otherwise (after a crash, a merge or a seal) they are counted again from
 * the indexes by countLive(). Layout (docs/format.md, "Live counts"):
 *
 *   header (24 B): "KVCC" | version u16 | 0 u16 | file count u32 | 0 u32 | newest seq f64
 *   per file (40 B): id u32 | data length u32 | live keys f64 | live bytes f64 | kept bytes f64 | oldest seq f64
 *   trailer: crc32 u32 of every byte before it
 */
export const COUNTS_FILE = 'COUNTS';
const MAGIC = 0x4343564b; // "KVCC"
const VERSION = 1;
const HEADER = 24;
const PER_FILE = 40;

export interface LiveCounts {
  seq: number;
  files: { id: number; dataLength: number; liveKeys: number; liveBytes: number; keptBytes: number; minSeq: number }[];
}

export function encodeCounts(seq: number, files: readonly DataFile[]): Buffer {
  const buffer = Buffer.alloc(HEADER + PER_FILE * files.length + 4);
  buffer.writeUInt32LE(MAGIC, 0);
  buffer.writeUInt16LE(VERSION, 4);
  buffer.writeUInt32LE(files.length, 8);
  buffer.writeDoubleLE(seq, 16);
  files.forEach((file, i) => {
    const at = HEADER + PER_FILE * i;
    buffer.writeUInt32LE(file.id, at);
    buffer.writeUInt32LE(file.written, at + 4);
    buffer.writeDoubleLE(file.liveKeys, at + 8);
    buffer.writeDoubleLE(file.liveBytes, at + 16);
    buffer.writeDoubleLE(file.keptBytes, at + 24);
    buffer.writeDoubleLE(file.minSeq === Infinity ? -1 : file.minSeq, at + 32);
  });
  buffer.writeUInt32LE(crc32(buffer.subarray(0, buffer.length - 4)), buffer.length - 4);
  return buffer;
}

export function decodeCounts(buffer: Buffer, path: string): LiveCounts {
  if (buffer.length < HEADER + 4 || buffer.readUInt32LE(0) !== MAGIC) throw corruption('not a counts file', path, 0);
  if (buffer.readUInt16LE(4) !== VERSION) throw corruption(`counts file of version ${buffer.readUInt16LE(4)}`, path, 4);
  const count = buffer.readUInt32LE(8);
  if (buffer.length !== HEADER + PER_FILE * count + 4) throw corruption(`counts file of ${buffer.length} bytes cannot hold ${count} files`, path, 8);
  if (crc32(buffer.subarray(0, buffer.length - 4)) !== buffer.readUInt32LE(buffer.length - 4)) throw corruption('counts file failed its checksum', path, buffer.length - 4);
  const files: LiveCounts['files'] = [];
  for (let i = 0; i < count; i++) {
    const at = HEADER + PER_FILE * i;
    const minSeq = buffer.readDoubleLE(at + 32);
    files.push({
      id: buffer.readUInt32LE(at),
      dataLength: buffer.readUInt32LE(at + 4),
      liveKeys: buffer.readDoubleLE(at + 8),
      liveBytes: buffer.readDoubleLE(at + 16),
      keptBytes: buffer.readDoubleLE(at + 24),
      minSeq: minSeq === -1 ? Infinity : minSeq,
    });
  }
  return { seq: buffer.readDoubleLE(16), files };
}

/** Applies saved counts if they describe exactly `files`; returns whether they did. */
export function applyCounts(counts: LiveCounts, files: readonly DataFile[]): boolean {
  if (counts.files.length !== files.length) return false;
  const byId = new Map(files.map((file) => [file.id, file]));
  for (const saved of counts.files) {
    const file = byId.get(saved.id);
    if (!file || file.written !== saved.dataLength) return false;
  }
  for (const saved of counts.files) {
    const file = byId.get(saved.id)!;
    file.liveKeys = saved.liveKeys;
    file.liveBytes = saved.liveBytes;
    file.keptBytes = saved.keptBytes;
    file.minSeq = saved.minSeq;
  }
  return true;
}

/**
 * Counts, from the indexes alone, each file's live keys and bytes (a key is
 * live in the newest file that holds it, if that holds a value), its kept
 * tombstones and oldest sequence number: one pass over every index in key
 * order, merging them. Returns the newest sequence number seen.
 */
export function countLive(indexes: readonly IndexFile[], files: ReadonlyMap<number, DataFile>): number {
  const newestFirst = [...indexes].sort((a, b) => b.fileId - a.fileId);
  const owners = newestFirst.map((index) => files.get(index.fileId)!);
  const positions = new Array<number>(newestFirst.length).fill(0);
  const heads = newestFirst.map((index) => (index.count > 0 ? index.entryAt(0) : null));
  for (const file of owners) {
    file.liveKeys = 0;
    file.liveBytes = 0;
    file.keptBytes = 0;
    file.minSeq = Infinity;
  }
  let maxSeq = 0;
  for (;;) {
    let smallest: Buffer | null = null;
    for (const head of heads) if (head !== null && (smallest === null || compareBytes(head.key, smallest) < 0)) smallest = head.key;
    if (smallest === null) return maxSeq;
    let decided = false;
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i];
      if (head === null || compareBytes(head.key, smallest) !== 0) continue;
      const file = owners[i];
      if (head.seq < file.minSeq) file.minSeq = head.seq;
      if (head.seq > maxSeq) maxSeq = head.seq;
      // A merge kept this tombstone on purpose; a data file's tombstones are ordinary dead bytes.
      if (head.tombstone && file.segment !== null) file.keptBytes += recordSize(head.key.length, 0);
      if (!decided && !head.tombstone) {
        file.liveKeys++;
        file.liveBytes += recordSize(head.key.length, head.valueLength);
      }
      decided = true;
      positions[i]++;
      heads[i] = positions[i] < newestFirst[i].count ? newestFirst[i].entryAt(positions[i]) : null;
    }
  }
}
