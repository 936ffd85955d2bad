/**
 * `kvcask/server`: the store over HTTP. Routes, authentication, limits and
 * graceful shutdown live here; bodies, ranges, batches, metrics and errors
 * each have a module of their own.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import { ByteBudget } from './byte-budget.js';
import { codes } from './errors.js';
import { checkJsonContentType, parseBatch } from './http-batch.js';
import { bodyTooLarge, hasUnreadBody, withBody } from './http-body.js';
import { type ConnectionHost, endThenDestroy, PlainConnection } from './http-connection.js';
import { HttpError, sendError, toHttpError } from './http-errors.js';
import { parseRangeQuery, streamRange } from './http-range.js';
import type { SimpleRequest } from './http-request.js';
import type { LogEntry } from './log.js';
import { ServerMetrics } from './metrics.js';
import { parseQuery, percentDecode } from './percent-encoding.js';
import { type ResolvedServerOptions, resolveServerOptions, type ServerOptions } from './server-options.js';
import { Store } from './store.js';

export type { ServerOptions } from './server-options.js';
export type { LogEntry, Logger } from './log.js';
export { jsonLines } from './log.js';

export interface ServerAddress {
  host: string;
  port: number;
  /** Such as `http://127.0.0.1:8080`. */
  url: string;
}

type Route = 'kv' | 'range' | 'batch' | 'healthz' | 'readyz' | 'metrics' | 'unknown';

const KEY_PREFIX = '/kv/';
// Counted in the metrics for requests whose client closed the connection before the answer (nginx's convention).
const CLIENT_GONE = 499;
const OCTETS = 'application/octet-stream';
const VALUE_HEADERS = `Content-Type: ${OCTETS}\r\n`;
// Up to this size a value is answered by sendSmall(); past it, the copy into a string would cost more than the write saves.
const STRING_BODY_MAX = 16 * 1024;
// Probes must work without credentials: they tell nothing about the data.
const OPEN_ROUTES = new Set<Route>(['healthz', 'readyz']);
const ALLOWED: Record<Route, string> = {
  kv: 'GET, HEAD, PUT, DELETE',
  range: 'GET',
  batch: 'POST',
  healthz: 'GET, HEAD',
  readyz: 'GET, HEAD',
  metrics: 'GET',
  unknown: '',
};

function routeOf(path: string): Route {
  if (path.startsWith(KEY_PREFIX)) return 'kv';
  if (path === '/kv') return 'range';
  if (path === '/batch') return 'batch';
  if (path === '/healthz') return 'healthz';
  if (path === '/readyz') return 'readyz';
  if (path === '/metrics') return 'metrics';
  return 'unknown';
}

const digest = (text: string) => createHash('sha256').update(text).digest();

function methodNotAllowed(route: Route, method: string): HttpError {
  return new HttpError(405, codes.METHOD_NOT_ALLOWED, `${method} is not allowed here; allowed: ${ALLOWED[route]}`, { allow: ALLOWED[route] });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Sends a small body and its headers in one plain socket write. res.end(body)
 * sends them as a writev of three chunks (headers, body, and an empty chunk
 * that end() always adds), which costs Node's stream layer several times a
 * write. Written as a latin1 string (one char per byte, so binary-safe), the
 * body is joined to the headers into one string; uncorking the socket that
 * write() corked sends it at once, and end() then has nothing left to send.
 */
function sendSmall(res: ServerResponse, value: Buffer): void {
  res.write(value.toString('latin1'), 'latin1');
  // Null while earlier pipelined answers on the connection are still being sent: then Node queues the write itself.
  res.socket?.uncork();
  res.end();
}

export class KvcaskServer {
  /**
   * The `node:http` (or `node:https`) server. Without TLS it does not listen
   * itself: connections start on a `net` server that answers plain requests
   * on the socket (`http-connection.ts`) and hands node:http the rest.
   */
  readonly http: http.Server;
  readonly metrics: ServerMetrics;
  private readonly listener: net.Server;
  private readonly options: ResolvedServerOptions;
  private readonly budget: ByteBudget;
  private readonly tokenDigest: Buffer | null;
  private readonly sockets = new Set<Socket>();
  private readonly plainConnections = new Set<PlainConnection>();
  /** Per connection node:http reads, the answer still on its way, if any. */
  private readonly unanswered = new WeakMap<Socket, Promise<void>>();
  /** Connections on which node:http has handed over a request. */
  private readonly requested = new WeakSet<Socket>();
  private readonly connectionHost: ConnectionHost;
  private draining = false;
  private storeFailed = false;
  private closing: Promise<void> | null = null;

  constructor(
    readonly store: Store,
    options?: ServerOptions,
  ) {
    if (!(store instanceof Store)) throw new TypeError('createServer() takes an open Store');
    this.options = resolveServerOptions(options);
    const { headersTimeout, requestTimeout, keepAliveTimeout, tls } = this.options;
    this.budget = new ByteBudget(this.options.bodyMemory);
    this.tokenDigest = this.options.authToken === undefined ? null : digest(`Bearer ${this.options.authToken}`);
    // Node checks the two timeouts only this often (30 s by default), which would let a slow client stay that long.
    const connectionsCheckingInterval = Math.max(10, Math.min(1000, Math.floor(Math.min(headersTimeout, requestTimeout) / 4)));
    const serverOptions = { headersTimeout, requestTimeout, keepAliveTimeout, connectionsCheckingInterval };
    const handle = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    const server = this;
    this.connectionHost = {
      maxHeaderSize: http.maxHeaderSize,
      headersTimeout,
      keepAliveTimeout,
      get draining() {
        return server.draining;
      },
      answer: (request, connection) => this.answerPlain(request, connection),
      handOff: (socket, deadline) => this.handOff(socket, deadline),
      timedOut: (socket) => this.refuse(socket, 408, codes.TIMEOUT, 'the request was not received in time'),
    };
    if (tls) {
      this.http = https.createServer({ ...serverOptions, cert: tls.cert, key: tls.key }, handle);
      this.listener = this.http;
      this.http.on('connection', (socket: Socket) => this.track(socket));
    } else {
      this.http = http.createServer(serverOptions, handle);
      // node:http starts tracking connections (its timeouts, closeIdleConnections) when it starts listening; here it is given them.
      this.http.emit('listening');
      this.listener = net.createServer({ noDelay: true }, (socket) => {
        this.track(socket);
        this.servePlain(socket);
      });
    }
    // Answered by withBody() once the body has room, instead of Node's automatic go-ahead.
    this.http.on('checkContinue', handle);
    this.listener.maxConnections = this.options.maxConnections;
    this.http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.clientError(err, socket));
    this.metrics = new ServerMetrics(
      store,
      { connections: () => this.sockets.size, reservedBodyBytes: () => this.budget.reserved },
      this.options.defaultMetrics,
    );
  }

  /** Starts listening (port 0: any free port) and logs the address. */
  listen(port = 0, host = '127.0.0.1'): Promise<ServerAddress> {
    return new Promise((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen(port, host, () => {
        this.listener.off('error', reject);
        const address = this.address()!;
        this.log('info', 'listening', { ...address });
        resolve(address);
      });
    });
  }

  /** Where the server listens, or null before listen(). */
  address(): ServerAddress | null {
    const info = this.listener.address() as AddressInfo | null;
    if (info === null) return null;
    const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
    return { host: info.address, port: info.port, url: `${this.options.tls ? 'https' : 'http'}://${host}:${info.port}` };
  }

  /**
   * Stops taking connections, answers requests that arrive meanwhile with 503,
   * lets those in flight finish (closing their connections after the answer)
   * and resolves once every connection is closed. After shutdownTimeout the
   * remaining connections are cut. The store stays open: it is the caller's.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.draining = true;
    this.log('info', 'shutting down', { connections: this.sockets.size });
    this.closing = new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.closeConnections(), this.options.shutdownTimeout);
      // Resolves once every connection it accepted is closed, those handed to node:http included.
      this.listener.close(() => {
        clearTimeout(timer);
        resolve();
      });
      // Stops node:http's timeout checks; it closes the connections idle at this moment, as below.
      if (this.listener !== this.http) this.http.close();
      else this.http.closeIdleConnections();
      for (const connection of this.plainConnections) connection.closeIfIdle();
    });
    return this.closing;
  }

  /** Cuts every connection now, requests in flight included (for a second signal). */
  closeConnections(): void {
    this.http.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private handOff(socket: Socket, deadline: number | null): void {
    if (socket.destroyed) return;
    this.http.emit('connection', socket);
    if (deadline === null) return;
    // node:http times the headers from now: the time the connection spent with us counts too.
    const timer = setTimeout(() => {
      if (!socket.destroyed && !this.requested.has(socket)) this.refuse(socket, 408, codes.TIMEOUT, 'the request was not received in time');
    }, Math.max(0, deadline - performance.now()));
    socket.once('close', () => clearTimeout(timer));
  }

  private servePlain(socket: Socket): void {
    const connection = new PlainConnection(socket, this.connectionHost, http.STATUS_CODES);
    this.plainConnections.add(connection);
    socket.once('close', () => this.plainConnections.delete(connection));
  }

  private log(level: LogEntry['level'], msg: string, fields: Record<string, unknown> = {}): void {
    this.options.log?.({ time: new Date().toISOString(), level, msg, ...fields });
  }

  /** Requests Node could not hand over: malformed, with headers too large, or too slow (slowloris). */
  private clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    // With an answer still on its way, an error answer written now would come before it; a request that timed out
    // waiting for its own body is the one that answer is for.
    const answerPending = this.unanswered.has(socket) && err.code !== 'ERR_HTTP_REQUEST_TIMEOUT';
    if (!socket.writable || err.code === 'ECONNRESET' || answerPending) {
      socket.destroy();
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') this.refuse(socket, 408, codes.TIMEOUT, 'the request was not received in time');
    else if (err.code === 'HPE_HEADER_OVERFLOW') this.refuse(socket, 431, codes.BAD_REQUEST, 'the request headers are too large');
    else this.refuse(socket, 400, codes.BAD_REQUEST, `malformed request (${err.code ?? err.message})`);
  }

  /** Answers with an error and closes the connection, without a request object to answer through. */
  private refuse(socket: Socket, status: number, code: string, message: string): void {
    const body = JSON.stringify({ code, message });
    const head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
    endThenDestroy(socket, head + body);
  }

  /**
   * node:http hands over a request pipelined behind one still being answered
   * (a PUT waiting for its body or its sync): it waits for that answer, so
   * that it sees the earlier request's write, as the requests' order says.
   */
  private handle(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    this.requested.add(socket);
    const earlier = this.unanswered.get(socket);
    const answered = earlier === undefined ? this.answer(req, res) : earlier.then(() => this.answer(req, res));
    if (answered === undefined) return;
    this.unanswered.set(socket, answered);
    void answered.then(() => {
      if (this.unanswered.get(socket) === answered) this.unanswered.delete(socket);
    });
  }

  /** Answers the request; returns a promise (which never rejects) only when the answer comes later. */
  private answer(req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
    const started = performance.now();
    const url = req.url ?? '/';
    const mark = url.indexOf('?');
    const path = mark < 0 ? url : url.slice(0, mark);
    const route = routeOf(path);
    const method = req.method ?? 'GET';
    let pending: Promise<void> | undefined;
    try {
      this.closeIfDraining(res);
      if (this.draining && route !== 'healthz' && route !== 'readyz') throw new HttpError(503, codes.UNAVAILABLE, 'the server is shutting down');
      if (this.tokenDigest !== null && !OPEN_ROUTES.has(route) && !this.authorized(req.headers.authorization)) {
        throw new HttpError(401, codes.UNAUTHORIZED, 'a valid bearer token is required', { 'www-authenticate': 'Bearer' });
      }
      pending = this.dispatch(route, method, path, mark < 0 ? '' : url.slice(mark + 1), req, res);
    } catch (err) {
      this.fail(req, res, route, method, started, err);
      return undefined;
    }
    // Most answers (GET, HEAD, probes) are sent by now: they cost no closure and no promise.
    if (pending === undefined) {
      this.record(route, method, res.statusCode, started);
      return undefined;
    }
    return pending.then(
      () => this.record(route, method, res.statusCode, started),
      (err: unknown) => this.fail(req, res, route, method, started, err),
    );
  }

  /** Records the answered request in the metrics and, if asked, the log. */
  private record(route: Route, method: string, status: number, started: number): void {
    const seconds = (performance.now() - started) / 1000;
    this.metrics.request(route, method, status, seconds);
    if (this.options.logRequests) this.log('info', 'request', { method, route, status, ms: seconds * 1000 });
  }

  private fail(req: IncomingMessage, res: ServerResponse, route: Route, method: string, started: number, err: unknown): void {
    if (res.destroyed && !res.headersSent) {
      // The client left before its answer (while its body waited for room, say): nothing failed on our side.
      res.statusCode = CLIENT_GONE;
      this.record(route, method, CLIENT_GONE, started);
      return;
    }
    const error = this.httpErrorOf(err, route, method);
    this.closeIfDraining(res);
    sendError(res, error, hasUnreadBody(req));
    this.record(route, method, res.statusCode, started);
  }

  /** The answer to a failure; the server's own failures are logged. */
  private httpErrorOf(err: unknown, route: Route, method: string): HttpError {
    const error = toHttpError(err);
    if (error.status >= 500 && error.status !== 503) this.log('error', 'request failed', { method, route, error: String(err) });
    return error;
  }

  /** While draining, every answer closes its connection, so that close() can finish. */
  private closeIfDraining(res: ServerResponse): void {
    if (this.draining && !res.headersSent) res.setHeader('connection', 'close');
  }

  private authorized(header: string | undefined): boolean {
    // Comparing digests keeps the comparison constant-time whatever the header's length.
    return header !== undefined && timingSafeEqual(digest(header), this.tokenDigest!);
  }

  /** Handles the request; returns a promise only when the answer comes later. */
  private dispatch(route: Route, method: string, path: string, query: string, req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
    switch (route) {
      case 'kv':
        return this.point(method, percentDecode(path.slice(KEY_PREFIX.length), 'the key'), req, res);
      case 'range':
        if (method !== 'GET') throw methodNotAllowed(route, method);
        return streamRange(this.store, parseRangeQuery(parseQuery(query), this.options.rangeLimit, this.options.maxRangeLimit), res);
      case 'batch':
        if (method !== 'POST') throw methodNotAllowed(route, method);
        checkJsonContentType(req.headers['content-type']);
        return withBody(req, res, this.options.maxBodySize, this.budget, (body) => this.write(res, this.store.batch(parseBatch(body))));
      case 'healthz':
        if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(route, method);
        sendJson(res, 200, { status: 'ok' });
        return undefined;
      case 'readyz':
        if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(route, method);
        if (this.draining) throw new HttpError(503, codes.UNAVAILABLE, 'the server is shutting down');
        if (this.storeFailed) throw new HttpError(503, codes.UNAVAILABLE, 'the store refuses writes after a failed write; restart the server');
        sendJson(res, 200, { status: 'ready' });
        return undefined;
      case 'metrics':
        if (method !== 'GET') throw methodNotAllowed(route, method);
        return this.metrics.registry.metrics().then((text) => {
          res.writeHead(200, { 'content-type': this.metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
          res.end(text);
        });
      default:
        throw new HttpError(404, codes.NOT_FOUND, `no route ${path}`);
    }
  }

  private point(method: string, key: Buffer, req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
    const { maxKeySize, maxValueSize } = this.store.options;
    if (key.length > maxKeySize) throw new HttpError(413, codes.KEY_TOO_LARGE, `key of ${key.length} bytes exceeds maxKeySize (${maxKeySize})`);
    switch (method) {
      case 'GET':
      case 'HEAD': {
        const value = this.store.getSync(key);
        if (value === undefined) throw new HttpError(404, codes.NOT_FOUND, 'no such key');
        res.writeHead(200, ['content-type', OCTETS, 'content-length', value.length]);
        if (method === 'HEAD') res.end();
        else if (value.length <= STRING_BODY_MAX) sendSmall(res, value);
        else res.end(value);
        return undefined;
      }
      case 'PUT':
        return withBody(req, res, Math.min(this.options.maxBodySize, maxValueSize), this.budget, (value) => this.write(res, this.store.set(key, value)));
      case 'DELETE':
        return this.write(res, this.store.delete(key));
      default:
        throw methodNotAllowed('kv', method);
    }
  }

  /** Answers 204 once the write is durable (as the store's sync mode says), never before. */
  private write(res: ServerResponse, written: Promise<void>): Promise<void> {
    return this.durable(written, () => {
      this.closeIfDraining(res);
      res.writeHead(204);
      res.end();
    });
  }

  /** Calls `answer` once the write is durable; a write the store refused marks the store failed for /readyz. */
  private durable(written: Promise<void>, answer: () => void): Promise<void> {
    const started = performance.now();
    return written.then(
      () => {
        this.metrics.write((performance.now() - started) / 1000);
        answer();
      },
      (err: unknown) => {
        const code = (err as { code?: unknown }).code;
        if (code === codes.FAILED || code === codes.IO || code === codes.CLOSED) this.storeFailed = true;
        throw err;
      },
    );
  }

  /**
   * A plain request read straight from its socket (`http-connection.ts`):
   * the same answers as point() gives through node:http. False: node:http
   * must take it, here when its body must wait for room in the body budget.
   */
  private answerPlain(request: SimpleRequest, connection: PlainConnection): Promise<void> | undefined | false {
    const started = performance.now();
    const { method } = request;
    try {
      if (this.draining) throw new HttpError(503, codes.UNAVAILABLE, 'the server is shutting down');
      if (this.tokenDigest !== null && !this.authorized(request.authorization)) {
        throw new HttpError(401, codes.UNAUTHORIZED, 'a valid bearer token is required', { 'www-authenticate': 'Bearer' });
      }
      const key = percentDecode(request.encodedKey, 'the key');
      const { maxKeySize, maxValueSize } = this.store.options;
      if (key.length > maxKeySize) throw new HttpError(413, codes.KEY_TOO_LARGE, `key of ${key.length} bytes exceeds maxKeySize (${maxKeySize})`);
      if (method === 'GET' || method === 'HEAD') {
        const value = this.store.getSync(key);
        if (value === undefined) throw new HttpError(404, codes.NOT_FOUND, 'no such key');
        connection.send(200, VALUE_HEADERS, value, value.length, method === 'GET');
        this.record('kv', method, 200, started);
        return undefined;
      }
      let written: Promise<void>;
      if (method === 'PUT') {
        const { body } = request;
        const limit = Math.min(this.options.maxBodySize, maxValueSize);
        if (body.length > limit) throw bodyTooLarge(limit);
        if (!this.budget.tryAcquire(body.length)) return false;
        try {
          written = this.store.set(key, body);
        } catch (err) {
          this.budget.release(body.length);
          throw err;
        }
        written = written.finally(() => this.budget.release(body.length));
      } else {
        written = this.store.delete(key);
      }
      return this.durable(written, () => connection.send(204, '', null, 0, false)).then(
        () => this.record('kv', method, 204, started),
        (err: unknown) => this.failPlain(connection, method, started, err),
      );
    } catch (err) {
      this.failPlain(connection, method, started, err);
      return undefined;
    }
  }

  private failPlain(connection: PlainConnection, method: string, started: number, err: unknown): void {
    if (connection.socket.destroyed) {
      // The client left before its answer: nothing failed on our side (as fail() counts it).
      this.record('kv', method, CLIENT_GONE, started);
      return;
    }
    const error = this.httpErrorOf(err, 'kv', method);
    connection.sendError(error, method !== 'HEAD');
    this.record('kv', method, error.status, started);
  }
}

/** An HTTP server over an open store; call listen() to start it and close() to drain it. */
export function createServer(store: Store, options?: ServerOptions): KvcaskServer {
  return new KvcaskServer(store, options);
}
