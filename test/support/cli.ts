import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Runs the compiled CLI: build first (`npm test` does, through pretest).
export const root = fileURLToPath(new URL('../..', import.meta.url));
export const bin = path.join(root, 'dist/cli/kvcask.js');
// Settings of the machine running the tests must not leak into the CLI under test.
export const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('KVCASK_')));

export interface RunOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  cwd?: string;
}

/** The CLI as a child process, run to completion. */
export function run(args: string[], { input = '', env = {}, cwd = root }: RunOptions = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd, input, env: { ...cleanEnv, ...env }, maxBuffer: 256 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, out: result.stdout.toString('utf8'), err: result.stderr.toString('utf8') };
}

/** The CLI as a running child process, with pipes on all three streams. */
export function start(args: string[], env: Record<string, string> = {}) {
  return spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...cleanEnv, ...env }, stdio: 'pipe' });
}
