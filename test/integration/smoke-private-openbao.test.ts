/**
 * Smoke test of `baoBin` (stack/paths.ts): a test can start its own OpenBao dev server on a free
 * port, use it, and stop it, without touching the shared stack's server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { baoBin } from '../../stack/paths.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr !== null
          ? resolve(addr.port)
          : reject(new Error('no port')),
      );
    });
  });
}

async function health(addr: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${addr}/v1/sys/health`, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}

describe('smoke: a private OpenBao dev server from baoBin', () => {
  let child: ChildProcess | undefined;

  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
  });

  it('starts, serves Transit with its own token, and stops on SIGTERM', async () => {
    const port = await freePort();
    const addr = `http://127.0.0.1:${port}`;
    const token = randomBytes(16).toString('hex');
    child = spawn(
      baoBin,
      ['server', '-dev', `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token'],
      {
        env: { ...process.env, BAO_DEV_ROOT_TOKEN_ID: token },
        stdio: 'ignore',
      },
    );
    const exited = new Promise<number | null>((resolve) =>
      child!.once('exit', (code) => resolve(code)),
    );
    let status: number | undefined;
    for (let i = 0; i < 120 && status !== 200; i++) {
      status = await health(addr);
      if (status !== 200) await sleep(250);
    }
    expect(status).toBe(200);

    const headers = { 'X-Vault-Token': token, 'Content-Type': 'application/json' };
    const mount = await fetch(`${addr}/v1/sys/mounts/transit`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ type: 'transit' }),
    });
    expect(mount.status).toBe(204);
    const key = await fetch(`${addr}/v1/transit/keys/private-smoke`, {
      method: 'POST',
      headers,
      body: '{}',
    });
    expect([200, 204]).toContain(key.status);

    child.kill('SIGTERM');
    await exited;
    expect(await health(addr)).toBeUndefined();
  });
});
