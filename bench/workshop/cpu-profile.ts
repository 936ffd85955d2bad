/**
 * `npm run workshop:profile -- [operations...]` (default: set-nosync,
 * set-durable-64, get): runs each operation KVCASK_WORKSHOP_OPS times
 * (default 1,000,000; 100,000 for durable sets) under `node --cpu-prof`, keeps
 * the .cpuprofile files (open them in Chrome DevTools, Performance tab, or
 * VS Code) and prints the functions with the most self time.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataset, parseKind, prepare } from './workload.js';

const KEYS = Number(process.env.KVCASK_WORKSHOP_KEYS ?? 100_000);
const TOP = 15;
const child = fileURLToPath(new URL('./run-workload.js', import.meta.url));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function (summed over its call sites), from the samples and the time between them. */
function selfTimes(profile: Profile): { name: string; ms: number; share: number }[] {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = byNode.get(id)!.callFrame;
    const where = url ? `${url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}` : '';
    const name = `${functionName || '(anonymous)'} ${where}`.trim();
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    total += ms;
  });
  return [...byFunction].map(([name, ms]) => ({ name, ms, share: ms / total })).sort((a, b) => b.ms - a.ms);
}

const kinds = process.argv.length > 2 ? process.argv.slice(2).map(parseKind) : (['set-nosync', 'set-durable-64', 'get'] as const);
const outDir = process.env.KVCASK_WORKSHOP_PROFILES ?? mkdtempSync(join(tmpdir(), 'kvcask-profiles-'));
mkdirSync(outDir, { recursive: true });
const scratch = mkdtempSync(join(tmpdir(), 'kvcask-profile-store-'));
try {
  const data = dataset(KEYS);
  for (const kind of kinds) {
    const ops = Number(process.env.KVCASK_WORKSHOP_OPS ?? (kind.startsWith('set-durable') ? 100_000 : 1_000_000));
    const dir = join(scratch, kind);
    await prepare(dir, data);
    const profileDir = join(outDir, kind);
    rmSync(profileDir, { recursive: true, force: true });
    execFileSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profileDir, child, kind, dir, String(ops), String(KEYS)], { stdio: 'inherit' });
    const file = join(profileDir, readdirSync(profileDir)[0]);
    console.log(`\n${kind}: ${ops.toLocaleString('en')} operations; profile ${file}`);
    console.log('  self ms   share  function');
    for (const row of selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile).slice(0, TOP)) {
      console.log(`  ${row.ms.toFixed(0).padStart(7)}  ${(row.share * 100).toFixed(1).padStart(5)}%  ${row.name}`);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
