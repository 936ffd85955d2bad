import http from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { startServe } from './support/serve-cli.js';
import { tempDir } from './support/temp-dir.js';

vi.setConfig({ testTimeout: 30_000 });

function call(agent: http.Agent, port: number, method: string, key: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: `/kv/${key}`, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('kvcask serve and SIGTERM', () => {
  it('drains on SIGTERM under load, exits 0, and after a restart has every PUT it answered 204', async () => {
    const dir = tempDir();
    const first = await startServe(dir);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const acknowledged = new Map<string, string>();
    let stopped = false;
    // Each writer puts until the server stops answering 204 (503, a reset or a refused connection).
    const writer = async (id: number) => {
      for (let i = 0; !stopped; i++) {
        const key = `w${id}-${i}`;
        const value = `value ${i} of writer ${id} `.repeat(1 + (i % 5));
        try {
          const { status } = await call(agent, first.port, 'PUT', key, value);
          if (status !== 204) return;
          acknowledged.set(key, value);
        } catch {
          return;
        }
      }
    };
    const writers = Array.from({ length: 16 }, (_, id) => writer(id));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = acknowledged.size;
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    stopped = true;
    await Promise.all(writers);
    agent.destroy();
    expect(before).toBeGreaterThan(50);
    expect(first.logs.map((entry) => entry.msg)).toEqual(['listening', 'signal received', 'shutting down', 'stopped']);

    const second = await startServe(dir);
    const reader = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const missing: string[] = [];
    const entries = [...acknowledged];
    await Promise.all(
      Array.from({ length: 16 }, async (_, lane) => {
        for (let i = lane; i < entries.length; i += 16) {
          const [key, value] = entries[i];
          const reply = await call(reader, second.port, 'GET', key);
          if (reply.status !== 200 || reply.text !== value) missing.push(key);
        }
      }),
    );
    reader.destroy();
    expect(missing).toEqual([]);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });
});
