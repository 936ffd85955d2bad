import { peers, isKvcask } from './registry.js';
import type { StoreRun } from './run-store.js';

const rowKey = (workload: string, durability: string) => (durability === 'n/a' ? workload : `${workload} [${durability}]`);
const microseconds = (ms: number | undefined) => (ms === undefined || Number.isNaN(ms) ? '' : (ms * 1000).toFixed(ms < 0.01 ? 2 : 1));

/**
 * Prints, per value size, a table of ops/s with each kvcask variant's ratio
 * to the best peer on that row (above 1: kvcask is faster), a table of p50 and
 * p99, and the memory and disk footprint after the bulk load.
 */
export function printReport(runs: StoreRun[]): void {
  const kvcaskNames = new Set(Object.values(peers).filter(isKvcask).map((peer) => peer.name));
  for (const valueSize of [...new Set(runs.map((run) => run.valueSize))]) {
    const sized = runs.filter((run) => run.valueSize === valueSize);
    const measured = sized.filter((run) => run.figures.length > 0);
    console.log(`\n=== ${sized[0].keys.toLocaleString('en')} keys of 16 B, values of ${valueSize} B ===`);
    for (const run of sized) {
      if (run.unavailable) console.log(`${run.store}: ${run.unavailable}`);
      if (run.error) console.log(`${run.store}: FAILED: ${run.error.split('\n')[0]}`);
    }
    const rows = [...new Set(measured.flatMap((run) => run.figures.map((f) => rowKey(f.workload, f.durability))))];
    const figure = (run: StoreRun, row: string) => run.figures.find((f) => rowKey(f.workload, f.durability) === row);
    const throughput: Record<string, Record<string, string>> = {};
    const latency: Record<string, Record<string, string>> = {};
    for (const row of rows) {
      const bestPeer = Math.max(0, ...measured.filter((run) => !kvcaskNames.has(run.store)).map((run) => figure(run, row)?.opsPerSec ?? 0));
      throughput[row] = {};
      latency[row] = {};
      for (const run of measured) {
        const f = figure(run, row);
        throughput[row][run.store] = f ? Math.round(f.opsPerSec).toLocaleString('en') : '';
        latency[row][run.store] = f?.p50Ms === undefined ? '' : `${microseconds(f.p50Ms)} / ${microseconds(f.p99Ms)}`;
      }
      for (const run of measured.filter((r) => kvcaskNames.has(r.store))) {
        const f = figure(run, row);
        throughput[row][`${run.store} ÷ best peer`] = f && bestPeer > 0 ? `${(f.opsPerSec / bestPeer).toFixed(2)}x` : '';
      }
    }
    console.log('ops/s (getMany: calls of 100 keys/s; range: ranges/s)');
    console.table(throughput);
    console.log('latency per operation, p50 / p99 in µs');
    console.table(latency);
    console.log('after the bulk load');
    console.table(
      Object.fromEntries(
        measured.map((run) => [
          run.store,
          {
            'RSS growth MiB': (((run.rssAfterLoadBytes ?? 0) - (run.rssBeforeLoadBytes ?? 0)) / 2 ** 20).toFixed(1),
            'on disk MiB': ((run.bytesOnDiskAfterLoad ?? 0) / 2 ** 20).toFixed(1),
            version: run.version,
          },
        ]),
      ),
    );
  }
}
