import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { Buckets, ScrapedHistogram } from './scraped-histogram.js';
import type { Store } from './store.js';

/** What the server knows that the metrics report at scrape time. */
export interface ServerFigures {
  connections(): number;
  reservedBodyBytes(): number;
}

// Latency buckets in seconds: from a page-cached read (tens of µs) to a slow fsync under load.
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** What one route and method have seen: answers by status, and latencies. */
class RequestSeries {
  readonly statuses = new Map<number, number>();
  readonly latency = new Buckets(LATENCY_BUCKETS);

  constructor(readonly labels: { route: string; method: string }) {}
}

/**
 * The server's Prometheus metrics, in a registry of its own so that several
 * servers in one process do not mix their figures. A request is recorded
 * into plain numbers (two Map lookups, a few additions); prom-client reads
 * them when /metrics is scraped, since its own label handling on every
 * request would cost more than the request.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  // route -> method -> series; a method is any token a client sends, so the series come into being as seen.
  private readonly series = new Map<string, Map<string, RequestSeries>>();
  private readonly writes = new Buckets(LATENCY_BUCKETS);

  constructor(store: Store, figures: ServerFigures, defaultMetrics: boolean) {
    const registers = [this.registry];
    const series = this.series;
    new Counter({
      name: 'kvcask_http_requests_total',
      help: 'HTTP requests answered, by route, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers,
      collect() {
        this.reset();
        for (const byMethod of series.values()) {
          for (const { labels, statuses } of byMethod.values()) {
            for (const [status, count] of statuses) this.inc({ ...labels, status: String(status) }, count);
          }
        }
      },
    });
    new ScrapedHistogram(
      'kvcask_http_request_duration_seconds',
      'Time from a request arriving to its answer being handed to the socket, by route and method.',
      function* () {
        for (const byMethod of series.values()) for (const { labels, latency } of byMethod.values()) yield [labels, latency];
      },
      this.registry,
    );
    new ScrapedHistogram(
      'kvcask_store_write_duration_seconds',
      'Time for a store write (set, delete, batch) to be acknowledged: under sync "always", the wait for its group commit and fdatasync.',
      () => [[{}, this.writes]],
      this.registry,
    );
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge('kvcask_store_keys', 'Live keys in the store.', () => store.stats().keys);
    gauge('kvcask_store_live_bytes', 'Bytes of records the index points to.', () => store.stats().liveBytes);
    gauge('kvcask_store_dead_bytes', 'Bytes of overwritten or deleted records, tombstones and frame headers.', () => store.stats().deadBytes);
    gauge('kvcask_store_files', 'Data files.', () => store.stats().files.length);
    gauge('kvcask_store_index_memory_bytes', 'Estimated memory held by the index.', () => store.stats().indexMemoryBytes);
    gauge('kvcask_http_connections', 'Open client connections.', figures.connections);
    gauge('kvcask_http_body_bytes_reserved', 'Bytes reserved for request bodies being received or applied.', figures.reservedBodyBytes);
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  request(route: string, method: string, status: number, seconds: number): void {
    let byMethod = this.series.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.series.set(route, byMethod);
    }
    let series = byMethod.get(method);
    if (series === undefined) {
      series = new RequestSeries({ route, method });
      byMethod.set(method, series);
    }
    series.statuses.set(status, (series.statuses.get(status) ?? 0) + 1);
    series.latency.observe(seconds);
  }

  write(seconds: number): void {
    this.writes.observe(seconds);
  }
}
