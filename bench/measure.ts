/** One tinybench task measured ROUNDS times (KVCASK_BENCH_ROUNDS, default 3) of TIME_MS each (KVCASK_BENCH_TIME, default 1000), median round reported. */
import { Bench } from 'tinybench';

export const ROUNDS = Number(process.env.KVCASK_BENCH_ROUNDS ?? 3);
const TIME_MS = Number(process.env.KVCASK_BENCH_TIME ?? 1000);

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export interface Figure {
  name: string;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Runs `fn` under tinybench ROUNDS times. `opsPerCall` operations happen in
 * each call; with `concurrency` that many calls are in flight at once, and
 * throughput is counted from wall time, since latency samples then overlap.
 */
export async function measure(name: string, fn: () => unknown, opsPerCall = 1, concurrency = 1): Promise<Figure> {
  const rounds: Figure[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const bench =
      concurrency > 1
        ? new Bench({ time: TIME_MS, warmupTime: 100, concurrency: 'task', threshold: concurrency, iterations: 0 })
        : new Bench({ time: TIME_MS, warmupTime: 100 });
    bench.add(name, fn as () => Promise<void>);
    const started = performance.now();
    await bench.run();
    const elapsed = performance.now() - started;
    const task = bench.tasks[0];
    const result = task.result;
    if (result.state !== 'completed') throw new Error(`${name}: ${result.state} ${'error' in result ? String(result.error) : ''}`);
    const opsPerSec = concurrency > 1 ? (task.runs * opsPerCall * 1000) / elapsed : (opsPerCall * 1000) / result.latency.p50;
    rounds.push({ name, opsPerSec, p50Ms: result.latency.p50 / opsPerCall, p99Ms: (result.latency.p99 ?? NaN) / opsPerCall });
  }
  return {
    name,
    opsPerSec: median(rounds.map((r) => r.opsPerSec)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
  };
}

