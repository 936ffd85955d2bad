import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// Runs the compiled CLI: build first (`npm test` does, through pretest).
const root = fileURLToPath(new URL('../..', import.meta.url));
// Settings of the machine running the tests must not leak into the CLI under test.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('KVCASK_')));

export interface Served {
  child: ChildProcess;
  port: number;
  /** The JSON log lines it printed so far. */
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
}

/** `kvcask --dir <dir> serve <args>` as a child process; resolves once its log line gives the port it listens on. */
export function startServe(dir: string, args: string[] = ['--port', '0'], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [path.join(root, 'dist/cli/kvcask.js'), '--dir', dir, 'serve', ...args], {
    env: { ...cleanEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    exited.then((code) => reject(new Error(`kvcask serve exited with ${code} before listening: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === 'listening') resolve({ child, port: entry.port as number, logs, exited });
    });
  });
}
