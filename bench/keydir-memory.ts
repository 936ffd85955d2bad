/**
 * `npm run bench:memory`: memory held by the in-memory index per key, measured
 * in a fresh process: N random 16-byte keys put into a Keydir, then the growth
 * of JS heap plus array buffers after a full GC, next to the index's own
 * estimate (stats().indexMemoryBytes).
 */
import { Keydir } from '../lib/keydir.js';

const KEYS = Number(process.env.KVCASK_BENCH_KEYS ?? 1_000_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const keys = Buffer.allocUnsafe(KEYS * 16);
for (let i = 0; i < keys.length; i++) keys[i] = Math.floor(Math.random() * 256);
gc();
const held = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
const before = held();
const keydir = new Keydir();
for (let i = 0; i < KEYS; i++) keydir.put(keys.subarray(i * 16, i * 16 + 16), 1, i * 136, 100);
gc();
const measured = (held() - before) / KEYS;
console.log(`${KEYS.toLocaleString('en')} keys of 16 B: ${measured.toFixed(1)} B/key held (heap + array buffers), estimate ${(keydir.memoryBytes() / KEYS).toFixed(1)} B/key, ${keydir.size} keys`);
