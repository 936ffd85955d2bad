import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from './store.js';

/** What the server knows that the metrics report at scrape time. */
export interface ServerFigures {
  connections(): number;
  reservedBodyBytes(): number;
}

// Latency buckets in seconds: from a page-cached read (tens of µs) to a slow fsync under load.
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The server's Prometheus metrics, in a registry of its own so that several
 * servers in one process do not mix their figures. Request metrics use
 * label children cached per combination: looking labels up on every request
 * would cost more than the request.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status'>;
  private readonly durations: Histogram<'route' | 'method'>;
  private readonly writes: Histogram;
  private readonly requestChildren = new Map<string, Counter.Internal>();
  private readonly durationChildren = new Map<string, Histogram.Internal<'route' | 'method'>>();

  constructor(store: Store, figures: ServerFigures, defaultMetrics: boolean) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'kvcask_http_requests_total', help: 'HTTP requests answered, by route, method and status.', labelNames: ['route', 'method', 'status'], registers });
    this.durations = new Histogram({
      name: 'kvcask_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer being handed to the socket, by route and method.',
      labelNames: ['route', 'method'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.writes = new Histogram({
      name: 'kvcask_store_write_duration_seconds',
      help: 'Time for a store write (set, delete, batch) to be acknowledged: under sync "always", the wait for its group commit and fdatasync.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
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
    const key = `${route} ${method} ${status}`;
    let counter = this.requestChildren.get(key);
    if (counter === undefined) {
      counter = this.requests.labels(route, method, String(status));
      this.requestChildren.set(key, counter);
    }
    counter.inc();
    const durationKey = `${route} ${method}`;
    let histogram = this.durationChildren.get(durationKey);
    if (histogram === undefined) {
      histogram = this.durations.labels(route, method);
      this.durationChildren.set(durationKey, histogram);
    }
    histogram.observe(seconds);
  }

  write(seconds: number): void {
    this.writes.observe(seconds);
  }
}
