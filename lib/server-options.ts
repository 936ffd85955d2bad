import { describe } from './encoding.js';
import type { Logger } from './log.js';

export interface ServerOptions {
  /** Requests must carry `Authorization: Bearer <token>` (except /healthz and /readyz). Default: no authentication. */
  authToken?: string;
  /** Serve HTTPS with this PEM certificate and key. Default: plain HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Longest request body, in bytes. Default 16 MiB. */
  maxBodySize?: number;
  /** Bytes all request bodies being received or applied may take together; further bodies wait. Default 256 MiB. */
  bodyMemory?: number;
  /** Milliseconds a client has to send the request headers. Default 10,000. */
  headersTimeout?: number;
  /** Milliseconds a client has to send the whole request, body included. Default 30,000. */
  requestTimeout?: number;
  /** Milliseconds an idle keep-alive connection stays open. Default 5,000. */
  keepAliveTimeout?: number;
  /** Open connections at most; further ones are closed at once. Default 1,024. */
  maxConnections?: number;
  /** Entries in a range answer when `limit` is not given. Default 1,000. */
  rangeLimit?: number;
  /** Largest `limit` a range request may ask for. Default 10,000. */
  maxRangeLimit?: number;
  /** Milliseconds close() waits for requests in flight before closing their connections. Default 10,000. */
  shutdownTimeout?: number;
  /** Where structured log entries go. Default: nowhere. */
  log?: Logger;
  /** Log every request (method, route, status, duration). Default false. */
  logRequests?: boolean;
  /** Also export prom-client's process metrics (memory, CPU, event loop lag). Default true. */
  defaultMetrics?: boolean;
}

export type ResolvedServerOptions = Required<Omit<ServerOptions, 'authToken' | 'tls' | 'log'>> & Pick<ServerOptions, 'authToken' | 'tls' | 'log'>;

const DEFAULTS = {
  maxBodySize: 16 * 1024 * 1024,
  bodyMemory: 256 * 1024 * 1024,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  maxConnections: 1024,
  rangeLimit: 1000,
  maxRangeLimit: 10_000,
  shutdownTimeout: 10_000,
  logRequests: false,
  defaultMetrics: true,
};

const NUMBERS: Record<string, [number, number]> = {
  maxBodySize: [0, 2 ** 32],
  bodyMemory: [0, Number.MAX_SAFE_INTEGER],
  headersTimeout: [1, 3_600_000],
  requestTimeout: [1, 3_600_000],
  keepAliveTimeout: [0, 3_600_000],
  maxConnections: [1, 1_000_000],
  rangeLimit: [1, 1_000_000],
  maxRangeLimit: [1, 1_000_000],
  shutdownTimeout: [0, 3_600_000],
};

export function resolveServerOptions(options: unknown): ResolvedServerOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw new TypeError(`options must be an object, got ${describe(options)}`);
  const given = (options ?? {}) as Record<string, unknown>;
  const resolved: Record<string, unknown> = { ...DEFAULTS };
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (name in NUMBERS) {
      const [min, max] = NUMBERS[name];
      if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`options.${name} must be an integer, got ${describe(value)}`);
      if (value < min || value > max) throw new RangeError(`options.${name} must be between ${min} and ${max}, got ${value}`);
    } else if (name === 'logRequests' || name === 'defaultMetrics') {
      if (typeof value !== 'boolean') throw new TypeError(`options.${name} must be a boolean`);
    } else if (name === 'authToken') {
      if (typeof value !== 'string' || value.length === 0) throw new TypeError('options.authToken must be a non-empty string');
    } else if (name === 'log') {
      if (typeof value !== 'function') throw new TypeError('options.log must be a function');
    } else if (name === 'tls') {
      const tls = value as { cert?: unknown; key?: unknown };
      const pem = (v: unknown) => typeof v === 'string' || v instanceof Uint8Array;
      if (typeof tls !== 'object' || tls === null || !pem(tls.cert) || !pem(tls.key)) throw new TypeError('options.tls must be { cert, key } as PEM strings or buffers');
    } else {
      throw new TypeError(`unknown option "${name}"`);
    }
    resolved[name] = value;
  }
  const result = resolved as ResolvedServerOptions;
  // A body without a declared length reserves maxBodySize, so it must fit in the budget.
  if (result.bodyMemory < result.maxBodySize) throw new RangeError(`options.bodyMemory (${result.bodyMemory}) must be at least maxBodySize (${result.maxBodySize})`);
  if (result.rangeLimit > result.maxRangeLimit) throw new RangeError(`options.rangeLimit (${result.rangeLimit}) must not exceed maxRangeLimit (${result.maxRangeLimit})`);
  return result;
}
