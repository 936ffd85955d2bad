import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { request, serve } from './support/http.js';

interface Trickle {
  /** What the server sent before closing. */
  answer: string;
  /** Milliseconds from connecting until the server closed the connection. */
  heldMs: number;
}

/** Connects and sends `head` at once, then one byte of `rest` every `everyMs`, until the server closes the connection. */
function trickle(port: number, head: string, rest: string, everyMs: number): Promise<Trickle> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < rest.length && socket.writable) socket.write(rest[sent++]);
    }, everyMs);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer: Buffer.concat(chunks).toString('latin1'), heldMs: performance.now() - started });
    });
  });
}

describe('slow and greedy clients', () => {
  it('cuts off a client that sends its headers one byte at a time (slowloris) after headersTimeout', async () => {
    const { port } = await serve({ headersTimeout: 400, requestTimeout: 2000 });
    const headers = `GET /healthz HTTP/1.1\r\nHost: x\r\n${'X-Padding: y\r\n'.repeat(50)}\r\n`;
    // At 50 ms a byte the headers would take 40 s.
    const { answer, heldMs } = await trickle(port, 'G', headers.slice(1), 50);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(heldMs).toBeLessThan(2000);
  });

  it('cuts off a client that sends its body one byte at a time after requestTimeout', async () => {
    const { port, store } = await serve({ headersTimeout: 300, requestTimeout: 600 });
    const { answer, heldMs } = await trickle(port, 'PUT /kv/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n', 'x'.repeat(1000), 50);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(heldMs).toBeLessThan(2500);
    expect(store.has('slow')).toBe(false);
    // The memory reserved for its body was given back.
    expect((await request(port, '/metrics')).text).toMatch(/^kvcask_http_body_bytes_reserved 0$/m);
  });

  it('closes connections beyond maxConnections at once while keeping the others served', async () => {
    const { port } = await serve({ maxConnections: 2 });
    const open = () =>
      new Promise<net.Socket>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
      });
    const held = [await open(), await open()];
    // Give the server a moment to count both as its own.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const extra = await trickle(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', '', 1000);
    expect(extra.answer).toBe('');
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await request(port, '/healthz')).status).toBe(200);
  });
});
