import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { Peer, PeerStore } from './adapter.js';

/**
 * better-sqlite3: one WITHOUT ROWID table keyed by the key bytes, WAL mode.
 * Durable: `synchronous = FULL`, one transaction per put (a WAL sync at every
 * commit). No-sync: `synchronous = OFF`. Its API is synchronous only: the
 * async `get` and `put` wrap the synchronous calls, so concurrent writers
 * run one after another.
 */
export const sqlitePeer: Peer = {
  name: 'better-sqlite3',
  packageName: 'better-sqlite3',
  durability: { durable: 'WAL, synchronous = FULL, a transaction per put', noSync: 'WAL, synchronous = OFF' },
  async open(dir, durable) {
    const db = new Database(join(dir, 'kv.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${durable ? 'FULL' : 'OFF'}`);
    db.exec('CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
    const upsert = db.prepare<[Buffer, Buffer]>('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
    const select = db.prepare<[Buffer], Buffer>('SELECT v FROM kv WHERE k = ?').pluck();
    const scan = db.prepare<[Buffer, number], [Buffer, Buffer]>('SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?').raw();
    const getSync = (key: Buffer) => select.get(key);
    const loadChunk = db.transaction((keys: Buffer[], value: Buffer) => {
      for (const key of keys) upsert.run(key, value);
    });
    const store: PeerStore = {
      put: async (key, value) => {
        upsert.run(key, value);
      },
      getSync,
      get: async (key) => getSync(key),
      getMany: async (keys) => keys.map(getSync),
      async range(start, count) {
        let read = 0;
        for (const _ of scan.iterate(start, count)) read++;
        return read;
      },
      async load(keys, value, chunk) {
        for (let i = 0; i < keys.length; i += chunk) loadChunk(keys.slice(i, i + chunk), value);
      },
      close: async () => {
        db.close();
      },
    };
    return store;
  },
};
