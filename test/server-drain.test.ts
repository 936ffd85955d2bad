import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { request, serve } from './support/http.js';

describe('close(): draining the server', () => {
  it('lets a request in flight finish, closing its connection after the answer, and resolves once every connection is closed', async () => {
    const { port, server, store } = await serve();
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const closed = new Promise<string>((resolve) => {
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    });
    socket.write('PUT /kv/inflight HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234');
    await new Promise((resolve) => setTimeout(resolve, 50));
    let drained = false;
    const closing = server.close().then(() => (drained = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(drained).toBe(false);
    // The body's end arrives after close() began.
    socket.write('56789');
    const answer = await closed;
    await closing;
    expect(answer).toMatch(/^HTTP\/1\.1 204 /);
    expect(answer).toMatch(/connection: close/i);
    expect(store.getSync('inflight')?.toString()).toBe('0123456789');
    // A new connection is refused outright.
    await expect(request(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('answers a request whose headers were still arriving when close() began with 503, /readyz included, and closes its connection', async () => {
    const { port, server } = await serve();
    const sockets = ['/kv/anything', '/readyz'].map((path) => {
      const socket = net.connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      const closed = new Promise<string>((resolve) => {
        socket.on('data', (chunk) => chunks.push(chunk));
        socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      });
      // Half a request: the connection is not idle, so close() leaves it alone.
      socket.write(`GET ${path} HTTP/1.1\r\n`);
      return { socket, closed };
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = server.close();
    for (const { socket } of sockets) socket.write('Host: x\r\n\r\n');
    for (const { closed } of sockets) {
      const answer = await closed;
      expect(answer).toMatch(/^HTTP\/1\.1 503 /);
      expect(answer).toMatch(/connection: close/i);
      expect(answer).toContain('"code":"KVCASK_UNAVAILABLE"');
    }
    await closing;
  });
});
