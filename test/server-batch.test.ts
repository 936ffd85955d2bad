import { describe, expect, it } from 'vitest';
import { request, serve } from './support/http.js';

const json = { 'content-type': 'application/json' };

describe('POST /batch', () => {
  it('applies puts and deletes in order and answers 204 once they are written', async () => {
    const { port, store } = await serve();
    await store.set('old', 'x');
    const body = JSON.stringify({
      operations: [
        { type: 'put', key: 'a', value: '1' },
        { type: 'put', key: 'b', value: '2' },
        { type: 'del', key: 'old' },
        { type: 'put', key: 'a', value: '3' },
      ],
    });
    expect((await request(port, '/batch', { method: 'POST', body, headers: json })).status).toBe(204);
    expect(store.getSync('a')?.toString()).toBe('3');
    expect(store.getSync('b')?.toString()).toBe('2');
    expect(store.has('old')).toBe(false);
  });

  it('decodes keys and values in the chosen encoding, so binary data fits in JSON', async () => {
    const { port, store } = await serve();
    const key = Buffer.from([0, 255, 10]);
    const value = Buffer.from([1, 2, 3, 0, 200]);
    const body = JSON.stringify({ encoding: 'base64', operations: [{ type: 'put', key: key.toString('base64'), value: value.toString('base64') }] });
    expect((await request(port, '/batch', { method: 'POST', body, headers: { 'content-type': 'application/json; charset=utf-8' } })).status).toBe(204);
    expect(store.getSync(key)?.equals(value)).toBe(true);
  });

  it('applies nothing when any operation is malformed, and says which one', async () => {
    const { port, store } = await serve();
    const cases = [
      { operations: [{ type: 'put', key: 'a', value: '1' }, { type: 'put', key: 'b' }] },
      { operations: [{ type: 'put', key: 'a', value: '1' }, { type: 'upsert', key: 'b', value: '2' }] },
      { encoding: 'hex', operations: [{ type: 'put', key: '61', value: '01' }, { type: 'put', key: 'zz', value: '00' }] },
      { operations: [{ type: 'put', key: 'a', value: '1' }, { type: 'del', key: 'b', value: '2' }] },
    ];
    for (const body of cases) {
      const reply = await request(port, '/batch', { method: 'POST', body: JSON.stringify(body), headers: json });
      expect(reply.status).toBe(400);
      expect(reply.json().code).toBe('KVCASK_BAD_REQUEST');
      expect(reply.json().message).toContain('operation 1');
    }
    expect(store.stats().keys).toBe(0);
  });

  it('applies nothing and answers 413 when one key is longer than the store allows', async () => {
    const { port, store } = await serve({}, { maxKeySize: 8 });
    const body = JSON.stringify({ operations: [{ type: 'put', key: 'short', value: '1' }, { type: 'put', key: 'much-too-long-key', value: '2' }] });
    const reply = await request(port, '/batch', { method: 'POST', body, headers: json });
    expect(reply.status).toBe(413);
    expect(reply.json().code).toBe('KVCASK_KEY_TOO_LARGE');
    expect(store.has('short')).toBe(false);
  });

  it('answers 400 for a body that is not JSON or not a batch object', async () => {
    const { port } = await serve();
    for (const body of ['{"operations": [', '[]', '{"operations": {}}', '{"operations": [], "extra": 1}', '{"encoding": "utf16", "operations": []}']) {
      const reply = await request(port, '/batch', { method: 'POST', body, headers: json });
      expect(reply.status, body).toBe(400);
    }
  });

  it('answers 415 when the body is not declared as JSON', async () => {
    const { port, store } = await serve();
    const body = JSON.stringify({ operations: [{ type: 'put', key: 'a', value: '1' }] });
    for (const headers of [{ 'content-type': 'text/plain' }, {} as Record<string, string>]) {
      const reply = await request(port, '/batch', { method: 'POST', body, headers });
      expect(reply.status).toBe(415);
      expect(reply.json().code).toBe('KVCASK_UNSUPPORTED_MEDIA_TYPE');
    }
    expect(store.has('a')).toBe(false);
  });
});
