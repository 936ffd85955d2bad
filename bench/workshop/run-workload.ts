/**
 * `node dist/bench/workshop/run-workload.js <operation> <dir> <count> [keys]`:
 * opens the store in <dir> (filled by `prepare` with [keys] keys, default
 * 100,000), performs <count> operations and closes it. The process that
 * strace and `node --cpu-prof` watch; with <count> 0 it measures only the
 * opening and closing, which the syscall counter subtracts.
 */
import { dataset, openFor, operations, parseKind } from './workload.js';

const [kindText, dir, countText, keysText] = process.argv.slice(2);
if (!kindText || !dir || !countText) throw new TypeError('usage: run-workload.js <operation> <dir> <count> [keys]');
const kind = parseKind(kindText);
const data = dataset(Number(keysText ?? 100_000));
const db = await openFor(kind, dir);
await operations(kind, db, data)(Number(countText));
await db.close();
