import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { request } from './support/http.js';
import { startServe } from './support/serve-cli.js';
import { tempDir } from './support/temp-dir.js';

vi.setConfig({ testTimeout: 30_000 });

const cli = fileURLToPath(new URL('../dist/cli/kvcask.js', import.meta.url));

describe('kvcask serve options', () => {
  it('takes its settings from KVCASK_* environment variables, and flags beat them', async () => {
    const dir = tempDir();
    const served = await startServe(dir, [], { KVCASK_PORT: '0', KVCASK_AUTH_TOKEN: 'from-env', KVCASK_MAX_BODY_SIZE: '4' });
    try {
      expect((await request(served.port, '/kv/a', { method: 'PUT', body: 'v' })).status).toBe(401);
      const auth = { authorization: 'Bearer from-env' };
      expect((await request(served.port, '/kv/a', { method: 'PUT', body: 'four', headers: auth })).status).toBe(204);
      expect((await request(served.port, '/kv/a', { method: 'PUT', body: 'five!', headers: auth })).status).toBe(413);
    } finally {
      served.child.kill('SIGTERM');
      expect(await served.exited).toBe(0);
    }
    const flagged = await startServe(dir, ['--port', '0', '--auth-token', 'from-flag'], { KVCASK_AUTH_TOKEN: 'from-env' });
    try {
      expect((await request(flagged.port, '/kv/a', { headers: { authorization: 'Bearer from-flag' } })).text).toBe('four');
    } finally {
      flagged.child.kill('SIGTERM');
      expect(await flagged.exited).toBe(0);
    }
  });

  it('refuses --tls-cert without --tls-key, and a store another process holds, with exit code 2', async () => {
    const dir = tempDir();
    const lone = spawnSync(process.execPath, [cli, '--dir', dir, 'serve', '--port', '0', '--tls-cert', 'cert.pem'], { encoding: 'utf8' });
    expect(lone.status).toBe(2);
    expect(lone.stderr).toContain('KVCASK_USAGE');
    const holder = await startServe(dir);
    try {
      const second = spawnSync(process.execPath, [cli, '--dir', dir, 'serve', '--port', '0'], { encoding: 'utf8' });
      expect(second.status).toBe(2);
      expect(second.stderr).toContain('KVCASK_LOCKED');
    } finally {
      holder.child.kill('SIGTERM');
      await holder.exited;
    }
  });
});
