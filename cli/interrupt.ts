let controller: AbortController | undefined;

/**
 * An AbortSignal that Ctrl-C (SIGINT) or SIGTERM aborts, for commands that do
 * long work and must stop cleanly. Only those commands install the handler;
 * the others keep Node's default of dying at once, which the store survives.
 * A second signal, while the first is being handled, exits at once.
 */
export function interruptSignal(): AbortSignal {
  if (controller === undefined) {
    const own = new AbortController();
    const stop = (name: NodeJS.Signals) => {
      if (own.signal.aborted) process.exit(2);
      own.abort(new Error(`interrupted by ${name}`));
    };
    process.on('SIGINT', stop).on('SIGTERM', stop);
    controller = own;
  }
  return controller.signal;
}
