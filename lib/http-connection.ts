/**
 * A plain-HTTP connection of `kvcask serve`, read and answered straight on
 * its socket for as long as its requests are the plain ones
 * (`http-request.ts`); at the first other request, or a request that did not
 * arrive whole in the bytes at hand, the socket goes to node:http, which
 * reads that request from its first byte and keeps the connection to the
 * end. node:http's request and response objects cost a GET more CPU than
 * the store's lookup does: see docs/performance.md, "HTTP server".
 */
import type { Socket } from 'node:net';
import type { HttpError } from './http-errors.js';
import { readSimpleRequest, type SimpleRequest } from './http-request.js';

export interface ConnectionHost {
  readonly maxHeaderSize: number;
  /** Milliseconds a new connection may wait before its first request. */
  readonly headersTimeout: number;
  readonly keepAliveTimeout: number;
  /** Whether answers must close their connection (the server is shutting down). */
  readonly draining: boolean;
  /** Answers the request, now or by the returned promise; false: node:http must take it (and the connection). */
  answer(request: SimpleRequest, connection: PlainConnection): Promise<void> | undefined | false;
  /**
   * Gives the socket to node:http, the unread bytes put back in it. `deadline`
   * (a performance.now() time): when headersTimeout runs out for a connection
   * that has had no answer yet, since node:http's own clock starts only now.
   */
  handOff(socket: Socket, deadline: number | null): void;
  /** A new connection sent nothing within headersTimeout. */
  timedOut(socket: Socket): void;
}

const STATUS_LINES: Record<number, string> = {};

function statusLine(status: number, reason: string | undefined): string {
  return (STATUS_LINES[status] ??= `HTTP/1.1 ${status} ${reason ?? 'Unknown'}\r\n`);
}

let dateHeader = '';
let dateExpires = 0;

/** The Date header (HTTP/1.1 origin servers must send one), made once a second like node:http's. */
function date(): string {
  const now = Date.now();
  if (now >= dateExpires) {
    dateHeader = `Date: ${new Date(now).toUTCString()}\r\n`;
    dateExpires = now - (now % 1000) + 1000;
  }
  return dateHeader;
}

// Up to this size a body goes out in one string with its headers: one socket write instead of two.
const STRING_BODY_MAX = 16 * 1024;

export class PlainConnection {
  /** An answer is being waited for (a write's durability, or room in the socket's buffer): what arrives meanwhile waits in `unread`. */
  private busy = false;
  private unread: Buffer | null = null;
  private answered = false;
  /** Set once the connection stops being ours: closing after an answer, or handed to node:http. */
  private done = false;
  private closeAfter = false;
  private readonly onData = (chunk: Buffer) => this.received(chunk);
  private readonly onTimeout = () => this.idle();
  private readonly onError = () => this.socket.destroy();
  private readonly deadline: number;

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
    private readonly reasons: Readonly<Record<number, string | undefined>>,
  ) {
    this.deadline = performance.now() + host.headersTimeout;
    socket.setTimeout(host.headersTimeout);
    socket.on('data', this.onData).on('timeout', this.onTimeout).on('error', this.onError);
    // A client gone, what it sent before leaving is not served, and its socket goes to no one.
    socket.once('close', () => {
      this.done = true;
    });
  }

  /** No request is being read or answered: close() may close the connection now. */
  get isIdle(): boolean {
    return !this.busy && this.unread === null;
  }

  /** Answers with a status, a body, and the headers given as lines (each ending with CRLF). */
  send(status: number, headers: string, body: Buffer | string | null, contentLength: number, withBody: boolean): void {
    // The client left while its answer was on its way.
    if (this.socket.destroyed) return;
    const close = this.closeAfter || this.host.draining;
    let head = statusLine(status, this.reasons[status]) + headers + date();
    if (status !== 204) head += `Content-Length: ${contentLength}\r\n`;
    head += close ? 'Connection: close\r\n\r\n' : this.keepAlive();
    const socket = this.socket;
    if (!withBody || body === null || contentLength === 0) socket.write(head, 'latin1');
    else if (typeof body === 'string') socket.write(head + body, 'utf8');
    else if (body.length <= STRING_BODY_MAX) socket.write(head + body.toString('latin1'), 'latin1');
    else {
      socket.cork();
      socket.write(head, 'latin1');
      socket.write(body);
      socket.uncork();
    }
    if (!this.answered) {
      this.answered = true;
      socket.setTimeout(this.host.keepAliveTimeout);
    }
    if (close) this.finish();
  }

  /** Answers with an error as JSON `{code, message}`, as the node:http side does. */
  sendError(error: HttpError, withBody: boolean): void {
    let headers = 'Content-Type: application/json\r\n';
    for (const [name, value] of Object.entries(error.headers)) headers += `${name}: ${value}\r\n`;
    const body = JSON.stringify({ code: error.code, message: error.message });
    this.send(error.status, headers, body, Buffer.byteLength(body), withBody);
  }

  /** Closes the connection if nothing is in flight on it (for close()). */
  closeIfIdle(): void {
    if (!this.done && this.isIdle) this.socket.destroy();
  }

  /** As node:http says it: the header only with a timeout, in whole seconds (so 0 under one second). */
  private keepAlive(): string {
    const timeout = this.host.keepAliveTimeout;
    return timeout > 0 ? `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(timeout / 1000)}\r\n\r\n` : 'Connection: keep-alive\r\n\r\n';
  }

  private received(chunk: Buffer): void {
    if (this.done) return;
    if (this.busy) {
      // Pipelined behind an answer still on its way: read on once it is sent, and stop reading meanwhile.
      this.unread = this.unread === null ? chunk : Buffer.concat([this.unread, chunk]);
      this.socket.pause();
      return;
    }
    this.serve(chunk);
  }

  private serve(bytes: Buffer): void {
    let at = 0;
    while (at < bytes.length && !this.done) {
      const request = readSimpleRequest(bytes, at, this.host.maxHeaderSize);
      if (request !== null) this.closeAfter = request.close;
      const answer = request === null ? false : this.host.answer(request, this);
      if (answer === false) {
        this.handOff(bytes.subarray(at));
        return;
      }
      at = request!.end;
      if (answer !== undefined) {
        this.wait(bytes, at);
        answer.then(() => this.answeredLater());
        return;
      }
      // A client that sends requests without reading the answers must not make the server hold them all.
      if (this.socket.writableNeedDrain && !this.done) {
        this.wait(bytes, at);
        this.socket.once('drain', () => this.answeredLater());
        return;
      }
    }
  }

  /** Serves nothing more until answeredLater(): what is left of `bytes` from `at` waits in `unread`, and received() stops the reading if more comes. */
  private wait(bytes: Buffer, at: number): void {
    this.busy = true;
    if (at < bytes.length) this.unread = bytes.subarray(at);
  }

  private answeredLater(): void {
    this.busy = false;
    if (this.done) return;
    const unread = this.unread;
    this.unread = null;
    if (unread !== null) this.serve(unread);
    if (!this.busy && !this.done) this.socket.resume();
  }

  private handOff(unread: Buffer): void {
    this.release();
    if (unread.length > 0) this.socket.unshift(unread);
    this.host.handOff(this.socket, this.answered ? null : this.deadline);
    // Paused while an answer was on its way, the socket would never give node:http what waits in it.
    if (this.socket.isPaused()) this.socket.resume();
  }

  private idle(): void {
    if (this.busy || this.done) return;
    if (this.answered) this.socket.destroy();
    else {
      this.release();
      this.host.timedOut(this.socket);
    }
  }

  /** After an answer that closes the connection: the rest of what the client sent is not read. */
  private finish(): void {
    this.release();
    endThenDestroy(this.socket);
  }

  private release(): void {
    this.done = true;
    this.socket.setTimeout(0);
    this.socket.off('data', this.onData).off('timeout', this.onTimeout).off('error', this.onError);
    // Until node:http or the end of the connection takes over, an error must not go unheard.
    this.socket.on('error', () => this.socket.destroy());
  }
}

/**
 * Sends what is queued, then closes the socket, as node:http does after an
 * answer that closes: end() alone would leave it half open until the client
 * closes its side, holding a connection and a file descriptor.
 */
export function endThenDestroy(socket: Socket, data?: string): void {
  if (data === undefined) socket.end();
  else socket.end(data);
  socket.once('finish', () => socket.destroy());
}
