import { byteSize } from './output.js';
/** When to draw: 'auto' only when the stream is a terminal. */
export type ProgressMode = 'auto' | 'always' | 'never';
export const progressModes: readonly ProgressMode[] = ['auto', 'always', 'never'];

export interface ProgressTarget {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface ProgressBarOptions {
  stream: ProgressTarget;
  mode?: ProgressMode;
  /** Milliseconds; for tests. */
  now?: () => number;
}

/** Redraws at most this often, so a fast loop does not spend its time drawing. */
const REDRAW_MS = 100;
const BAR_WIDTH = 24;

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}


function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/**
 * A one-line progress bar with rate and ETA, redrawn in place (carriage
 * return, then erase to the end of the line). Draws nothing unless enabled.
 */
export class ProgressBar {
  readonly enabled: boolean;
  private readonly now: () => number;
  private readonly started: number;
  private lastDraw = -Infinity;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly unit: string,
    private readonly options: ProgressBarOptions,
  ) {
    const mode = options.mode ?? 'auto';
    this.enabled = mode === 'always' || (mode === 'auto' && options.stream.isTTY === true);
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
  }

  /** `done` of `total` units (total 0: unknown); `bytes`, when given, adds a byte rate. */
  update(done: number, total: number, bytes?: number): void {
    if (!this.enabled) return;
    const now = this.now();
    if (now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.draw(this.line(done, total, bytes, now));
  }

  /** Draws the final state and ends the line. */
  finish(done: number, total: number, bytes?: number): void {
    if (!this.enabled) return;
    this.draw(this.line(done, total, bytes, this.now()));
    this.options.stream.write('\n');
    this.drawn = false;
  }

  /** Ends the line without a final state (after a failure), so that the error message starts on a line of its own. */
  stop(): void {
    if (this.enabled && this.drawn) this.options.stream.write('\n');
    this.drawn = false;
  }

  line(done: number, total: number, bytes: number | undefined, now: number): string {
    const seconds = Math.max((now - this.started) / 1000, 1e-3);
    const rate = done / seconds;
    const parts = [this.label];
    // A count of bytes reads better in binary units.
    const amount = this.unit === 'bytes' ? (n: number) => byteSize(n) : (n: number) => `${count(n)} ${this.unit}`;
    if (total > 0) {
      const fraction = Math.min(1, done / total);
      const filled = Math.round(fraction * BAR_WIDTH);
      parts.push(`${String(Math.floor(fraction * 100)).padStart(3)}%`, `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`);
      parts.push(this.unit === 'bytes' ? `${byteSize(done)}/${byteSize(total)}` : `${count(done)}/${count(total)} ${this.unit}`);
    } else {
      parts.push(amount(done));
    }
    parts.push(this.unit === 'bytes' ? `${byteSize(rate)}/s` : `${count(rate)} ${this.unit}/s`);
    if (bytes !== undefined) parts.push(`${byteSize(bytes / seconds)}/s`);
    if (total > 0) parts.push(`ETA ${rate > 0 ? duration((total - done) / rate) : '?'}`);
    return parts.join('  ');
  }

  private draw(line: string): void {
    const width = this.options.stream.columns;
    this.options.stream.write(`\r${width ? line.slice(0, width - 1) : line}\x1b[K`);
    this.drawn = true;
  }
}
