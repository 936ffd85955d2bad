import type { ServerResponse } from 'node:http';
import { codes, type ErrorCode, KvcaskError } from './errors.js';

/** A failure answered with an HTTP status and a JSON body `{code, message}`. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new HttpError(400, codes.BAD_REQUEST, message);

const STORE_STATUS: Partial<Record<ErrorCode, number>> = {
  [codes.KEY_TOO_LARGE]: 413,
  [codes.VALUE_TOO_LARGE]: 413,
  [codes.CLOSED]: 503,
  [codes.FAILED]: 503,
};

/** The status and body for anything a handler threw: our own errors, store errors, or argument errors. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof KvcaskError) return new HttpError(STORE_STATUS[err.code] ?? 500, err.code, err.message);
  // The store throws TypeError/RangeError only for arguments, and those come from the request.
  if (err instanceof TypeError || err instanceof RangeError) return badRequest(err.message);
  return new HttpError(500, codes.INTERNAL, 'internal error');
}

/**
 * Answers with the error. When the request body was not read to its end, the
 * connection is closed after the answer: Node would otherwise read and throw
 * away the rest of a possibly huge body to keep the connection alive.
 */
export function sendError(res: ServerResponse, error: HttpError, bodyUnread: boolean): void {
  if (res.headersSent) {
    // Mid-stream (an NDJSON range): the missing final line tells the client the answer is incomplete.
    res.destroy(error);
    return;
  }
  const body = JSON.stringify({ code: error.code, message: error.message });
  const headers: Record<string, string | number> = {
    ...error.headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  };
  if (bodyUnread) headers.connection = 'close';
  res.writeHead(error.status, headers);
  res.end(body);
}
