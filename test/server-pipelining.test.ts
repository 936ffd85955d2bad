import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { serve } from './support/http.js';

/** Sends the bytes in one write and resolves with the status lines the server answered before closing. */
function statusLines(port: number, bytes: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(text.split('\r\n').filter((line) => line.startsWith('HTTP/1.1 '))));
  });
}

const getClosing = (key: string) => `GET /kv/${key} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

describe('pipelined requests', () => {
  it('answers a GET pipelined behind a PUT with the PUT value, also where node:http reads the connection', async () => {
    const { port } = await serve({}, { sync: 'always' });
    const plain = `PUT /kv/plain HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc`;
    // A body in chunks is node:http's to read, and so is the rest of that connection.
    const chunked = `PUT /kv/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`;
    const withTe = `PUT /kv/te HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nContent-Length: 3\r\n\r\nabc`;
    for (const [key, put] of [['plain', plain], ['chunked', chunked], ['te', withTe]]) {
      expect(await statusLines(port, put + getClosing(key)), key).toEqual(['HTTP/1.1 204 No Content', 'HTTP/1.1 200 OK']);
    }
  });

  it('answers every request of a long pipeline of PUTs and GETs in order, each GET seeing the PUT before it', async () => {
    const { port } = await serve({}, { sync: 'always' });
    let bytes = `DELETE /kv/k HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n`;
    for (let i = 0; i < 20; i++) bytes += `PUT /kv/k HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nContent-Length: ${String(i).length}\r\n\r\n${i}GET /kv/k HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n`;
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes + getClosing('k')));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    await new Promise((resolve) => socket.on('close', resolve));
    const values = [...text.matchAll(/HTTP\/1\.1 200 OK\r\n[\s\S]*?\r\n\r\n(\d+)/g)].map((match) => Number(match[1]));
    expect(values).toEqual([...Array.from({ length: 20 }, (_, i) => i), 19]);
  });
});
