import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ByteBudget } from './byte-budget.js';
import { codes } from './errors.js';
import { HttpError } from './http-errors.js';

export function bodyTooLarge(limit: number): HttpError {
  return new HttpError(413, codes.BODY_TOO_LARGE, `the request body exceeds the limit of ${limit} bytes`);
}

/** Whether the request came with a body that has not been read to its end. */
export function hasUnreadBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  const declared = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  return declared && !req.complete;
}

const clientGone = () => new Error('the client closed the connection');

/**
 * Reads the whole request body into one buffer and passes it to `use`. The
 * body's bytes are reserved in `budget` until `use` settles: its declared
 * length, or `limit` when it is sent without one (chunked). A declared length
 * over `limit` is refused before a byte is read; a chunked body is cut off
 * the moment it passes `limit`.
 */
export function withBody<T>(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  budget: ByteBudget,
  use: (body: Buffer) => Promise<T>,
): Promise<T> {
  const header = req.headers['content-length'];
  const declared = header === undefined ? undefined : Number(header);
  if (declared !== undefined && declared > limit) return Promise.reject(bodyTooLarge(limit));
  const reserve = declared ?? limit;
  // Callbacks rather than a promise per step: a PUT's body, its write and the answer cost one promise of ours besides the store's.
  return new Promise<T>((resolve, reject) => {
    const received = (err: unknown, body?: Buffer) => {
      let used: Promise<T>;
      try {
        if (err !== undefined) throw err;
        used = use(body!);
      } catch (error) {
        budget.release(reserve);
        reject(error);
        return;
      }
      used.then(
        (result) => {
          budget.release(reserve);
          resolve(result);
        },
        (error: unknown) => {
          budget.release(reserve);
          reject(error);
        },
      );
    };
    const start = () => receiveAdmitted(req, res, declared, limit, received);
    // Most bodies find room at once: only one that has to wait pays for a signal to stop waiting when its client leaves.
    if (budget.tryAcquire(reserve)) start();
    // A body that never got its room has nothing to give back.
    else waitForRoom(res, budget, reserve).then(start, reject);
  });
}

function waitForRoom(res: ServerResponse, budget: ByteBudget, bytes: number): Promise<void> {
  const gone = new AbortController();
  const onClose = () => gone.abort(clientGone());
  res.once('close', onClose);
  return budget.acquire(bytes, gone.signal).finally(() => res.off('close', onClose));
}

type Received = (err: unknown, body?: Buffer) => void;

function receiveAdmitted(req: IncomingMessage, res: ServerResponse, declared: number | undefined, limit: number, done: Received): void {
  // A client that asked to wait for a go-ahead gets it only now that its body has room.
  if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
  receive(req, res, declared, limit, done);
}

/** Calls `done` once with the whole body or the reason there is none. */
function receive(req: IncomingMessage, res: ServerResponse, declared: number | undefined, limit: number, done: Received): void {
  // With a declared length the body goes into one buffer of that size, or is the one chunk it came in.
  let whole: Buffer | null = null;
  const chunks: Buffer[] = [];
  let received = 0;
  const finish = (err: unknown, body?: Buffer) => {
    req.off('data', onData).off('end', onEnd).off('error', finish);
    res.off('close', onGone);
    done(err, body);
  };
  const onData = (chunk: Buffer) => {
    if (received + chunk.length > (declared ?? limit)) {
      req.pause();
      finish(bodyTooLarge(limit));
      return;
    }
    if (declared === undefined) chunks.push(chunk);
    else if (whole === null && chunk.length === declared) whole = chunk;
    else (whole ??= Buffer.allocUnsafe(declared)).set(chunk, received);
    received += chunk.length;
    // The last byte of a declared length ends the body: no need to wait for the stream's 'end' a tick later.
    if (received === declared) finish(undefined, whole!);
  };
  const onEnd = () => {
    if (declared !== undefined) finish(undefined, whole ?? Buffer.alloc(0));
    else finish(undefined, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
  };
  const onGone = () => finish(clientGone());
  if (res.destroyed) {
    onGone();
    return;
  }
  req.on('data', onData).on('error', finish);
  // A declared length ends on its last byte (above); only an empty or chunked body needs the stream's end.
  if (declared === undefined || declared === 0) req.on('end', onEnd);
  // Removed by finish(), so on() rather than once(), which would wrap it.
  res.on('close', onGone);
}
