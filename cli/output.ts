import type { Stats } from '../lib/index.js';
import { decodeText, type TextEncoding, textEncodings } from '../lib/text-encoding.js';

export type Encoding = TextEncoding;
export const encodings = textEncodings;

/** A mistake in how the CLI was called; reported as KVCASK_USAGE with exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The bytes a command-line key or value stands for under `encoding`. */
export function decodeArg(text: string, encoding: Encoding, what: string): Buffer {
  const bytes = decodeText(text, encoding);
  if (bytes === undefined) throw new UsageError(`${what} is not valid ${encoding}: ${JSON.stringify(text)}`);
  return bytes;
}

/** Plain (non-JSON) output under utf8 is the bytes themselves, so that it stays byte-exact even for binary data. */
export function plainBytes(bytes: Buffer, encoding: Encoding): Buffer | string {
  return encoding === 'utf8' ? bytes : bytes.toString(encoding);
}

/**
 * Writes to a stream with backpressure, so a long scan never piles up in memory.
 * Once the reader is gone (EPIPE from `| head`), writes throw its error instead of waiting for a drain that never comes.
 */
export class Output {
  private failure: Error | undefined;

  constructor(private readonly stream: NodeJS.WriteStream) {
    stream.on('error', (err) => {
      this.failure ??= err;
    });
  }

  async write(...chunks: (Buffer | string)[]): Promise<void> {
    for (const chunk of chunks) {
      if (this.failure) throw this.failure;
      if (this.stream.write(chunk)) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.stream.off('drain', done).off('error', done).off('close', done);
          resolve();
        };
        this.stream.on('drain', done).on('error', done).on('close', done);
      });
    }
    if (this.failure) throw this.failure;
  }
}

/** A byte count in binary units, for people. */
export function byteSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : `${byteSize(n)} (${n} bytes)`;
}

export function formatStats(stats: Stats): string {
  const { recovery } = stats;
  const sealed = stats.files.filter((file) => file.sealed).length;
  const recovered =
    recovery.truncatedBytes === 0 && recovery.skippedBytes === 0
      ? 'clean'
      : `truncated ${bytes(recovery.truncatedBytes)}, skipped ${bytes(recovery.skippedBytes)} in ${recovery.damaged.length} damaged range(s)`;
  const lines = [
    ['keys', String(stats.keys)],
    ['files', `${stats.files.length} (${sealed} sealed)`],
    ['live bytes', bytes(stats.liveBytes)],
    ['dead bytes', bytes(stats.deadBytes)],
    ['index memory', bytes(stats.indexMemoryBytes)],
    ['sync', stats.sync],
    ['recovery', `${recovered}; ${recovery.scannedFiles} file(s) scanned without a hint`],
    ...recovery.damaged.map((d) => ['  damaged', `${d.file} at offset ${d.offset}, ${d.length} bytes`]),
  ];
  if (stats.hintFailures > 0) lines.push(['hint failures', String(stats.hintFailures)]);
  const files = stats.files.map(
    (f) => `  ${f.name}  ${bytes(f.bytes)}, ${f.liveKeys} live keys, ${bytes(f.deadBytes)} dead${f.sealed ? '' : ', active'}`,
  );
  return [...lines.map(([label, value]) => `${label.padEnd(14)}${value}`), ...files].join('\n') + '\n';
}
