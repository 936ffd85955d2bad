import { open, type RootDatabase } from 'lmdb';
import type { Peer, PeerStore } from './adapter.js';

/**
 * lmdb-js. Durable: `overlappingSync: false`, so a put's promise resolves
 * after its transaction is committed and synced (with overlapping sync, the
 * default, it resolves before the sync). No-sync: `noSync: true`.
 * Binary keys and values, no compression and no object cache, so it stores and
 * returns the same bytes as the other stores.
 */
export const lmdbPeer: Peer = {
  name: 'lmdb',
  packageName: 'lmdb',
  durability: { durable: 'overlappingSync: false', noSync: 'noSync: true' },
  async open(dir, durable) {
    const db: RootDatabase<Buffer, Buffer> = open<Buffer, Buffer>(dir, {
      encoding: 'binary',
      keyEncoding: 'binary',
      compression: false,
      cache: false,
      ...(durable ? { overlappingSync: false } : { noSync: true }),
    });
    const store: PeerStore = {
      put: async (key, value) => {
        await db.put(key, value);
      },
      getSync: (key) => db.get(key),
      get: (key) => db.getAsync(key) as unknown as Promise<Uint8Array | undefined>,
      getMany: (keys) => db.getMany(keys),
      async range(start, count) {
        let read = 0;
        for (const _ of db.getRange({ start, limit: count })) read++;
        return read;
      },
      async load(keys, value, chunk) {
        for (let i = 0; i < keys.length; i += chunk) {
          // Puts issued in one event-loop turn are committed as one transaction.
          const writes: Promise<boolean>[] = [];
          for (let j = i; j < Math.min(keys.length, i + chunk); j++) writes.push(db.put(keys[j], value));
          await Promise.all(writes);
        }
      },
      close: () => db.close(),
    };
    return store;
  },
};
