import { ClassicLevel } from 'classic-level';
import type { Peer, PeerStore } from './adapter.js';

/** classic-level (LevelDB). Durable: every put with `{ sync: true }`; no-sync: `{ sync: false }`, its default. */
export const classicLevelPeer: Peer = {
  name: 'classic-level',
  packageName: 'classic-level',
  durability: { durable: 'put(..., { sync: true })', noSync: 'put(..., { sync: false })' },
  async open(dir, durable) {
    const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    const writeOptions = { sync: durable };
    const store: PeerStore = {
      put: (key, value) => db.put(key, value, writeOptions),
      getSync: (key) => db.getSync(key),
      get: (key) => db.get(key),
      getMany: (keys) => db.getMany(keys),
      async range(start, count) {
        let read = 0;
        for await (const _ of db.iterator({ gte: start, limit: count })) read++;
        return read;
      },
      async load(keys, value, chunk) {
        for (let i = 0; i < keys.length; i += chunk) {
          const batch = db.batch();
          for (let j = i; j < Math.min(keys.length, i + chunk); j++) batch.put(keys[j], value);
          await batch.write(writeOptions);
        }
      },
      close: () => db.close(),
    };
    return store;
  },
};
