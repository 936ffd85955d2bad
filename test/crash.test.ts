import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { type IndexMode, open } from '../lib/index.js';
import { type Effect, History, type Write } from './support/history.js';
import { rng } from './support/random.js';
import { tempDir } from './support/temp-dir.js';

const CHILD = new URL('../dist/test/fixtures/crash-writer.js', import.meta.url).pathname;
const TRIALS = Number(process.env.KVCASK_KILLS ?? 100);
/** Trials run this many at a time: each is mostly waiting for a child to start. */
const PARALLEL = 3;
const MAX_FILE_SIZE = 32 * 1024;

/**
 * Runs the writer child and kills it with SIGKILL `delay` ms after it reported
 * ready (or, with `fromSpawn`, after it was started: possibly while it is still
 * opening and recovering the store). Every line it wrote is fed to `history`
 * in order: 'begin' lines are the order the writes were issued in.
 */
function runAndKill(dir: string, seed: number, delay: number, fromSpawn: boolean, history: History, index: IndexMode): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(seed), String(MAX_FILE_SIZE), index], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    const kill = () => setTimeout(() => child.kill('SIGKILL'), delay);
    if (fromSpawn) kill();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (!fromSpawn && output === '' && chunk.startsWith('ready')) kill();
      output += chunk;
    });
    child.on('error', reject);
    // 'close', not 'exit': only then has every byte the child wrote been read.
    child.on('close', (_code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited on its own (${signal}): ${output.slice(-500)}`));
      const lines = output.split('\n');
      lines.pop(); // possibly cut mid-line by the kill
      const pending = new Map<string, { write: Write; index: number }>();
      for (const line of lines) {
        const [phase, kind, n, deleted] = line.split(' ');
        if (phase === 'begin') {
          const effects: Effect[] =
            kind === 'set'
              ? [[`k${n}`, `value-${n}-${seed}-${'y'.repeat(Number(n) % 200)}`]]
              : kind === 'del'
                ? [[deleted, null]]
                : Array.from({ length: 5 }, (_, j): Effect => [`b${n}-${j}`, `batch-${n}-${seed}-${'x'.repeat(j * 30)}`]);
          pending.set(n, { write: history.issue(effects, kind === 'batch' ? true : undefined), index: history.writes.length - 1 });
        } else if (phase === 'ack') {
          const { write, index } = pending.get(n)!;
          write.state = 'acked';
          // sync: 'always': an acknowledged write is on disk, and so is every write issued before it.
          if (write.written) history.floor = Math.max(history.floor, index + 1);
        }
      }
      resolve();
    });
  });
}

async function trial(index: number, seed: number, random: () => number): Promise<number> {
  const dir = tempDir();
  const history = new History();
  // Some trials crash a store that already crashed before, to cover recovery of a recovered store.
  const rounds = index % 4 === 0 ? 2 : 1;
  // Every third trial keeps its index on disk, in the writer and at recovery.
  const mode: IndexMode = index % 3 === 1 ? 'disk' : 'memory';
  for (let round = 0; round < rounds; round++) {
    const fromSpawn = round > 0 && random() < 0.5;
    await runAndKill(dir, seed + round * 7, fromSpawn ? 40 + Math.floor(random() * 120) : 5 + Math.floor(random() * 60), fromSpawn, history, mode);
    const db = await open(dir, { maxFileSize: MAX_FILE_SIZE, index: mode });
    try {
      const actual = new Map<string, string>();
      for await (const [key, value] of db.range()) actual.set(key.toString(), value.toString());
      history.rewind(history.matchPrefix(actual));
      expect(db.stats().recovery.damaged, 'a kill leaves no damage in the middle of a file').toEqual([]);
    } catch (err) {
      throw new Error(`kill trial ${index} round ${round} (seed ${seed}): ${(err as Error).message}`, { cause: err });
    } finally {
      await db.close();
    }
  }
  return history.writes.filter((write) => write.state === 'acked').length;
}

describe('crash recovery after kill -9', () => {
  it(`loses no acknowledged write, shows no half batch and brings back no delete, over ${TRIALS} kills`, async () => {
    const random = rng(Number(process.env.KVCASK_SEED ?? 2024));
    const seeds = Array.from({ length: TRIALS }, () => Math.floor(random() * 1e9));
    let next = 0;
    let acknowledged = 0;
    const worker = async () => {
      while (next < TRIALS) {
        const index = next++;
        acknowledged += await trial(index, seeds[index], rng(seeds[index]));
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    console.log(`kill -9: ${JSON.stringify({ kills: TRIALS, acknowledged })}`);
    // The kills must land while writes are under way, or the test proves nothing.
    expect(acknowledged).toBeGreaterThan(TRIALS * 10);
  }, 180_000);
});
