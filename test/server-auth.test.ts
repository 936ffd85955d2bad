import { readFileSync } from 'node:fs';
import https from 'node:https';
import { describe, expect, it } from 'vitest';
import { request, serve } from './support/http.js';

const token = 's3cret-token';

describe('bearer token authentication', () => {
  it('answers 401 without a token or with a wrong one, and changes nothing', async () => {
    const { port, store } = await serve({ authToken: token });
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: token }, { authorization: `Basic ${token}` }, { authorization: `Bearer ${token}x` }]) {
      const reply = await request(port, '/kv/a', { method: 'PUT', body: 'v', headers });
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBe('Bearer');
      expect(reply.json().code).toBe('KVCASK_UNAUTHORIZED');
    }
    expect(store.has('a')).toBe(false);
    for (const path of ['/kv/a', '/kv?prefix=a', '/metrics']) expect((await request(port, path)).status, path).toBe(401);
  });

  it('serves every route with the right token', async () => {
    const { port } = await serve({ authToken: token });
    const headers = { authorization: `Bearer ${token}` };
    expect((await request(port, '/kv/a', { method: 'PUT', body: 'v', headers })).status).toBe(204);
    expect((await request(port, '/kv/a', { headers })).text).toBe('v');
    expect((await request(port, '/kv', { headers })).status).toBe(200);
    expect((await request(port, '/metrics', { headers })).status).toBe(200);
  });

  it('leaves the health probes open, since they reveal no data', async () => {
    const { port } = await serve({ authToken: token });
    expect((await request(port, '/healthz')).status).toBe(200);
    expect((await request(port, '/readyz')).status).toBe(200);
  });
});

describe('TLS', () => {
  it('serves HTTPS with the given certificate and key', async () => {
    const cert = readFileSync(new URL('fixtures/tls-cert.pem', import.meta.url));
    const key = readFileSync(new URL('fixtures/tls-key.pem', import.meta.url));
    const { port, server } = await serve({ tls: { cert, key } });
    expect(server.address()?.url).toBe(`https://127.0.0.1:${port}`);
    const body = await new Promise<string>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path: '/kv/secure', method: 'PUT', ca: cert, agent: false }, (res) => {
        expect(res.statusCode).toBe(204);
        res.resume();
        res.on('end', () => {
          https
            .get({ host: '127.0.0.1', port, path: '/kv/secure', ca: cert, agent: false }, (get) => {
              let text = '';
              get.on('data', (chunk) => (text += chunk)).on('end', () => resolve(text));
            })
            .on('error', reject);
        });
      });
      req.on('error', reject);
      req.end('over tls');
    });
    expect(body).toBe('over tls');
    // Plain HTTP to a TLS port gets no HTTP answer.
    await expect(request(port, '/healthz')).rejects.toThrow();
  });
});
