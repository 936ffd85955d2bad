import { describe, expect, it } from 'vitest';
import { request, serve } from './support/http.js';

describe('health, readiness and metrics', () => {
  it('answers /healthz and /readyz with 200 while serving', async () => {
    const { port } = await serve();
    expect((await request(port, '/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await request(port, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });
  });

  it('answers /readyz with 503 once the store refuses writes', async () => {
    const { port, store } = await serve();
    await store.close();
    const put = await request(port, '/kv/a', { method: 'PUT', body: 'v' });
    expect(put.status).toBe(503);
    expect(put.json().code).toBe('KVCASK_CLOSED');
    const ready = await request(port, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.json().code).toBe('KVCASK_UNAVAILABLE');
    expect((await request(port, '/healthz')).status).toBe(200);
  });

  it('exports request counts by route, method and status, latency histograms and store figures in Prometheus format', async () => {
    const { port } = await serve();
    await request(port, '/kv/a', { method: 'PUT', body: 'hello' });
    await request(port, '/kv/a');
    await request(port, '/kv/a');
    await request(port, '/kv/missing');
    const reply = await request(port, '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = reply.text;
    expect(text).toContain('kvcask_http_requests_total{route="kv",method="PUT",status="204"} 1');
    expect(text).toContain('kvcask_http_requests_total{route="kv",method="GET",status="200"} 2');
    expect(text).toContain('kvcask_http_requests_total{route="kv",method="GET",status="404"} 1');
    expect(text).toContain('kvcask_http_request_duration_seconds_count{route="kv",method="GET"} 3');
    expect(text).toContain('kvcask_store_write_duration_seconds_count 1');
    expect(text).toMatch(/^kvcask_store_keys 1$/m);
    expect(text).toMatch(/^kvcask_store_files 1$/m);
    expect(Number(/^kvcask_store_live_bytes (\d+)$/m.exec(text)![1])).toBeGreaterThan(5);
    expect(text).toMatch(/^kvcask_store_dead_bytes \d+$/m);
    expect(text).toMatch(/^kvcask_store_index_memory_bytes \d+$/m);
    expect(text).toMatch(/^kvcask_http_connections [1-9]\d*$/m);
  });

  it('adds the process metrics unless told not to', async () => {
    const { port } = await serve({ defaultMetrics: true });
    expect((await request(port, '/metrics')).text).toMatch(/^process_resident_memory_bytes \d+/m);
  });
});
