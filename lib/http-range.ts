import type { ServerResponse } from 'node:http';
import { badRequest } from './http-errors.js';
import type { RangeOptions } from './range.js';
import type { Store } from './store.js';
import { isTextEncoding, type TextEncoding } from './text-encoding.js';

/** A `GET /kv?...` request, checked. */
export interface RangeRequest {
  options: RangeOptions;
  /** Entries in this answer, at most. */
  limit: number;
  keysOnly: boolean;
  encoding: TextEncoding;
}

const BOUNDS = ['prefix', 'gt', 'gte', 'lt', 'lte'] as const;
const KNOWN = new Set<string>([...BOUNDS, 'limit', 'reverse', 'keys_only', 'encoding', 'cursor']);
const CURSOR = /^[A-Za-z0-9_-]*$/;
// Lines are gathered into writes of about this size: one socket write per line would cost more than the line.
const FLUSH_CHARS = 16 * 1024;

function flag(value: Buffer, name: string): boolean {
  const text = value.toString('latin1');
  if (text === '' || text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw badRequest(`query parameter "${name}" must be true or false, got ${JSON.stringify(text)}`);
}

export function encodeCursor(key: Buffer): string {
  return key.toString('base64url');
}

function decodeCursor(text: string): Buffer {
  const key = Buffer.from(text, 'base64url');
  if (!CURSOR.test(text) || key.toString('base64url') !== text) throw badRequest('query parameter "cursor" is not a cursor this server gave out');
  return key;
}

const later = (a: Buffer | undefined, b: Buffer) => (a === undefined || Buffer.compare(b, a) > 0 ? b : a);
const earlier = (a: Buffer | undefined, b: Buffer) => (a === undefined || Buffer.compare(b, a) < 0 ? b : a);

/**
 * Reads the range parameters. Bounds are bytes (percent-encoded in the
 * query); `cursor` continues after the last key of an earlier answer to the
 * same query, so it narrows the bound on the side the walk comes from.
 */
export function parseRangeQuery(params: Map<string, Buffer>, defaultLimit: number, maxLimit: number): RangeRequest {
  for (const name of params.keys()) if (!KNOWN.has(name)) throw badRequest(`unknown query parameter "${name}"`);
  const options: RangeOptions = {};
  for (const name of BOUNDS) {
    const value = params.get(name);
    if (value !== undefined) options[name] = value;
  }
  const reverse = params.has('reverse') && flag(params.get('reverse')!, 'reverse');
  if (reverse) options.reverse = true;
  let limit = defaultLimit;
  const limitText = params.get('limit')?.toString('latin1');
  if (limitText !== undefined) {
    limit = /^\d{1,9}$/.test(limitText) ? Number(limitText) : 0;
    if (limit < 1 || limit > maxLimit) throw badRequest(`query parameter "limit" must be an integer from 1 to ${maxLimit}`);
  }
  const encoding = params.get('encoding')?.toString('latin1') ?? 'utf8';
  if (!isTextEncoding(encoding)) throw badRequest(`query parameter "encoding" must be utf8, base64 or hex, got ${JSON.stringify(encoding)}`);
  const cursorText = params.get('cursor')?.toString('latin1');
  if (cursorText !== undefined) {
    const after = decodeCursor(cursorText);
    if (reverse) options.lt = earlier(options.lt as Buffer | undefined, after);
    else options.gt = later(options.gt as Buffer | undefined, after);
  }
  const keysOnly = params.has('keys_only') && flag(params.get('keys_only')!, 'keys_only');
  return { options, limit, keysOnly, encoding };
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

/**
 * Answers with one NDJSON line per entry and a last line `{"cursor": ...}`:
 * where to continue, or null when the range is done. Asking the store for one
 * entry more than the limit tells whether there is more. Writes wait for the
 * client to keep up, so a slow reader holds one write's worth of lines.
 */
export async function streamRange(store: Store, request: RangeRequest, res: ServerResponse): Promise<void> {
  const { limit, keysOnly, encoding } = request;
  const options = { ...request.options, limit: limit + 1 };
  const entries: AsyncIterable<Buffer | [Buffer, Buffer]> = keysOnly ? store.keys(options) : store.range(options);
  res.setHeader('content-type', 'application/x-ndjson');
  let lines = '';
  let count = 0;
  let last: Buffer | undefined;
  let more = false;
  for await (const entry of entries) {
    if (count === limit) {
      more = true;
      break;
    }
    const key = keysOnly ? (entry as Buffer) : (entry as [Buffer, Buffer])[0];
    const line = keysOnly ? { key: key.toString(encoding) } : { key: key.toString(encoding), value: (entry as [Buffer, Buffer])[1].toString(encoding) };
    lines += `${JSON.stringify(line)}\n`;
    count++;
    last = key;
    if (lines.length >= FLUSH_CHARS) {
      const flowing = res.write(lines);
      lines = '';
      if (!flowing) await drained(res);
      // The client left: leaving the loop ends the range and releases its snapshot.
      if (res.destroyed) return;
    }
  }
  res.end(`${lines}${JSON.stringify({ cursor: more ? encodeCursor(last!) : null })}\n`);
}
