import { type BatchOperation, open, type Store } from '../../lib/index.js';
import type { Peer, PeerStore } from './adapter.js';

function adapt(db: Store): PeerStore {
  return {
    put: (key, value) => db.set(key, value),
    getSync: (key) => db.getSync(key),
    get: (key) => db.get(key),
    getMany: (keys) => db.getMany(keys),
    async range(start, count) {
      let read = 0;
      for await (const _ of db.range({ gte: start, limit: count })) read++;
      return read;
    },
    async load(keys, value, chunk) {
      for (let i = 0; i < keys.length; i += chunk) {
        const operations: BatchOperation[] = [];
        for (let j = i; j < Math.min(keys.length, i + chunk); j++) operations.push({ type: 'put', key: keys[j], value });
        await db.batch(operations);
      }
    },
    close: () => db.close(),
  };
}

const durability = { durable: "sync: 'always'", noSync: "sync: 'none'" };

export const kvcaskMemoryIndex: Peer = {
  name: 'kvcask',
  packageName: 'kvcask',
  durability,
  open: async (dir, durable) => adapt(await open(dir, { sync: durable ? 'always' : 'none' })),
};

/** kvcask with its index on disk (README, "Index modes"): the same workloads, sealed files read through their .kvx indexes. */
export const kvcaskDiskIndex: Peer = {
  name: 'kvcask (disk index)',
  packageName: 'kvcask',
  durability: { durable: `${durability.durable}, index: 'disk'`, noSync: `${durability.noSync}, index: 'disk'` },
  open: async (dir, durable) => adapt(await open(dir, { sync: durable ? 'always' : 'none', index: 'disk' })),
};
