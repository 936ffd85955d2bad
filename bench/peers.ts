/**
 * `npm run bench:peers`: the same workloads on kvcask and on lmdb,
 * classic-level and better-sqlite3, one store after another, each in a fresh
 * child process (so one store's memory and caches do not count against the
 * next), with the same keys and values. Prints ops/s, p50 and p99 with
 * kvcask's ratio to the best peer, and writes everything to
 * bench/results/peers-<date>.json. `--help` lists the options.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSuiteOptions } from './peers/options.js';
import { peers } from './peers/registry.js';
import { printReport } from './peers/report.js';
import { runStore, type StoreRun } from './peers/run-store.js';
import { saveResult } from './results-file.js';

const argv = process.argv.slice(2);
const { options, rest } = parseSuiteOptions(argv);

if (rest.child !== undefined) {
  const run = await runStore(peers[rest.child], options, Number(rest.valueSize));
  writeFileSync(rest.out!, JSON.stringify(run));
} else {
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), os: release(), node: process.version };
  console.log(`${machine.cpus} x ${machine.model}, Node ${machine.node}; ${options.keys.toLocaleString('en')} keys; ${options.timeMs} ms per task`);
  const scratch = mkdtempSync(join(tmpdir(), 'kvcask-peers-results-'));
  const runs: StoreRun[] = [];
  try {
    for (const valueSize of options.valueSizes) {
      for (const name of options.stores) {
        console.log(`${peers[name].name}, values of ${valueSize} B`);
        const out = join(scratch, `${name}-${valueSize}.json`);
        try {
          execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...argv, '--child', name, '--value-size', String(valueSize), '--out', out], { stdio: 'inherit' });
          runs.push(JSON.parse(readFileSync(out, 'utf8')) as StoreRun);
        } catch (error) {
          console.log(`    the child process failed: ${(error as Error).message}`);
        }
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  printReport(runs);
  const durability = Object.fromEntries(runs.map((run) => [run.store, run.durability]));
  console.log(`\nwritten to ${saveResult('peers', { machine, options, durability, runs })}`);
}
