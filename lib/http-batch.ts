import { codes } from './errors.js';
import { badRequest, HttpError } from './http-errors.js';
import type { BatchOperation } from './store.js';
import { decodeText, isTextEncoding, type TextEncoding } from './text-encoding.js';

/** Content types `POST /batch` takes: JSON, with or without parameters such as charset. */
export function checkJsonContentType(contentType: string | undefined): void {
  const type = contentType?.split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, codes.UNSUPPORTED_MEDIA_TYPE, `the body must be application/json, got ${contentType === undefined ? 'no content type' : JSON.stringify(contentType)}`);
  }
}

function bytesOf(value: unknown, encoding: TextEncoding, what: string): Buffer {
  if (typeof value !== 'string') throw badRequest(`${what} must be a string`);
  const bytes = decodeText(value, encoding);
  if (bytes === undefined) throw badRequest(`${what} is not valid ${encoding}`);
  return bytes;
}

/**
 * The operations of a batch body:
 * `{"encoding": "utf8"|"base64"|"hex", "operations": [{"type": "put", "key", "value"}, {"type": "del", "key"}]}`.
 * `encoding` (default utf8) applies to every key and value.
 */
export function parseBatch(body: Buffer): BatchOperation[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw badRequest(`the body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest('the body must be a JSON object');
  const { encoding = 'utf8', operations, ...rest } = parsed as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw badRequest(`unknown field "${unknown[0]}" in the batch`);
  if (!isTextEncoding(encoding)) throw badRequest(`"encoding" must be utf8, base64 or hex, got ${JSON.stringify(encoding)}`);
  if (!Array.isArray(operations)) throw badRequest('"operations" must be an array');
  return operations.map((operation: unknown, i): BatchOperation => {
    if (typeof operation !== 'object' || operation === null) throw badRequest(`operation ${i} must be an object`);
    const { type, key, value } = operation as Record<string, unknown>;
    if (type === 'put') return { type, key: bytesOf(key, encoding, `operation ${i} key`), value: bytesOf(value, encoding, `operation ${i} value`) };
    if (type === 'del') {
      if (value !== undefined) throw badRequest(`operation ${i} is a del and takes no value`);
      return { type, key: bytesOf(key, encoding, `operation ${i} key`) };
    }
    throw badRequest(`operation ${i} must have type "put" or "del", got ${JSON.stringify(type)}`);
  });
}
