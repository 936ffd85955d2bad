import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Buckets, ScrapedHistogram } from '../lib/scraped-histogram.js';
import { request, serve } from './support/http.js';

const BOUNDS = [0.001, 0.01, 0.1, 1];
// Below, on and between the bounds, above the last one, and zero.
const OBSERVED = [0, 0.0005, 0.001, 0.002, 0.01, 0.05, 0.1, 0.5, 1, 3, 7.25];

describe('request metrics recorded as plain numbers and read at scrape time', () => {
  it('render the same Prometheus text as a prom-client Histogram fed the same observations', async () => {
    const reference = new Registry();
    const histogram = new Histogram({ name: 'h', help: 'help', labelNames: ['route', 'method'], buckets: BOUNDS, registers: [reference] });
    const ours = new Registry();
    const get = new Buckets(BOUNDS);
    const put = new Buckets(BOUNDS);
    new ScrapedHistogram(
      'h',
      'help',
      () => [
        [{ route: 'kv', method: 'GET' }, get],
        [{ route: 'kv', method: 'PUT' }, put],
      ],
      ours,
    );
    OBSERVED.forEach((value, i) => {
      histogram.observe({ route: 'kv', method: 'GET' }, value);
      get.observe(value);
      if (i % 3 === 0) {
        histogram.observe({ route: 'kv', method: 'PUT' }, value * 2);
        put.observe(value * 2);
      }
    });
    expect(await ours.metrics()).toBe(await reference.metrics());
    // prom-client adds an empty `exemplar` to its values (exemplars are off): compare the rest.
    const asJson = async (registry: Registry) =>
      JSON.parse(JSON.stringify(await registry.getMetricsAsJSON(), (key, value) => (key === 'exemplar' ? undefined : value)));
    expect(await asJson(ours)).toEqual(await asJson(reference));
  });

  it('start again from zero when the registry is reset', async () => {
    const registry = new Registry();
    const buckets = new Buckets(BOUNDS);
    new ScrapedHistogram('h', 'help', () => [[{}, buckets]], registry);
    buckets.observe(0.5);
    registry.resetMetrics();
    buckets.observe(0.005);
    const text = await registry.metrics();
    expect(text).toContain('h_bucket{le="0.001"} 0\nh_bucket{le="0.01"} 1\nh_bucket{le="0.1"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 0.005\nh_count 1');
  });

  it('count every request once however often /metrics is scraped', async () => {
    const { port } = await serve();
    await request(port, '/kv/a', { method: 'PUT', body: 'v' });
    for (let i = 0; i < 3; i++) await request(port, '/kv/a');
    await request(port, '/metrics');
    await request(port, '/kv/a');
    const text = (await request(port, '/metrics')).text;
    expect(text).toContain('kvcask_http_requests_total{route="kv",method="GET",status="200"} 4');
    expect(text).toContain('kvcask_http_requests_total{route="metrics",method="GET",status="200"} 1');
    expect(text).toContain('kvcask_http_request_duration_seconds_count{route="kv",method="GET"} 4');
    expect(text).toContain('kvcask_http_request_duration_seconds_bucket{le="+Inf",route="kv",method="GET"} 4');
    expect(text).toContain('kvcask_store_write_duration_seconds_count 1');
    const buckets = [...text.matchAll(/^kvcask_http_request_duration_seconds_bucket\{le="[^"]+",route="kv",method="GET"\} (\d+)$/gm)].map((m) => Number(m[1]));
    // Cumulative: never decreasing, ending at the count.
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(buckets.at(-1)).toBe(4);
  });
});
