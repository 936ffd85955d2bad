import { describe, expect, it } from 'vitest';
import { randomBytes, rng } from './support/random.js';
import { request, serve } from './support/http.js';

const KEYS = 3000;

/** Percent-encodes every byte, as a client would for a binary bound. */
const q = (bytes: Buffer | string) => [...Buffer.from(bytes)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

interface Entry {
  key?: string;
  value?: string;
  cursor?: string | null;
}

function lines(text: string): Entry[] {
  expect(text.endsWith('\n')).toBe(true);
  return text.trimEnd().split('\n').map((line) => JSON.parse(line) as Entry);
}

/** Walks a range page by page through the cursors, checking each answer ends with its cursor line. */
async function walk(port: number, query: string): Promise<{ entries: Entry[]; pages: number }> {
  const entries: Entry[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const reply = await request(port, `/kv?${query}${cursor === null ? '' : `&cursor=${cursor}`}`);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/x-ndjson');
    const page = lines(reply.text);
    const last = page.pop()!;
    expect(Object.keys(last)).toEqual(['cursor']);
    cursor = last.cursor!;
    entries.push(...page);
    pages++;
  } while (cursor !== null);
  return { entries, pages };
}

async function seeded() {
  const running = await serve();
  const random = rng(8);
  const reference = new Map<string, Buffer>();
  // Short keys over a small alphabet make shared prefixes (and byte 0x00 and 0xff) common.
  const alphabet = [0x00, 0x01, 0x61, 0x62, 0x7f, 0x80, 0xfe, 0xff];
  while (reference.size < KEYS) {
    const key = randomBytes(random, 1 + Math.floor(random() * 6), alphabet);
    reference.set(key.toString('hex'), randomBytes(random, Math.floor(random() * 40)));
  }
  const entries = [...reference].map(([hex, value]) => ({ type: 'put' as const, key: Buffer.from(hex, 'hex'), value }));
  await running.store.batch(entries);
  const sorted = entries.map((e) => e.key).sort(Buffer.compare);
  return { ...running, reference, sorted };
}

describe('GET /kv ranges', () => {
  it('walks thousands of binary keys page by page in byte order, matching a sorted reference exactly', async () => {
    const { port, reference, sorted } = await seeded();
    const { entries, pages } = await walk(port, 'limit=173&encoding=base64');
    expect(pages).toBe(Math.ceil(KEYS / 173));
    expect(entries.map((e) => Buffer.from(e.key!, 'base64').toString('hex'))).toEqual(sorted.map((k) => k.toString('hex')));
    for (const entry of entries) expect(Buffer.from(entry.value!, 'base64').equals(reference.get(Buffer.from(entry.key!, 'base64').toString('hex'))!)).toBe(true);
  });

  it('walks in reverse between bounds, honouring gt/lte and the cursor together', async () => {
    const { port, sorted } = await seeded();
    const low = Buffer.from([0x61]);
    const high = Buffer.from([0xfe, 0x00]);
    const expected = sorted.filter((k) => Buffer.compare(k, low) > 0 && Buffer.compare(k, high) <= 0).reverse();
    const { entries } = await walk(port, `gt=${q(low)}&lte=${q(high)}&reverse=true&limit=250&encoding=hex&keys_only`);
    expect(entries.map((e) => e.key)).toEqual(expected.map((k) => k.toString('hex')));
    expect(entries.every((e) => e.value === undefined)).toBe(true);
  });

  it('filters by a binary prefix, with the default page size of 1000', async () => {
    const { port, sorted } = await seeded();
    const prefix = Buffer.from([0xff]);
    const expected = sorted.filter((k) => k[0] === 0xff);
    const { entries, pages } = await walk(port, `prefix=${q(prefix)}&encoding=hex&keys_only=1`);
    expect(pages).toBe(Math.max(1, Math.ceil(expected.length / 1000)));
    expect(entries.map((e) => e.key)).toEqual(expected.map((k) => k.toString('hex')));
  });

  it('gives UTF-8 keys and values as text by default and form-decodes + as a space in bounds', async () => {
    const { port, store } = await serve();
    await store.batch(['a b', 'a c', 'b'].map((key) => ({ type: 'put' as const, key, value: `value of ${key}` })));
    const reply = await request(port, '/kv?gte=a+b&lt=b');
    expect(lines(reply.text)).toEqual([{ key: 'a b', value: 'value of a b' }, { key: 'a c', value: 'value of a c' }, { cursor: null }]);
  });

  it('answers an empty range with just the final cursor line', async () => {
    const { port } = await serve();
    const reply = await request(port, '/kv?prefix=nothing');
    expect(reply.status).toBe(200);
    expect(lines(reply.text)).toEqual([{ cursor: null }]);
  });

  it('rejects unknown parameters, bad limits, encodings, flags and cursors with 400', async () => {
    const { port } = await serve();
    for (const query of ['limt=5', 'limit=0', 'limit=10001', 'limit=-1', 'limit=ten', 'encoding=latin1', 'reverse=maybe', 'cursor=not*a*cursor', 'prefix=%zz', 'gt=a&gt=b']) {
      const reply = await request(port, `/kv?${query}`);
      expect(reply.status, query).toBe(400);
      expect(reply.json().code).toBe('KVCASK_BAD_REQUEST');
    }
  });
});
