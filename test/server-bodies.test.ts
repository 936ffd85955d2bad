import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { request, serve } from './support/http.js';

/** Sends raw bytes in the given pieces, a pause between them, and resolves with everything the server answered. */
function raw(port: number, pieces: (string | Buffer)[]): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    (async () => {
      for (const piece of pieces) {
        socket.write(piece);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
  });
}

const value = (length: number, seed: number) => Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff));

describe('request bodies, however they arrive', () => {
  it('stores a body with a declared length that arrives in one piece or in several', async () => {
    const { port, store } = await serve();
    const whole = value(300, 1);
    const split = value(300, 2);
    const head = (key: string, length: number) => `PUT /kv/${key} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${length}\r\n\r\n`;
    expect(await raw(port, [Buffer.concat([Buffer.from(head('whole', 300)), whole])])).toMatch(/^HTTP\/1\.1 204 /);
    expect(await raw(port, [head('split', 300), split.subarray(0, 1), split.subarray(1, 150), split.subarray(150)])).toMatch(/^HTTP\/1\.1 204 /);
    expect(await raw(port, [head('empty', 0)])).toMatch(/^HTTP\/1\.1 204 /);
    expect(store.getSync('whole')).toEqual(whole);
    expect(store.getSync('split')).toEqual(split);
    expect(store.getSync('empty')).toEqual(Buffer.alloc(0));
  });

  it('stores a chunked body sent as one chunk or as several', async () => {
    const { port, store } = await serve();
    const one = value(200, 3);
    const several = value(200, 4);
    const head = (key: string) => `PUT /kv/${key} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const chunk = (bytes: Buffer) => Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);
    expect(await raw(port, [head('one'), chunk(one), '0\r\n\r\n'])).toMatch(/^HTTP\/1\.1 204 /);
    expect(await raw(port, [head('several'), chunk(several.subarray(0, 7)), chunk(several.subarray(7, 100)), chunk(several.subarray(100)), '0\r\n\r\n'])).toMatch(
      /^HTTP\/1\.1 204 /,
    );
    expect(store.getSync('one')).toEqual(one);
    expect(store.getSync('several')).toEqual(several);
  });

  it('keeps each body of requests pipelined in one packet apart from the requests after it', async () => {
    const { port } = await serve();
    const first = value(100, 5);
    const second = value(100, 6);
    const put = (key: string, body: Buffer, last: boolean) =>
      Buffer.concat([Buffer.from(`PUT /kv/${key} HTTP/1.1\r\nHost: x\r\n${last ? 'Connection: close\r\n' : ''}Content-Length: ${body.length}\r\n\r\n`), body]);
    const answers = await raw(port, [Buffer.concat([put('p1', first, false), put('p2', second, false), Buffer.from('GET /kv/p1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')])]);
    expect(answers.match(/HTTP\/1\.1 204 /g)).toHaveLength(2);
    expect(answers.endsWith(first.toString('latin1'))).toBe(true);
    expect((await request(port, '/kv/p2')).body).toEqual(second);
  });
});
