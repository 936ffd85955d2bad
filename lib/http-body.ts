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
  let holding = false;
  const start = () => {
    holding = true;
    // A throw here (writeContinue on a socket gone bad) must reach the handlers below, which give the room back.
    try {
      return receiveAdmitted(req, res, declared, limit);
    } catch (err) {
      return Promise.reject(err);
    }
  };
  // Most bodies find room at once: only one that has to wait pays for a signal to stop waiting when its client leaves.
  const received = budget.tryAcquire(reserve) ? start() : waitForRoom(res, budget, reserve).then(start);
  return received.then(use).then(
    (result) => {
      budget.release(reserve);
      return result;
    },
    (err: unknown) => {
      // A body that never got its room has nothing to give back.
      if (holding) budget.release(reserve);
      throw err;
    },
  );
}

function waitForRoom(res: ServerResponse, budget: ByteBudget, bytes: number): Promise<void> {
  const gone = new AbortController();
  const onClose = () => gone.abort(clientGone());
  res.once('close', onClose);
  return budget.acquire(bytes, gone.signal).finally(() => res.off('close', onClose));
}

function receiveAdmitted(req: IncomingMessage, res: ServerResponse, declared: number | undefined, limit: number): Promise<Buffer> {
  // A client that asked to wait for a go-ahead gets it only now that its body has room.
  if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
  return receive(req, res, declared, limit);
}

function receive(req: IncomingMessage, res: ServerResponse, declared: number | undefined, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    // With a declared length the body goes into one buffer of that size, or is the one chunk it came in.
    let whole: Buffer | null = null;
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (err: unknown, body?: Buffer) => {
      req.off('data', onData).off('end', onEnd).off('error', finish);
      res.off('close', onGone);
      if (err === undefined) resolve(body!);
      else reject(err);
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
    req.on('data', onData).on('end', onEnd).on('error', finish);
    res.once('close', onGone);
  });
}
