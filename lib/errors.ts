/**
 * Every error code kvcask reports, in one place. Codes are stable: code that
 * handles errors should switch on `err.code`, never on the message.
 */
export const codes = {
  /** Another open store (in this or another process) holds the directory. */
  LOCKED: 'KVCASK_LOCKED',
  /** The store was closed, or is closing; the operation was not performed. */
  CLOSED: 'KVCASK_CLOSED',
  /** A checksum or structural check failed; `file` and `offset` say where. */
  CORRUPTION: 'KVCASK_CORRUPTION',
  /** A key is longer than the `maxKeySize` option allows; nothing was written. */
  KEY_TOO_LARGE: 'KVCASK_KEY_TOO_LARGE',
  /** A value is longer than the `maxValueSize` option allows; nothing was written. */
  VALUE_TOO_LARGE: 'KVCASK_VALUE_TOO_LARGE',
  /** A file operation failed; `cause` holds the system error, `file` the path. */
  IO: 'KVCASK_IO',
  /**
   * An earlier write or fsync failed, so what is on disk is unknown; the store
   * refuses writes until it is closed and opened again (reads still work).
   */
  FAILED: 'KVCASK_FAILED',
  /** The directory holds files of a newer or unknown format version. */
  VERSION: 'KVCASK_VERSION',
  /** The operation was aborted through its AbortSignal. */
  ABORTED: 'KVCASK_ABORTED',
  // The HTTP server's own answers (see the README's Server section); store failures keep their codes above.
  /** The request is malformed: bad percent-encoding, query parameter, JSON or encoding. HTTP 400. */
  BAD_REQUEST: 'KVCASK_BAD_REQUEST',
  /** The bearer token is missing or wrong. HTTP 401. */
  UNAUTHORIZED: 'KVCASK_UNAUTHORIZED',
  /** No such key, or no such route. HTTP 404. */
  NOT_FOUND: 'KVCASK_NOT_FOUND',
  /** The route exists but not for this method; the Allow header lists the ones it has. HTTP 405. */
  METHOD_NOT_ALLOWED: 'KVCASK_METHOD_NOT_ALLOWED',
  /** The request body is longer than the server's maxBodySize. HTTP 413. */
  BODY_TOO_LARGE: 'KVCASK_BODY_TOO_LARGE',
  /** The request body has a content type this route does not take. HTTP 415. */
  UNSUPPORTED_MEDIA_TYPE: 'KVCASK_UNSUPPORTED_MEDIA_TYPE',
  /** The client did not send its request headers, or its whole request, in time (headersTimeout, requestTimeout). HTTP 408. */
  TIMEOUT: 'KVCASK_TIMEOUT',
  /** The server is shutting down, or the store no longer accepts writes. HTTP 503. */
  UNAVAILABLE: 'KVCASK_UNAVAILABLE',
  /** The server failed in a way it has no better code for. HTTP 500. */
  INTERNAL: 'KVCASK_INTERNAL',
  /** The target of a restore or a backup already exists: a non-empty directory, or a file. Nothing was written. */
  EXISTS: 'KVCASK_EXISTS',
} as const;

export type ErrorCode = (typeof codes)[keyof typeof codes];

export interface ErrorDetails {
  file?: string;
  offset?: number;
  cause?: unknown;
}

/** The one error class for store failures. Argument mistakes throw `TypeError`/`RangeError` instead. */
export class KvcaskError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly offset?: number;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'KvcaskError';
    this.code = code;
    if (details.file !== undefined) this.file = details.file;
    if (details.offset !== undefined) this.offset = details.offset;
  }
}

export function corruption(message: string, file: string, offset: number, cause?: unknown): KvcaskError {
  return new KvcaskError(codes.CORRUPTION, `${message} (${file} at offset ${offset})`, { file, offset, cause });
}

/** Wraps a system error from a file operation, keeping its `code` reachable through `cause`. */
export function ioError(operation: string, file: string, cause: unknown): KvcaskError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new KvcaskError(codes.IO, `${operation} failed for ${file}: ${reason}`, { file, cause });
}
