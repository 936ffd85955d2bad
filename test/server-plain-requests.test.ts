import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { serve } from './support/http.js';

interface Answer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** The answers in what a server sent on one connection, each read by its Content-Length (HEAD answers carry none). */
function answersIn(text: string, heads: boolean[] = []): Answer[] {
  const answers: Answer[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    const [statusLine, ...lines] = text.slice(at, end).split('\r\n');
    const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    const length = heads[answers.length] ? 0 : Number(headers.get('content-length') ?? 0);
    answers.push({ status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  return answers;
}

/** Writes each piece (waiting `gap` ms between them) on one connection and resolves with all the server sent once it closes. */
function exchange(port: number, pieces: string[], gap = 30): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', async () => {
      for (const [i, piece] of pieces.entries()) {
        if (i > 0) await sleep(gap);
        socket.write(piece);
      }
    });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

const get = (key: string, extra = '') => `GET /kv/${key} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
const put = (key: string, value: string, extra = '') => `PUT /kv/${key} HTTP/1.1\r\nHost: x\r\nContent-Length: ${value.length}\r\n${extra}\r\n${value}`;
const CLOSE = 'Connection: close\r\n';

/** Counts the requests node:http reads, so that a test can tell which side answered. */
async function serveCounting(...args: Parameters<typeof serve>) {
  const running = await serve(...args);
  const counted = { byNode: 0 };
  running.server.http.on('request', () => counted.byNode++);
  return { ...running, counted };
}

describe('plain requests answered on the socket', () => {
  it('answers each plain request as node:http answers the same request', async () => {
    const { port, store, counted } = await serveCounting({ maxBodySize: 1000 }, { maxKeySize: 16 });
    await store.set('here', 'a value');
    const cases: [string, (extra: string) => string, boolean][] = [
      ['GET hit', (extra) => get('here', extra), false],
      ['GET miss', (extra) => get('absent', extra), false],
      ['HEAD hit', (extra) => `HEAD /kv/here HTTP/1.1\r\nHost: x\r\n${extra}\r\n`, true],
      ['HEAD miss', (extra) => `HEAD /kv/absent HTTP/1.1\r\nHost: x\r\n${extra}\r\n`, true],
      ['PUT', (extra) => put('new', 'new value', extra), false],
      ['DELETE', (extra) => `DELETE /kv/new HTTP/1.1\r\nHost: x\r\n${extra}\r\n`, false],
      ['malformed percent-encoding', (extra) => get('a%zz', extra), false],
      ['key over maxKeySize', (extra) => get('k'.repeat(17), extra), false],
      ['value over maxBodySize', (extra) => put('big', 'v'.repeat(1001), extra), false],
    ];
    for (const [name, build, head] of cases) {
      const before = counted.byNode;
      const [plain] = answersIn(await exchange(port, [build(CLOSE)]), [head]);
      expect(counted.byNode, `${name}: answered on the socket`).toBe(before);
      // A TE field is one the plain reading declines, so node:http answers this one.
      const [byNode] = answersIn(await exchange(port, [build(`TE: trailers\r\n${CLOSE}`)]), [head]);
      expect(counted.byNode, `${name}: answered by node:http`).toBe(before + 1);
      expect([plain.status, plain.headers.get('content-type'), plain.headers.get('content-length'), plain.body], name).toEqual([
        byNode.status,
        byNode.headers.get('content-type'),
        byNode.headers.get('content-length'),
        byNode.body,
      ]);
    }
    expect(store.getSync('here')?.toString()).toBe('a value');
    expect(store.has('new')).toBe(false);
    expect(store.has('big')).toBe(false);
  });

  it('asks for the bearer token on the socket as node:http does', async () => {
    const { port, counted } = await serveCounting({ authToken: 'secret' });
    const [refused] = answersIn(await exchange(port, [get('k', CLOSE)]));
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    const [allowed] = answersIn(await exchange(port, [put('k', 'v', `Authorization: Bearer secret\r\n${CLOSE}`)]));
    expect(allowed.status).toBe(204);
    expect(counted.byNode).toBe(0);
  });

  it('answers pipelined requests in order, a durable PUT among them, sent in one write', async () => {
    const { port, store, counted } = await serveCounting({}, { sync: 'always' });
    const text = await exchange(port, [put('a', 'one') + get('a') + put('a', 'two') + get('a') + `DELETE /kv/a HTTP/1.1\r\nHost: x\r\n\r\n` + get('a', CLOSE)]);
    const answers = answersIn(text);
    expect(answers.map((answer) => answer.status)).toEqual([204, 200, 204, 200, 204, 404]);
    expect(answers[1].body).toBe('one');
    expect(answers[3].body).toBe('two');
    expect(store.has('a')).toBe(false);
    expect(counted.byNode).toBe(0);
  });

  it('reads what arrives while a PUT waits for its sync only once the PUT is answered', async () => {
    const { port, counted } = await serveCounting({}, { sync: 'always' });
    // The GET is sent while the PUT's write may still be on its way to disk: it must see the PUT's value.
    const text = await exchange(port, [put('k', 'written'), get('k', CLOSE)], 0);
    expect(answersIn(text).map((answer) => [answer.status, answer.body])).toEqual([
      [204, ''],
      [200, 'written'],
    ]);
    expect(counted.byNode).toBe(0);
  });

  it('hands node:http a request that arrives in pieces, and node:http keeps the connection', async () => {
    const { port, counted } = await serveCounting();
    const first = put('split', 'value in two writes');
    const text = await exchange(port, [get('none'), first.slice(0, 20), first.slice(20), get('split', CLOSE)]);
    expect(answersIn(text).map((answer) => [answer.status, answer.body.length > 0 ? answer.body : ''])).toEqual([
      [404, expect.stringContaining('KVCASK_NOT_FOUND')],
      [204, ''],
      [200, 'value in two writes'],
    ]);
    expect(counted.byNode).toBe(2);
  });

  it('hands node:http what the strict reading declines, which refuses the malformed and applies the rest', async () => {
    const { port, store } = await serve();
    const chunked = `PUT /kv/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n${CLOSE}\r\n3\r\nabc\r\n0\r\n\r\n`;
    expect(answersIn(await exchange(port, [chunked]))[0].status).toBe(204);
    expect(store.getSync('chunked')?.toString()).toBe('abc');
    const refused = {
      'both a length and chunks': `PUT /kv/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      'two lengths': `PUT /kv/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`,
      'a folded header': `PUT /kv/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-Folded: a\r\n b\r\n\r\nabc`,
      'no Host': `PUT /kv/smuggled HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc`,
      'a bare LF': `PUT /kv/smuggled HTTP/1.1\r\nHost: x\nContent-Length: 3\r\n\r\nabc`,
      'a lowercase method': `put /kv/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc`,
      'a tab after the length': `PUT /kv/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 3\t\r\n\r\nabc`,
    };
    for (const [name, bytes] of Object.entries(refused)) {
      const status = answersIn(await exchange(port, [bytes]))[0]?.status;
      expect(status, name).toBe(400);
    }
    expect(store.has('smuggled')).toBe(false);
    // llhttp reads Proxy-Connection as Connection: after this PUT it reads nothing more, so the DELETE is not applied.
    await exchange(port, [`PUT /kv/proxied HTTP/1.1\r\nHost: x\r\nProxy-Connection: close\r\nContent-Length: 1\r\n\r\n1DELETE /kv/proxied HTTP/1.1\r\nHost: x\r\n\r\n`]);
    expect(store.getSync('proxied')?.toString()).toBe('1');
  });

  it('closes the connection after answering a request that asks so, and reads nothing after it', async () => {
    const { port, store } = await serve();
    const text = await exchange(port, [get('a', CLOSE) + put('after', 'v')]);
    const answers = answersIn(text);
    expect(answers.map((answer) => [answer.status, answer.headers.get('connection')])).toEqual([[404, 'close']]);
    await sleep(50);
    expect(store.has('after')).toBe(false);
  });

  it('answers 408 to a connection silent for headersTimeout, and closes an idle one after keepAliveTimeout', async () => {
    const { port } = await serve({ headersTimeout: 200, keepAliveTimeout: 200 });
    const started = Date.now();
    const silent = answersIn(await exchange(port, []));
    expect(silent.map((answer) => answer.status)).toEqual([408]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    const idle = answersIn(await exchange(port, [get('a')]));
    // Under a second, node:http says timeout=0 too.
    expect(idle.map((answer) => [answer.status, answer.headers.get('connection'), answer.headers.get('keep-alive')])).toEqual([[404, 'keep-alive', 'timeout=0']]);
  });

  it('gives a first request headersTimeout from the connection, also when node:http reads it', async () => {
    const { port } = await serve({ headersTimeout: 300 });
    const started = Date.now();
    // Silent for most of the time allowed, then a request that never ends: node:http reads it, on our clock.
    const text = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => setTimeout(() => socket.write('GET /kv/a HTTP/1.1\r\nHo'), 250));
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
    });
    expect(answersIn(text).map((answer) => answer.status)).toEqual([408]);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('closes its side of the connection after an answer that closes it, without waiting for the client to close its own', async () => {
    const { port, server } = await serve({ shutdownTimeout: 5000 });
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.write(get('a', CLOSE));
    await new Promise((resolve) => socket.once('end', resolve));
    expect(answersIn(text).map((answer) => answer.status)).toEqual([404]);
    // The client keeps its side open: close() resolves at once only if the server let the connection go.
    const closing = Date.now();
    await server.close();
    expect(Date.now() - closing).toBeLessThan(1000);
    socket.destroy();
  });

  it('hands node:http a PUT whose body finds no room in the body budget, where it waits for room', async () => {
    const { port, store, counted } = await serveCounting({ maxBodySize: 1000, bodyMemory: 1000 });
    // Headers alone: node:http reads this one, and reserves its 1,000 bytes until the body arrives.
    const holder = net.connect(port, '127.0.0.1');
    holder.write(`PUT /kv/holder HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n${CLOSE}\r\n`);
    await sleep(50);
    const waiting = exchange(port, [put('waiter', 'small', CLOSE)]);
    await sleep(50);
    expect(store.has('waiter')).toBe(false);
    holder.end('h'.repeat(1000));
    expect(answersIn(await waiting).map((answer) => answer.status)).toEqual([204]);
    expect(store.getSync('waiter')?.toString()).toBe('small');
    expect(store.getSync('holder')?.length).toBe(1000);
    expect(counted.byNode).toBe(2);
  });
});

describe('a client that does not read its answers', () => {
  it('is answered only as fast as it reads, however many requests it sends at once', async () => {
    const { port, store } = await serve();
    await store.set('large', Buffer.alloc(1024 * 1024, 0x6c));
    let lookups = 0;
    const getSync = store.getSync.bind(store);
    store.getSync = (key) => {
      lookups++;
      return getSync(key);
    };
    const requests = 200;
    const socket = net.connect(port, '127.0.0.1');
    socket.pause();
    socket.write(get('large').repeat(requests - 1) + get('large', CLOSE));
    await sleep(300);
    // What the socket buffers of both ends hold, not 200 MiB.
    expect(lookups).toBeGreaterThan(0);
    expect(lookups).toBeLessThan(50);
    let received = 0;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.resume();
    await new Promise((resolve) => socket.on('close', resolve));
    expect(lookups).toBe(requests);
    expect(received).toBeGreaterThan(requests * 1024 * 1024);
  });
});
