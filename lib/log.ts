/** One structured log line. */
export interface LogEntry {
  time: string;
  level: 'info' | 'warn' | 'error';
  msg: string;
  [field: string]: unknown;
}

export type Logger = (entry: LogEntry) => void;

/** A logger writing one JSON object per line, for log collectors to parse. */
export function jsonLines(stream: NodeJS.WritableStream): Logger {
  return (entry) => {
    stream.write(`${JSON.stringify(entry)}\n`);
  };
}
