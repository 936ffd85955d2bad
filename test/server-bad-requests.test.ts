import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { keyPath, request, serve } from './support/http.js';

/** Sends raw bytes and collects everything the server answers until it closes the connection. */
function raw(port: number, data: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(data));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

describe('requests the server refuses', () => {
  it('answers 400 for malformed percent-encoding in a key', async () => {
    const { port, store } = await serve();
    for (const path of ['/kv/a%', '/kv/a%2', '/kv/%zz', '/kv/%%41', '/kv/ok%g0']) {
      const reply = await request(port, path, { method: 'PUT', body: 'v' });
      expect(reply.status, path).toBe(400);
      expect(reply.json().code).toBe('KVCASK_BAD_REQUEST');
    }
    expect(store.stats().keys).toBe(0);
  });

  it('answers 413 for a key longer than maxKeySize, for reads and writes alike', async () => {
    const { port, store } = await serve({}, { maxKeySize: 16 });
    const long = Buffer.alloc(17, 0x61);
    for (const method of ['PUT', 'GET', 'DELETE']) {
      const reply = await request(port, keyPath(long), { method, body: method === 'PUT' ? 'v' : undefined });
      expect(reply.status, method).toBe(413);
      expect(reply.json().code).toBe('KVCASK_KEY_TOO_LARGE');
    }
    expect((await request(port, keyPath(long.subarray(1)), { method: 'PUT', body: 'v' })).status).toBe(204);
    expect(store.stats().keys).toBe(1);
  });

  it('refuses a body whose Content-Length is over the limit before reading it, and closes the connection', async () => {
    const { port } = await serve({ maxBodySize: 1000 });
    // Only the headers are sent: the answer must not wait for a body that never comes.
    const answer = await raw(port, 'PUT /kv/big HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/connection: close/i);
    expect(answer).toContain('"code":"KVCASK_BODY_TOO_LARGE"');
  });

  it('cuts off a chunked body the moment it passes the limit, and stores nothing', async () => {
    const { port, store } = await serve({ maxBodySize: 1000 });
    const reply = await request(port, '/kv/big', { method: 'PUT', body: Buffer.alloc(5000), headers: { 'transfer-encoding': 'chunked' } });
    expect(reply.status).toBe(413);
    expect(reply.json().code).toBe('KVCASK_BODY_TOO_LARGE');
    expect(store.has('big')).toBe(false);
  });

  it('limits a value to the store maxValueSize when that is below maxBodySize', async () => {
    const { port } = await serve({ maxBodySize: 1000 }, { maxValueSize: 10 });
    expect((await request(port, '/kv/v', { method: 'PUT', body: '0123456789' })).status).toBe(204);
    expect((await request(port, '/kv/v', { method: 'PUT', body: '0123456789a' })).status).toBe(413);
  });

  it('answers 405 with an Allow header for a method a route does not have', async () => {
    const { port } = await serve();
    const cases: [string, string, string][] = [
      ['POST', '/kv/a', 'GET, HEAD, PUT, DELETE'],
      ['PATCH', '/kv/a', 'GET, HEAD, PUT, DELETE'],
      ['PUT', '/kv', 'GET'],
      ['GET', '/batch', 'POST'],
      ['DELETE', '/healthz', 'GET, HEAD'],
      ['POST', '/metrics', 'GET'],
    ];
    for (const [method, path, allow] of cases) {
      const reply = await request(port, path, { method });
      expect(reply.status, `${method} ${path}`).toBe(405);
      expect(reply.headers.allow).toBe(allow);
      expect(reply.json().code).toBe('KVCASK_METHOD_NOT_ALLOWED');
    }
  });

  it('answers 404 with a JSON error for an unknown path', async () => {
    const { port } = await serve();
    const reply = await request(port, '/nope');
    expect(reply.status).toBe(404);
    expect(reply.json().code).toBe('KVCASK_NOT_FOUND');
  });

  it('answers a request that is not HTTP with 400 and closes the connection', async () => {
    const { port } = await serve();
    const answer = await raw(port, 'this is not http\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('KVCASK_BAD_REQUEST');
  });
});
