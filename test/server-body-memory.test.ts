import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { request, serve } from './support/http.js';

const BODY = 600_000;

/** A PUT whose headers and first `sent` body bytes go out now; `finish()` sends the rest and resolves with the answer. */
function partialPut(port: number, key: string, sent: number) {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  const answered = new Promise<string>((resolve) => {
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
  socket.write(`PUT /kv/${key} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${BODY}\r\n\r\n`);
  socket.write(Buffer.alloc(sent, key.charCodeAt(0)));
  return {
    finish(): Promise<string> {
      socket.write(Buffer.alloc(BODY - sent, key.charCodeAt(0)));
      return answered;
    },
  };
}

async function reserved(port: number): Promise<number> {
  const text = (await request(port, '/metrics')).text;
  return Number(/^kvcask_http_body_bytes_reserved (\d+)$/m.exec(text)![1]);
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await condition()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('memory for request bodies', () => {
  it('holds at most bodyMemory bytes of bodies: a body that does not fit waits, unread, until one finishes', async () => {
    const { port, store } = await serve({ maxBodySize: BODY, bodyMemory: 1_000_000 });
    const first = partialPut(port, 'a', 1000);
    await until(async () => (await reserved(port)) === BODY);
    expect(await reserved(port)).toBe(BODY);
    // The whole second body is on its way, but there is room for only one of the two.
    const second = partialPut(port, 'b', BODY - 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await reserved(port)).toBe(BODY);
    expect(store.has('b')).toBe(false);
    expect(await first.finish()).toMatch(/^HTTP\/1\.1 204 /);
    expect(await second.finish()).toMatch(/^HTTP\/1\.1 204 /);
    expect(store.getSync('a')?.equals(Buffer.alloc(BODY, 0x61))).toBe(true);
    expect(store.getSync('b')?.equals(Buffer.alloc(BODY, 0x62))).toBe(true);
    expect(await reserved(port)).toBe(0);
  });

  it('gives a waiting body its place back when its client leaves', async () => {
    const { port } = await serve({ maxBodySize: BODY, bodyMemory: BODY });
    const first = partialPut(port, 'a', 10);
    await until(async () => (await reserved(port)) === BODY);
    const quitter = net.connect(port, '127.0.0.1');
    quitter.write(`PUT /kv/q HTTP/1.1\r\nHost: x\r\nContent-Length: ${BODY}\r\n\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    quitter.destroy();
    expect(await first.finish()).toMatch(/^HTTP\/1\.1 204 /);
    // Had the quitter kept its place in the queue, it would now hold the budget.
    await until(async () => (await reserved(port)) === 0);
    expect(await reserved(port)).toBe(0);
    // Counted as a request whose client left, not as a server failure.
    expect((await request(port, '/metrics')).text).toContain('kvcask_http_requests_total{route="kv",method="PUT",status="499"} 1');
    expect((await request(port, '/kv/c', { method: 'PUT', body: Buffer.alloc(BODY) })).status).toBe(204);
  });
});
