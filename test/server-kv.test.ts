import { describe, expect, it } from 'vitest';
import { keyPath, request, serve } from './support/http.js';

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe('PUT, GET, HEAD and DELETE /kv/{key}', () => {
  it('stores a value with PUT (204, durable) and returns exactly it with GET', async () => {
    const { port, store } = await serve();
    const put = await request(port, '/kv/greeting', { method: 'PUT', body: 'hello, world', headers: { 'content-type': 'text/plain' } });
    expect(put.status).toBe(204);
    expect(put.body.length).toBe(0);
    // Answered only after the write resolved, so the store already has it.
    expect(store.getSync('greeting')?.toString()).toBe('hello, world');
    const get = await request(port, '/kv/greeting');
    expect(get.status).toBe(200);
    expect(get.headers['content-type']).toBe('application/octet-stream');
    expect(get.text).toBe('hello, world');
  });

  it('answers HEAD with the length of the value and no body, and 404 for a missing key', async () => {
    const { port } = await serve();
    await request(port, '/kv/k', { method: 'PUT', body: '12345' });
    const head = await request(port, '/kv/k', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('5');
    expect(head.body.length).toBe(0);
    expect((await request(port, '/kv/missing', { method: 'HEAD' })).status).toBe(404);
  });

  it('answers 404 with a JSON error for a missing key', async () => {
    const { port } = await serve();
    const reply = await request(port, '/kv/nothing-here');
    expect(reply.status).toBe(404);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.json()).toEqual({ code: 'KVCASK_NOT_FOUND', message: 'no such key' });
  });

  it('deletes with DELETE (204), after which GET answers 404; deleting a missing key is also 204', async () => {
    const { port, store } = await serve();
    await request(port, '/kv/doomed', { method: 'PUT', body: 'x' });
    expect((await request(port, '/kv/doomed', { method: 'DELETE' })).status).toBe(204);
    expect(store.has('doomed')).toBe(false);
    expect((await request(port, '/kv/doomed')).status).toBe(404);
    expect((await request(port, '/kv/never-was', { method: 'DELETE' })).status).toBe(204);
  });

  it('keeps binary keys and values byte for byte, every byte value in both', async () => {
    const { port, store } = await serve();
    const value = Buffer.concat([allBytes, allBytes.reverse()]);
    expect((await request(port, keyPath(allBytes), { method: 'PUT', body: value })).status).toBe(204);
    expect(store.getSync(allBytes)?.equals(value)).toBe(true);
    const get = await request(port, keyPath(allBytes));
    expect(get.status).toBe(200);
    expect(get.body.equals(value)).toBe(true);
  });

  it('returns values of every size byte for byte: empty, small, and around and far past 16 KiB', async () => {
    const { port } = await serve();
    for (const length of [0, 1, 255, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 200_000]) {
      const value = Buffer.from(Array.from({ length }, (_, i) => (i * 131 + 7) & 0xff));
      expect((await request(port, `/kv/size-${length}`, { method: 'PUT', body: value })).status).toBe(204);
      const get = await request(port, `/kv/size-${length}`);
      expect(get.status).toBe(200);
      expect(get.headers['content-length']).toBe(String(length));
      expect(get.body.equals(value)).toBe(true);
    }
  });

  it('decodes %2F as a slash inside the key and takes unencoded characters as their bytes', async () => {
    const { port, store } = await serve();
    await request(port, '/kv/a%2Fb', { method: 'PUT', body: '1' });
    await request(port, '/kv/c/d', { method: 'PUT', body: '2' });
    await request(port, '/kv/%C3%A9t%C3%A9', { method: 'PUT', body: '3' });
    expect(store.getSync('a/b')?.toString()).toBe('1');
    expect(store.getSync('c/d')?.toString()).toBe('2');
    expect(store.getSync('été')?.toString()).toBe('3');
    // '+' is a literal plus in a path, not a space.
    await request(port, '/kv/x+y', { method: 'PUT', body: '4' });
    expect(store.getSync('x+y')?.toString()).toBe('4');
  });

  it('stores an empty body as an empty value, and an overwrite replaces the value', async () => {
    const { port } = await serve();
    expect((await request(port, '/kv/e', { method: 'PUT' })).status).toBe(204);
    const empty = await request(port, '/kv/e');
    expect(empty.status).toBe(200);
    expect(empty.body.length).toBe(0);
    await request(port, '/kv/e', { method: 'PUT', body: 'second' });
    expect((await request(port, '/kv/e')).text).toBe('second');
  });

  it('takes a body sent in chunks without a Content-Length', async () => {
    const { port, store } = await serve();
    const reply = await request(port, '/kv/chunked', { method: 'PUT', body: Buffer.alloc(100_000, 7), headers: { 'transfer-encoding': 'chunked' } });
    expect(reply.status).toBe(204);
    expect(store.getSync('chunked')?.equals(Buffer.alloc(100_000, 7))).toBe(true);
  });
});
