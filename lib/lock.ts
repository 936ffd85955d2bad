import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { codes, KvcaskError } from './errors.js';
import { type FileSystem, readWholeFile, writeFileAtomically } from './filesystem.js';

/**
 * One writer per directory. The LOCK file names its owner (host, pid and the
 * process's start time, so that a recycled pid is not mistaken for the owner).
 * A lock whose owner is gone is taken over under a second, short-lived lock
 * file, so that two processes finding the same stale lock cannot both win.
 */
const LOCK = 'LOCK';
const TAKEOVER = 'LOCK.takeover';

/** Directories held by stores of this process; a pid check cannot tell those apart. */
const heldHere = new Set<string>();

interface Owner {
  host: string;
  pid: number;
  start: string;
}

function startTimeOf(pid: number): string {
  try {
    // Field 22 of /proc/<pid>/stat, counted after the parenthesised command name.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function me(): Owner {
  return { host: hostname(), pid: process.pid, start: startTimeOf(process.pid) };
}

function isAlive(owner: Owner | null): boolean {
  // Locks are created whole (see createExclusive), so an unreadable one is damage, not an owner.
  if (owner === null) return false;
  // The owner of a lock from another host cannot be checked from here.
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const start = startTimeOf(owner.pid);
  return start === '' || owner.start === '' || start === owner.start;
}

async function readOwner(fsys: FileSystem, path: string): Promise<Owner | null | 'missing'> {
  try {
    const parsed = JSON.parse((await readWholeFile(fsys, path)).toString('utf8'));
    if (typeof parsed?.host === 'string' && Number.isInteger(parsed?.pid) && typeof parsed?.start === 'string') return parsed;
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : null;
  }
}

/**
 * Creates `path` holding `owner`, or returns false if it exists. The content is
 * written and synced under a temporary name and hard-linked into place, so the
 * file never exists empty or half written: an unreadable lock means damage.
 */
async function createExclusive(fsys: FileSystem, dir: string, name: string, owner: Owner): Promise<boolean> {
  const tmp = `${dir}/${name}.${owner.pid}.tmp`;
  await fsys.unlink(tmp).catch(() => {});
  const fd = await fsys.open(tmp, 'wx+');
  try {
    const data = Buffer.from(JSON.stringify(owner));
    await fsys.write(fd, data, 0, data.length, 0);
    await fsys.datasync(fd);
  } finally {
    await fsys.close(fd);
  }
  try {
    await fsys.link(tmp, `${dir}/${name}`);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fsys.unlink(tmp).catch(() => {});
  }
}

function lockedError(dir: string, owner: Owner | null): KvcaskError {
  const who = owner ? `process ${owner.pid} on ${owner.host}` : 'another process';
  return new KvcaskError(codes.LOCKED, `${dir} is locked by ${who}`, { file: `${dir}/${LOCK}` });
}

export interface DirectoryLock {
  release(): Promise<void>;
}

export async function lockDirectory(fsys: FileSystem, dir: string): Promise<DirectoryLock> {
  const key = await fsys.realpath(dir);
  if (heldHere.has(key)) throw lockedError(dir, me());
  heldHere.add(key);
  try {
    await acquire(fsys, dir);
  } catch (err) {
    heldHere.delete(key);
    throw err;
  }
  return {
    async release() {
      heldHere.delete(key);
      await fsys.unlink(`${dir}/${LOCK}`).catch(() => {});
    },
  };
}

async function acquire(fsys: FileSystem, dir: string): Promise<void> {
  const owner = me();
  const lockPath = `${dir}/${LOCK}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await createExclusive(fsys, dir, LOCK, owner)) {
      await fsys.syncDir(dir);
      return;
    }
    const current = await readOwner(fsys, lockPath);
    if (current === 'missing') continue;
    if (isAlive(current)) throw lockedError(dir, current);
    if (await takeOver(fsys, dir, current, owner)) return;
  }
  throw lockedError(dir, null);
}

/** Replaces a stale lock under the takeover mutex; false when the lock vanished meanwhile (try again). */
async function takeOver(fsys: FileSystem, dir: string, stale: Owner | null, owner: Owner): Promise<boolean> {
  const mutexPath = `${dir}/${TAKEOVER}`;
  if (!(await createExclusive(fsys, dir, TAKEOVER, owner))) {
    const holder = await readOwner(fsys, mutexPath);
    if (holder !== 'missing' && isAlive(holder)) throw lockedError(dir, holder);
    // The last taker died mid-takeover; clear its mutex and try once more.
    await fsys.unlink(mutexPath).catch(() => {});
    if (!(await createExclusive(fsys, dir, TAKEOVER, owner))) throw lockedError(dir, null);
  }
  try {
    const current = await readOwner(fsys, `${dir}/${LOCK}`);
    if (current === 'missing') return false;
    const unchanged = stale === null ? current === null : current !== null && sameOwner(current, stale);
    if (!unchanged) throw lockedError(dir, current);
    await writeFileAtomically(fsys, dir, LOCK, Buffer.from(JSON.stringify(owner)));
    return true;
  } finally {
    await fsys.unlink(mutexPath).catch(() => {});
  }
}

function sameOwner(a: Owner, b: Owner): boolean {
  return a.host === b.host && a.pid === b.pid && a.start === b.start;
}
