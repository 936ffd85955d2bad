import { Bench } from 'tinybench';

/** One workload's figures. Latencies are per operation, in milliseconds; absent where a run has no per-operation latency (bulk load). */
export interface Figure {
  workload: string;
  durability: 'durable' | 'no-sync' | 'n/a';
  opsPerSec: number;
  p50Ms?: number;
  p99Ms?: number;
  /** What one operation is, where it is not one key. */
  unit?: string;
}

/**
 * A task measured by tinybench. Calls making `opsPerCall` operations each
 * amortize the harness's own cost over fast reads: ops/s is operations per
 * mean call time, and p50/p99 are per call divided by `opsPerCall`.
 */
export async function perCall(fn: () => unknown, timeMs: number, opsPerCall: number): Promise<Pick<Figure, 'opsPerSec' | 'p50Ms' | 'p99Ms'>> {
  const bench = new Bench({ time: timeMs, warmupTime: Math.min(500, timeMs / 4) });
  bench.add('task', fn as () => Promise<void>);
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state !== 'completed') throw new Error(`task ${result.state}${'error' in result ? `: ${String(result.error)}` : ''}`);
  return {
    opsPerSec: (opsPerCall * 1000) / result.latency.mean,
    p50Ms: result.latency.p50 / opsPerCall,
    p99Ms: (result.latency.p99 ?? NaN) / opsPerCall,
  };
}

/** Growable store of latency samples without an object per sample. */
class Samples {
  private values = new Float64Array(1 << 16);
  length = 0;
  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
  percentile(p: number): number {
    if (this.length === 0) return NaN;
    const sorted = this.values.slice(0, this.length).sort();
    return sorted[Math.min(this.length - 1, Math.floor((p / 100) * this.length))];
  }
}

/**
 * `concurrency` loops each await `op` back to back for `warmupMs + timeMs`.
 * Every operation started after the warm-up is timed on its own, so p50 and
 * p99 are per operation even when many overlap; ops/s counts those operations
 * over the wall time from the end of the warm-up until the last one finished.
 */
export async function concurrentLoop(
  op: (client: number) => unknown,
  concurrency: number,
  timeMs: number,
  warmupMs = Math.min(500, timeMs / 4),
): Promise<Pick<Figure, 'opsPerSec' | 'p50Ms' | 'p99Ms'>> {
  const samples = new Samples();
  const measureFrom = performance.now() + warmupMs;
  const stopAt = measureFrom + timeMs;
  const client = async (id: number) => {
    for (;;) {
      const started = performance.now();
      if (started >= stopAt) return;
      await op(id);
      if (started >= measureFrom) samples.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, id) => client(id)));
  const elapsed = performance.now() - measureFrom;
  return { opsPerSec: (samples.length * 1000) / elapsed, p50Ms: samples.percentile(50), p99Ms: samples.percentile(99) };
}
