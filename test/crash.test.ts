import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';
import { rng } from './support/random.js';
import { tempDir } from './support/temp-dir.js';

const CHILD = new URL('../dist/test/fixtures/crash-writer.js', import.meta.url).pathname;
const TRIALS = 25;

interface Log {
  begunSets: Set<string>;
  ackedSets: Set<string>;
  begunDels: Set<string>;
  ackedDels: Set<string>;
  begunBatches: Set<number>;
  ackedBatches: Set<number>;
}

/** Runs the writer child, kills it with SIGKILL after `delay` ms of writing, and returns what it reported. */
function runAndKill(dir: string, seed: number, delay: number): Promise<Log> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(seed), String(32 * 1024)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (output === '' && chunk.startsWith('ready')) setTimeout(() => child.kill('SIGKILL'), delay);
      output += chunk;
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited on its own (${signal}): ${output.slice(-500)}`));
      const log: Log = { begunSets: new Set(), ackedSets: new Set(), begunDels: new Set(), ackedDels: new Set(), begunBatches: new Set(), ackedBatches: new Set() };
      const lines = output.split('\n');
      lines.pop(); // possibly cut mid-line by the kill
      for (const line of lines) {
        const [phase, kind, id] = line.split(' ');
        if (kind === 'set') (phase === 'begin' ? log.begunSets : log.ackedSets).add(id);
        if (kind === 'del') (phase === 'begin' ? log.begunDels : log.ackedDels).add(id);
        if (kind === 'batch') (phase === 'begin' ? log.begunBatches : log.ackedBatches).add(Number(id));
      }
      resolve(log);
    });
  });
}

describe('crash recovery after kill -9', () => {
  it(`loses no acknowledged write, shows no half batch and brings back no delete, over ${TRIALS} kills`, async () => {
    const random = rng(2024);
    let acknowledged = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const dir = tempDir();
      const seed = Math.floor(random() * 1e9);
      // Some trials crash a store that already crashed before, to cover recovery of a recovered store.
      const rounds = trial % 5 === 0 ? 2 : 1;
      for (let round = 0; round < rounds; round++) {
        const log = await runAndKill(dir, seed + round * 7, 20 + Math.floor(random() * 250));
        acknowledged += log.ackedSets.size + log.ackedBatches.size + log.ackedDels.size;
        const db = await open(dir, { maxFileSize: 32 * 1024 });
        const context = `trial ${trial} round ${round} seed ${seed}`;
        for (const key of log.ackedSets) {
          if (log.begunDels.has(key)) continue;
          expect(db.getSync(key)?.toString(), `${context}: acked ${key}`).toMatch(new RegExp(`^value-${key.slice(1)}-${seed + round * 7}-`));
        }
        for (const key of log.ackedDels) expect(db.has(key), `${context}: deleted ${key} came back`).toBe(false);
        for (const n of log.begunBatches) {
          const present = [0, 1, 2, 3, 4].filter((j) => db.has(`b${n}-${j}`)).length;
          expect([0, 5], `${context}: batch ${n} is partly visible`).toContain(present);
          if (log.ackedBatches.has(n)) expect(present, `${context}: acked batch ${n}`).toBe(5);
        }
        for await (const key of db.keys()) {
          const name = key.toString();
          const issued = name.startsWith('b') ? log.begunBatches.has(Number(name.slice(1).split('-')[0])) : log.begunSets.has(name);
          if (round === 0) expect(issued, `${context}: ${name} was never written`).toBe(true);
        }
        await db.close();
      }
    }
    // The kills must land while writes are under way, or the test proves nothing.
    expect(acknowledged).toBeGreaterThan(TRIALS * 10);
  }, 120_000);
});
