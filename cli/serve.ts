import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { open } from '../lib/index.js';
import { createServer, jsonLines, type ServerOptions } from '../lib/server.js';
import { UsageError } from './output.js';
import { chosenStoreOptions } from './context.js';

interface ServeOptions {
  port: number;
  host: string;
  authToken?: string;
  tlsCert?: string;
  tlsKey?: string;
  maxKeySize?: number;
  maxBodySize?: number;
  maxConnections?: number;
  headersTimeout?: number;
  requestTimeout?: number;
  shutdownTimeout?: number;
  logRequests?: boolean;
}

function integer(text: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new InvalidArgumentError('expected a non-negative integer.');
  return Number(text);
}

function numberOption(flags: string, description: string, env: string): Option {
  return new Option(flags, description).env(env).argParser(integer);
}

/**
 * Runs until SIGTERM or SIGINT, then drains: no new connections, requests in
 * flight finish, the store is closed, and the command returns (exit 0). A
 * second signal cuts the connections still open; the store is closed all the same.
 */
async function serve(options: ServeOptions, command: Command): Promise<void> {
  const { dir } = command.optsWithGlobals<{ dir: string }>();
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const log = jsonLines(process.stdout);
  const serverOptions: ServerOptions = { log, logRequests: options.logRequests === true };
  for (const name of ['authToken', 'maxBodySize', 'maxConnections', 'headersTimeout', 'requestTimeout', 'shutdownTimeout'] as const) {
    if (options[name] !== undefined) (serverOptions as Record<string, unknown>)[name] = options[name];
  }
  if (options.tlsCert !== undefined && options.tlsKey !== undefined) {
    serverOptions.tls = { cert: await readFile(options.tlsCert), key: await readFile(options.tlsKey) };
  }
  const storeOptions = { ...chosenStoreOptions(command), ...(options.maxKeySize === undefined ? {} : { maxKeySize: options.maxKeySize }) };
  const store = await open(dir, storeOptions);
  try {
    const server = createServer(store, serverOptions);
    const signalled = new Promise<NodeJS.Signals>((resolve) => {
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        signals++;
        if (signals === 1) resolve(signal);
        else server.closeConnections();
      };
      process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
    });
    await server.listen(options.port, options.host);
    const signal = await signalled;
    log({ time: new Date().toISOString(), level: 'info', msg: 'signal received', signal });
    await server.close();
  } finally {
    await store.close();
  }
  log({ time: new Date().toISOString(), level: 'info', msg: 'stopped' });
}

/** Adds `kvcask serve` to the program. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the store over HTTP until SIGTERM or SIGINT (logs JSON lines on stdout)')
    .addOption(numberOption('--port <n>', 'port to listen on; 0 picks a free one', 'KVCASK_PORT').default(8080))
    .addOption(new Option('--host <address>', 'address to listen on').env('KVCASK_HOST').default('127.0.0.1'))
    .addOption(new Option('--auth-token <token>', 'require "Authorization: Bearer <token>"').env('KVCASK_AUTH_TOKEN'))
    .addOption(new Option('--tls-cert <path>', 'PEM certificate: serve HTTPS').env('KVCASK_TLS_CERT'))
    .addOption(new Option('--tls-key <path>', 'PEM private key for --tls-cert').env('KVCASK_TLS_KEY'))
    .addOption(numberOption('--max-key-size <bytes>', 'longest key (store default 1024)', 'KVCASK_MAX_KEY_SIZE'))
    .addOption(numberOption('--max-body-size <bytes>', 'longest request body (default 16 MiB)', 'KVCASK_MAX_BODY_SIZE'))
    .addOption(numberOption('--max-connections <n>', 'open connections at most (default 1024)', 'KVCASK_MAX_CONNECTIONS'))
    .addOption(numberOption('--headers-timeout <ms>', 'time to send the request headers (default 10000)', 'KVCASK_HEADERS_TIMEOUT'))
    .addOption(numberOption('--request-timeout <ms>', 'time to send the whole request (default 30000)', 'KVCASK_REQUEST_TIMEOUT'))
    .addOption(numberOption('--shutdown-timeout <ms>', 'time in-flight requests get at shutdown (default 10000)', 'KVCASK_SHUTDOWN_TIMEOUT'))
    .addOption(new Option('--log-requests', 'log every request').env('KVCASK_LOG_REQUESTS'))
    .action(serve);
}
