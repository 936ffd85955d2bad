import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { open } from '../lib/index.js';
import { root, run, type RunOptions } from './support/cli.js';

const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

// Each test starts several Node processes; leave room for a loaded machine.
vi.setConfig({ testTimeout: 30_000 });

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvcask-cli-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The CLI against this test's store. */
function kvcask(args: string[], options: RunOptions = {}) {
  return run(['--dir', dir, ...args], options);
}

async function seed(entries: Record<string, string>): Promise<void> {
  const store = await open(dir);
  try {
    await store.batch(Object.entries(entries).map(([key, value]) => ({ type: 'put' as const, key, value })));
  } finally {
    await store.close();
  }
}

describe('set, get and del', () => {
  it('stores a value with set and prints exactly it with get', () => {
    expect(kvcask(['set', 'greeting', 'hello world'])).toMatchObject({ status: 0, out: '', err: '' });
    // Not a terminal, so no newline is added to the raw value.
    expect(kvcask(['get', 'greeting'])).toMatchObject({ status: 0, out: 'hello world', err: '' });
  });

  it('writes with --index disk and reads back in either index mode', () => {
    expect(kvcask(['--index', 'disk', 'set', 'greeting', 'hello disk'])).toMatchObject({ status: 0, out: '', err: '' });
    expect(fs.readdirSync(dir).some((name) => name.endsWith('.kvx'))).toBe(true);
    expect(kvcask(['get', 'greeting'], { env: { KVCASK_INDEX: 'disk' } })).toMatchObject({ status: 0, out: 'hello disk' });
    expect(kvcask(['--index', 'memory', 'get', 'greeting'])).toMatchObject({ status: 0, out: 'hello disk' });
  });

  it('prints the key and value as JSON with --json', () => {
    kvcask(['set', 'greeting', 'héllo']);
    const result = kvcask(['--json', 'get', 'greeting']);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.out)).toEqual({ key: 'greeting', value: 'héllo' });
  });

  it('reads a binary value from stdin and gives back every byte exactly, raw, in base64 and in hex', () => {
    expect(kvcask(['set', 'bin'], { input: allBytes })).toMatchObject({ status: 0, err: '' });
    const raw = kvcask(['get', 'bin']);
    expect(raw.status).toBe(0);
    expect(raw.stdout.equals(allBytes)).toBe(true);
    // The key, too, is given in the chosen encoding: 'bin' is Ymlu in base64 and 62696e in hex.
    expect(kvcask(['--encoding', 'base64', 'get', 'Ymlu'])).toMatchObject({ status: 0, out: `${allBytes.toString('base64')}\n` });
    expect(kvcask(['--encoding', 'hex', 'get', '62696e'])).toMatchObject({ status: 0, out: `${allBytes.toString('hex')}\n` });
    expect(JSON.parse(kvcask(['--json', '--encoding', 'hex', 'get', '62696e']).out)).toEqual({ key: '62696e', value: allBytes.toString('hex') });
  });

  it('reads the value from a file given with --file', () => {
    const file = path.join(dir, 'input.bin');
    fs.writeFileSync(file, allBytes);
    expect(kvcask(['set', 'bin', '--file', file])).toMatchObject({ status: 0, err: '' });
    expect(kvcask(['get', 'bin']).stdout.equals(allBytes)).toBe(true);
  });

  it('refuses a value given both as an argument and with --file', () => {
    const result = kvcask(['set', 'k', 'v', '--file', path.join(dir, 'input.bin')]);
    expect(result.status).toBe(2);
    expect(result.err).toMatch(/^kvcask: KVCASK_USAGE: /);
  });

  it('decodes keys and values given in hex and base64', () => {
    expect(kvcask(['--encoding', 'hex', 'set', 'ff00', '68656c6c6f']).status).toBe(0);
    expect(kvcask(['--encoding', 'base64', 'get', '/wA='])).toMatchObject({ status: 0, out: 'aGVsbG8=\n' });
    expect(kvcask(['--encoding', 'base64', 'set', 'AAE=', 'AP8='])).toMatchObject({ status: 0 });
    expect(kvcask(['--encoding', 'hex', 'get', '0001'])).toMatchObject({ status: 0, out: '00ff\n' });
  });

  it('takes the encoding from KVCASK_ENCODING unless --encoding is given', () => {
    kvcask(['set', 'k', 'hi']);
    expect(kvcask(['get', '6b'], { env: { KVCASK_ENCODING: 'hex' } })).toMatchObject({ status: 0, out: '6869\n', err: '' });
    expect(kvcask(['--encoding', 'utf8', 'get', 'k'], { env: { KVCASK_ENCODING: 'hex' } })).toMatchObject({ status: 0, out: 'hi', err: '' });
  });

  it('rejects a key that is not valid in the chosen encoding as a usage error', () => {
    const result = kvcask(['--encoding', 'hex', 'get', 'xyz']);
    expect(result.status).toBe(2);
    expect(result.err).toBe('kvcask: KVCASK_USAGE: key is not valid hex: "xyz"\n');
  });

  it('exits 1 and says "not found" when the key is missing', () => {
    expect(kvcask(['get', 'nope'])).toMatchObject({ status: 1, out: '', err: 'not found: nope\n' });
  });

  it('deletes a key, and deleting a missing key still succeeds', () => {
    kvcask(['set', 'k', 'v']);
    expect(kvcask(['del', 'k'])).toMatchObject({ status: 0, out: '', err: '' });
    expect(kvcask(['get', 'k']).status).toBe(1);
    expect(kvcask(['del', 'never-there'])).toMatchObject({ status: 0, out: '', err: '' });
  });
});

describe('scan', () => {
  beforeEach(async () => {
    await seed({ cherry: '5', apple: '1', blueberry: '4', apricot: '2', banana: '3' });
  });

  it('lists every entry as a key<TAB>value line in key order', () => {
    expect(kvcask(['scan'])).toMatchObject({ status: 0, out: 'apple\t1\napricot\t2\nbanana\t3\nblueberry\t4\ncherry\t5\n', err: '' });
  });

  it('keeps to a prefix', () => {
    expect(kvcask(['scan', '--prefix', 'ap'])).toMatchObject({ status: 0, out: 'apple\t1\napricot\t2\n' });
  });

  it('keeps to the bounds given with --gt, --gte, --lt and --lte', () => {
    expect(kvcask(['scan', '--gt', 'apricot', '--lte', 'blueberry'])).toMatchObject({ status: 0, out: 'banana\t3\nblueberry\t4\n' });
    expect(kvcask(['scan', '--gte', 'apricot', '--lt', 'banana'])).toMatchObject({ status: 0, out: 'apricot\t2\n' });
  });

  it('walks backwards with --reverse and stops after --limit entries', () => {
    expect(kvcask(['scan', '--reverse', '--limit', '2'])).toMatchObject({ status: 0, out: 'cherry\t5\nblueberry\t4\n' });
  });

  it('prints only keys with --keys-only', () => {
    expect(kvcask(['scan', '--keys-only', '--prefix', 'b'])).toMatchObject({ status: 0, out: 'banana\nblueberry\n' });
  });

  it('prints a JSON array with --json', () => {
    const result = kvcask(['--json', 'scan', '--prefix', 'b']);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.out)).toEqual([
      { key: 'banana', value: '3' },
      { key: 'blueberry', value: '4' },
    ]);
    expect(JSON.parse(kvcask(['--json', 'scan', '--keys-only', '--limit', '1']).out)).toEqual([{ key: 'apple' }]);
  });

  it('prints an empty JSON array when nothing matches', () => {
    expect(kvcask(['--json', 'scan', '--prefix', 'zz'])).toMatchObject({ status: 0, out: '[]\n' });
    expect(kvcask(['scan', '--prefix', 'zz'])).toMatchObject({ status: 0, out: '' });
  });

  it('prints one JSON object per line with --ndjson', () => {
    const result = kvcask(['scan', '--ndjson', '--reverse', '--limit', '2']);
    expect(result.status).toBe(0);
    expect(result.out.endsWith('\n')).toBe(true);
    expect(result.out.trimEnd().split('\n').map((line) => JSON.parse(line))).toEqual([
      { key: 'cherry', value: '5' },
      { key: 'blueberry', value: '4' },
    ]);
  });

  it('takes bounds and prints entries in the chosen encoding', () => {
    // 'ap' is 6170 in hex.
    expect(kvcask(['--encoding', 'hex', 'scan', '--prefix', '6170'])).toMatchObject({ status: 0, out: '6170706c65\t31\n61707269636f74\t32\n' });
  });

  it('rejects a limit that is not a non-negative integer', () => {
    const result = kvcask(['scan', '--limit', '-1']);
    expect(result.status).toBe(2);
    expect(result.err).toMatch(/^kvcask: KVCASK_USAGE: .*--limit/);
  });
});

describe('stats', () => {
  it('prints the stats as JSON with the key count', async () => {
    await seed({ a: '1', b: '2' });
    const result = kvcask(['--json', 'stats']);
    expect(result.status).toBe(0);
    const stats = JSON.parse(result.out);
    expect(stats.keys).toBe(2);
    expect(stats.sync).toBe('always');
    expect(stats.recovery).toMatchObject({ truncatedBytes: 0, skippedBytes: 0 });
  });

  it('prints readable text by default', async () => {
    await seed({ a: '1', b: '2' });
    const result = kvcask(['stats']);
    expect(result.status).toBe(0);
    expect(result.out).toMatch(/^keys +2$/m);
    expect(result.out).toMatch(/^recovery +clean/m);
  });

  it('opens the store with the sync mode given by flag or KVCASK_SYNC', () => {
    expect(JSON.parse(kvcask(['--json', '--sync', 'none', 'stats']).out).sync).toBe('none');
    expect(JSON.parse(kvcask(['--json', 'stats'], { env: { KVCASK_SYNC: 'interval' } }).out).sync).toBe('interval');
  });
});

describe('usage', () => {
  it('exits 2 with a message on stderr for an unknown command', () => {
    const result = kvcask(['frobnicate']);
    expect(result.status).toBe(2);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/^kvcask: KVCASK_USAGE: unknown command 'frobnicate'/);
  });

  it('exits 2 with a message on stderr for an unknown option', () => {
    const result = kvcask(['get', 'k', '--bogus']);
    expect(result.status).toBe(2);
    expect(result.err).toMatch(/^kvcask: KVCASK_USAGE: unknown option '--bogus'/);
  });

  it('exits 2 for a missing argument, an extra argument or a bad choice', () => {
    expect(kvcask(['get']).status).toBe(2);
    expect(kvcask(['get', 'a', 'b']).status).toBe(2);
    const result = kvcask(['--encoding', 'rot13', 'get', 'k']);
    expect(result.status).toBe(2);
    expect(result.err).toMatch(/^kvcask: KVCASK_USAGE: .*rot13/);
  });

  it('exits 2 and shows the help on stderr when no command is given', () => {
    const result = kvcask([]);
    expect(result.status).toBe(2);
    expect(result.err).toContain('Usage: kvcask');
  });

  it('prints the help and the version and exits 0', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.out).toContain('Usage: kvcask');
    expect(run(['scan', '--help']).out).toContain('--keys-only');
    expect(run(['--version'])).toMatchObject({ status: 0, out: `${version}\n` });
  });
});

describe('the data directory', () => {
  it('is taken from KVCASK_DIR when --dir is not given', () => {
    expect(run(['set', 'k', 'from env'], { env: { KVCASK_DIR: dir } }).status).toBe(0);
    expect(kvcask(['get', 'k'])).toMatchObject({ status: 0, out: 'from env' });
  });

  it('is taken from --dir in preference to KVCASK_DIR', () => {
    kvcask(['set', 'k', 'v'], { env: { KVCASK_DIR: path.join(dir, 'elsewhere') } });
    expect(run(['get', 'k'], { env: { KVCASK_DIR: dir } })).toMatchObject({ status: 0, out: 'v' });
    expect(fs.existsSync(path.join(dir, 'elsewhere'))).toBe(false);
  });

  it('defaults to ./kvcask-data in the working directory', () => {
    expect(run(['set', 'k', 'v'], { cwd: dir }).status).toBe(0);
    expect(run(['get', 'k'], { env: { KVCASK_DIR: path.join(dir, 'kvcask-data') } })).toMatchObject({ status: 0, out: 'v' });
  });

  it('cannot be used while another process holds the store', async () => {
    const store = await open(dir);
    try {
      const result = kvcask(['get', 'k']);
      expect(result.status).toBe(2);
      expect(result.out).toBe('');
      expect(result.err).toMatch(/^kvcask: KVCASK_LOCKED: /);
    } finally {
      await store.close();
    }
    expect(kvcask(['set', 'k', 'v']).status).toBe(0);
  });

  it('is unlocked again when the CLI exits, even after a failure', async () => {
    expect(kvcask(['get', 'missing']).status).toBe(1);
    const store = await open(dir);
    await store.close();
  });
});

describe('the installed bin', () => {
  it('runs directly as an executable, as npx and npm install run it', () => {
    const bin = path.join(root, 'dist/cli/kvcask.js');
    const set = spawnSync(bin, ['--dir', dir, 'set', 'k', 'v'], { encoding: 'utf8' });
    expect({ status: set.status, stderr: set.stderr }).toEqual({ status: 0, stderr: '' });
    const get = spawnSync(bin, ['--dir', dir, 'get', 'k'], { encoding: 'utf8' });
    expect({ status: get.status, stdout: get.stdout }).toEqual({ status: 0, stdout: 'v' });
  });
});
