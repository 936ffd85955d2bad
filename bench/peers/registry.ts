import type { Peer } from './adapter.js';
import { classicLevelPeer } from './classic-level.js';
import { kvcaskDiskIndex, kvcaskMemoryIndex } from './kvcask.js';
import { lmdbPeer } from './lmdb.js';
import { sqlitePeer } from './sqlite.js';

/** The stores the suite can run, by the names `--stores` takes. kvcask's entries are the subject; the rest are the peers it is compared with. */
export const peers: Record<string, Peer> = {
  kvcask: kvcaskMemoryIndex,
  'kvcask-disk': kvcaskDiskIndex,
  lmdb: lmdbPeer,
  'classic-level': classicLevelPeer,
  'better-sqlite3': sqlitePeer,
};

export const isKvcask = (peer: Peer) => peer.packageName === 'kvcask';
