/**
 * The plain requests of `kvcask serve` that make most of its traffic (a
 * GET, HEAD, PUT or DELETE of one key, whole in the bytes received), read
 * straight from the socket's bytes. Everything else, and anything this
 * strict reading is unsure of, is left to node:http, whose parser then reads
 * the request from its first byte: so a request this module accepts is one
 * node:http would read the same way, and where the two might differ
 * (transfer codings, continuations, odd characters) this module declines.
 */

export type SimpleMethod = 'GET' | 'HEAD' | 'PUT' | 'DELETE';

export interface SimpleRequest {
  method: SimpleMethod;
  /** The key as sent: the percent-encoded part of the path after `/kv/`. */
  encodedKey: string;
  authorization: string | undefined;
  /** The client sent `Connection: close`. */
  close: boolean;
  /** A PUT's body (a view of the bytes received); empty for the other methods. */
  body: Buffer;
  /** Where the next request starts in the bytes. */
  end: number;
}

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
// Method, a path of RFC 3986 path characters (no query) under /kv/, and HTTP/1.1 only: 1.0's keep-alive rules differ.
const REQUEST_LINE = /^(GET|HEAD|PUT|DELETE) \/kv\/([A-Za-z0-9\-._~%!$&'()*+,;=:@/]+) HTTP\/1\.1$/;
// A field name (RFC 9110 token), the colon, and a value of visible ASCII, spaces and tabs; no obs-fold, no bare CR or
// LF. Trailing spaces only: llhttp refuses a Content-Length with a tab after it, so a tab there is node:http's to judge.
const FIELD = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[\t ]*((?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?) *$/;
const DIGITS = /^[0-9]{1,15}$/;

/**
 * The request starting at `at` in `bytes`, or null when it is not whole in
 * `bytes` or is not one of the plain requests this module reads: then
 * node:http must read it.
 */
export function readSimpleRequest(bytes: Buffer, at: number, maxHeaderSize: number): SimpleRequest | null {
  const headEnd = bytes.indexOf(HEAD_END, at);
  if (headEnd < 0 || headEnd - at > maxHeaderSize) return null;
  const lines = bytes.toString('latin1', at, headEnd).split('\r\n');
  const start = REQUEST_LINE.exec(lines[0]);
  if (start === null) return null;
  let hosts = 0;
  let length: string | undefined;
  let authorization: string | undefined;
  let close = false;
  for (let i = 1; i < lines.length; i++) {
    const field = FIELD.exec(lines[i]);
    if (field === null) return null;
    const value = field[2];
    switch (field[1].toLowerCase()) {
      case 'host':
        hosts++;
        break;
      case 'content-length':
        if (length !== undefined || !DIGITS.test(value) || lines[i].includes('\t')) return null;
        length = value;
        break;
      case 'authorization':
        if (authorization !== undefined) return null;
        authorization = value;
        break;
      case 'connection': {
        const option = value.toLowerCase();
        if (option === 'close') close = true;
        else if (option !== 'keep-alive') return null;
        break;
      }
      // A body in chunks, a go-ahead to send, a protocol switch, a trailer, and what llhttp reads as Connection:
      // node:http's to handle.
      case 'proxy-connection':
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
      case 'te':
      case 'trailer':
        return null;
    }
  }
  // HTTP/1.1 requires exactly one Host; node:http answers the rest.
  if (hosts !== 1) return null;
  const method = start[1] as SimpleMethod;
  const bodyLength = length === undefined ? 0 : Number(length);
  // A PUT says how long its body is; the other methods send none here.
  if (method === 'PUT' ? length === undefined : bodyLength !== 0) return null;
  const bodyStart = headEnd + HEAD_END.length;
  if (bodyStart + bodyLength > bytes.length) return null;
  return {
    method,
    encodedKey: start[2],
    authorization,
    close,
    body: bytes.subarray(bodyStart, bodyStart + bodyLength),
    end: bodyStart + bodyLength,
  };
}
