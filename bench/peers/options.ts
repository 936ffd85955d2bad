import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';

export interface SuiteOptions {
  keys: number;
  valueSizes: number[];
  /** Milliseconds each measured task runs (after its warm-up). */
  timeMs: number;
  stores: string[];
  writers: number[];
  ycsbClients: number;
  /** Parent directory for the stores' temporary directories. */
  dir: string;
}

export const STORE_NAMES = ['kvcask', 'kvcask-disk', 'lmdb', 'classic-level', 'better-sqlite3'];

export const USAGE = `npm run bench:peers -- [options]   (each option also from the environment variable named)
  --keys <n>            keys loaded (KVCASK_BENCH_KEYS, default 1000000)
  --value-sizes <list>  value sizes in bytes (KVCASK_BENCH_VALUE_SIZES, default 100,1024)
  --time <ms>           measured time per task (KVCASK_BENCH_TIME, default 2000)
  --stores <list>       of ${STORE_NAMES.join(', ')} (KVCASK_BENCH_STORES, default all)
  --writers <list>      concurrent writers for the set sweep (KVCASK_BENCH_WRITERS, default 1,16,64,256)
  --ycsb-clients <n>    concurrent clients in the YCSB mixes (KVCASK_BENCH_YCSB_CLIENTS, default 64)
  --dir <path>          where the stores' temporary directories go (KVCASK_BENCH_DIR, default the OS temp dir)`;

function list(text: string, name: string): number[] {
  const values = text.split(',').map(Number);
  if (values.some((n) => !Number.isInteger(n) || n < 1)) throw new RangeError(`--${name} must be positive integers, got ${text}`);
  return values;
}

/** The suite's options from flags, then environment variables, then defaults; unknown flags are left for the caller in `rest`. */
export function parseSuiteOptions(argv: string[]): { options: SuiteOptions; rest: Record<string, string | undefined> } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      keys: { type: 'string' },
      'value-sizes': { type: 'string' },
      time: { type: 'string' },
      stores: { type: 'string' },
      writers: { type: 'string' },
      'ycsb-clients': { type: 'string' },
      dir: { type: 'string' },
      child: { type: 'string' },
      'value-size': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const env = process.env;
  const [keys] = list(values.keys ?? env.KVCASK_BENCH_KEYS ?? '1000000', 'keys');
  const [timeMs] = list(values.time ?? env.KVCASK_BENCH_TIME ?? '2000', 'time');
  const [ycsbClients] = list(values['ycsb-clients'] ?? env.KVCASK_BENCH_YCSB_CLIENTS ?? '64', 'ycsb-clients');
  const stores = (values.stores ?? env.KVCASK_BENCH_STORES ?? STORE_NAMES.join(',')).split(',');
  for (const store of stores) if (!STORE_NAMES.includes(store)) throw new RangeError(`unknown store "${store}"; choose from ${STORE_NAMES.join(', ')}`);
  if (keys < 1000) throw new RangeError('--keys must be at least 1000');
  return {
    options: {
      keys,
      valueSizes: list(values['value-sizes'] ?? env.KVCASK_BENCH_VALUE_SIZES ?? '100,1024', 'value-sizes'),
      timeMs,
      stores,
      writers: list(values.writers ?? env.KVCASK_BENCH_WRITERS ?? '1,16,64,256', 'writers'),
      ycsbClients,
      dir: values.dir ?? env.KVCASK_BENCH_DIR ?? tmpdir(),
    },
    rest: { child: values.child, valueSize: values['value-size'], out: values.out },
  };
}
