import type { Metric, Registry } from 'prom-client';

/**
 * The observations of one histogram series as plain numbers. Observing costs
 * a few comparisons and additions, where prom-client's own observe() hashes
 * the labels and looks the bucket up by a number-to-string property key on
 * every call: more than a whole GET hit costs the server.
 */
export class Buckets {
  /** Observations per bucket, not cumulative; those above the last bound are only in `count`. */
  readonly counts: Float64Array;
  count = 0;
  sum = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    if (i < bounds.length) this.counts[i]++;
    this.count++;
    this.sum += value;
  }
}

type Labels = Record<string, string>;

/** One line of the exposition, as prom-client's registry formats it. */
interface Value {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A Prometheus histogram whose series are Buckets, read only when the
 * registry is scraped. It takes the place of a prom-client Histogram in the
 * registry (same name, help, type and text: cumulative `_bucket` lines with
 * `le` first, then `_sum` and `_count`).
 */
export class ScrapedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly series: () => Iterable<[Labels, Buckets]>,
    registry: Registry,
  ) {
    // prom-client's registry takes any object with a name and get(); its types know only its own classes.
    registry.registerMetric(this as unknown as Metric);
  }

  /** What prom-client's registry reads: at scrape time (metrics()) and for getMetricsAsJSON(). */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Value[] }> {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const [labels, buckets] of this.series()) {
      let cumulative = 0;
      buckets.bounds.forEach((le, i) => {
        cumulative += buckets.counts[i];
        values.push({ metricName: bucket, labels: { le, ...labels }, value: cumulative });
      });
      values.push({ metricName: bucket, labels: { le: '+Inf', ...labels }, value: buckets.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: buckets.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: buckets.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Called by the registry's resetMetrics(). */
  reset(): void {
    for (const [, buckets] of this.series()) {
      buckets.counts.fill(0);
      buckets.count = 0;
      buckets.sum = 0;
    }
  }
}
