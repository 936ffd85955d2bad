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

/**
 * Reads the whole request body into one buffer and passes it to `use`. The
 * body's bytes are reserved in `budget` until `use` settles: its declared
 * length, or `limit` when it is sent without one (chunked). A declared length
 * over `limit` is refused before a byte is read; a chunked body is cut off
 * the moment it passes `limit`.
 */
export async function withBody<T>(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  budget: ByteBudget,
  use: (body: Buffer) => Promise<T>,
): Promise<T> {
  const header = req.headers['content-length'];
  const declared = header === undefined ? undefined : Number(header);
  if (declared !== undefined && declared > limit) throw bodyTooLarge(limit);
  const reserve = declared ?? limit;
  const gone = new AbortController();
  const onClose = () => gone.abort(new Error('the client closed the connection'));
  res.once('close', onClose);
  try {
    await budget.acquire(reserve, gone.signal);
  } catch (err) {
    res.off('close', onClose);
    throw err;
  }
  try {
    // A client that asked to wait for a go-ahead gets it only now that its body has room.
    if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
    const body = await receive(req, declared, limit, gone.signal);
    return await use(body);
  } finally {
    res.off('close', onClose);
    budget.release(reserve);
  }
}

function receive(req: IncomingMessage, declared: number | undefined, limit: number, gone: AbortSignal): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    // With a declared length the body goes straight into one buffer of that size.
    const whole = declared === undefined ? null : Buffer.allocUnsafe(declared);
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (err: unknown, body?: Buffer) => {
      req.off('data', onData).off('end', onEnd).off('error', finish);
      gone.removeEventListener('abort', onGone);
      if (err === undefined) resolve(body!);
      else reject(err);
    };
    const onData = (chunk: Buffer) => {
      if (received + chunk.length > (declared ?? limit)) {
        req.pause();
        finish(bodyTooLarge(limit));
        return;
      }
      if (whole !== null) chunk.copy(whole, received);
      else chunks.push(chunk);
      received += chunk.length;
    };
    const onEnd = () => finish(undefined, whole ?? Buffer.concat(chunks, received));
    const onGone = () => finish(gone.reason);
    if (gone.aborted) {
      onGone();
      return;
    }
    req.on('data', onData).on('end', onEnd).on('error', finish);
    gone.addEventListener('abort', onGone);
  });
}
