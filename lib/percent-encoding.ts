/**
 * Keys travel in URLs percent-encoded, so any bytes can be a key. Decoding is
 * to bytes, not to a string: `%FF` is the byte 0xFF, not U+FFFD as
 * decodeURIComponent would have it.
 */
import { badRequest } from './http-errors.js';

function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/**
 * The bytes of a percent-encoded URL part; `plusIsSpace` for query strings
 * (form encoding, as URLSearchParams writes them). Other characters stand for
 * themselves: Node hands over the raw request line one byte per character.
 * Throws a 400 for a `%` not followed by two hex digits.
 */
export function percentDecode(text: string, what: string, plusIsSpace = false): Buffer {
  const raw = Buffer.from(text, 'latin1');
  if (!text.includes('%') && !(plusIsSpace && text.includes('+'))) return raw;
  const out = Buffer.allocUnsafe(raw.length);
  let length = 0;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i];
    if (byte === 0x25) {
      const high = i + 2 < raw.length ? hexDigit(raw[i + 1]) : -1;
      const low = high >= 0 ? hexDigit(raw[i + 2]) : -1;
      if (low < 0) throw badRequest(`malformed percent-encoding in ${what} at character ${i}`);
      out[length++] = high * 16 + low;
      i += 2;
    } else {
      out[length++] = plusIsSpace && byte === 0x2b ? 0x20 : byte;
    }
  }
  return out.subarray(0, length);
}

/** The parameters of a query string (without the `?`), names decoded as text and values as bytes. */
export function parseQuery(query: string): Map<string, Buffer> {
  const params = new Map<string, Buffer>();
  if (query.length === 0) return params;
  for (const part of query.split('&')) {
    if (part.length === 0) continue;
    const equals = part.indexOf('=');
    const name = percentDecode(equals < 0 ? part : part.slice(0, equals), 'a query parameter name', true).toString('utf8');
    if (params.has(name)) throw badRequest(`query parameter "${name}" is given twice`);
    params.set(name, percentDecode(equals < 0 ? '' : part.slice(equals + 1), `query parameter "${name}"`, true));
  }
  return params;
}
