import { open, type Store } from '../../lib/index.js';
import { accessSequence, type Dataset, makeDataset } from '../dataset.js';

/**
 * The operations the workshop scripts measure, on a store of `keys` random
 * 16-byte keys with 100-byte values. An operation of `range` is one entry
 * read (ranges of 10,000 entries); of `set-*-64`, one set with 64 in flight.
 */
export const KINDS = ['set-durable', 'set-durable-64', 'set-nosync', 'get', 'range'] as const;
export type Kind = (typeof KINDS)[number];

export function parseKind(text: string): Kind {
  if (!(KINDS as readonly string[]).includes(text)) throw new RangeError(`unknown operation "${text}"; choose from ${KINDS.join(', ')}`);
  return text as Kind;
}

export const VALUE_SIZE = 100;
const RANGE = 10_000;

/** Fills `dir` with the dataset's keys, so every measured run starts from the same store. */
export async function prepare(dir: string, data: Dataset): Promise<void> {
  const db = await open(dir, { sync: 'none' });
  for (let i = 0; i < data.keys.length; i += 10_000) await Promise.all(data.keys.slice(i, i + 10_000).map((key) => db.set(key, data.value)));
  await db.close();
}

export const openFor = (kind: Kind, dir: string): Promise<Store> => open(dir, { sync: kind === 'set-nosync' ? 'none' : 'always' });

/** Makes the workload's operations; `run(n)` performs n of them. Keys are chosen in a fixed stride, the same in every run. */
export function operations(kind: Kind, db: Store, data: Dataset): (n: number) => Promise<void> {
  const { keys, updates } = data;
  const sorted = kind === 'range' ? [...keys].sort(Buffer.compare) : [];
  let cursor = 0;
  const next = () => (cursor = (cursor + 7919) % keys.length);
  const sequence = kind === 'get' ? accessSequence(keys) : [];
  switch (kind) {
    case 'get':
      return async (n) => {
        for (let i = 0; i < n; i++) if (db.getSync(sequence[i % sequence.length]) === undefined) throw new Error('a loaded key is missing');
      };
    case 'range':
      return async (n) => {
        for (let done = 0; done < n; ) {
          const limit = Math.min(RANGE, n - done);
          for await (const _ of db.range({ gte: sorted[next() % (sorted.length - limit)], limit })) done++;
        }
      };
    case 'set-durable-64':
      return async (n) => {
        let issued = 0;
        const writer = async () => {
          while (issued < n) {
            issued++;
            await db.set(keys[next()], updates[issued % updates.length]);
          }
        };
        await Promise.all(Array.from({ length: Math.min(64, n) }, writer));
      };
    default:
      return async (n) => {
        for (let i = 0; i < n; i++) await db.set(keys[next()], updates[i % updates.length]);
      };
  }
}

export const dataset = (keys: number): Dataset => makeDataset(keys, VALUE_SIZE, 1);
