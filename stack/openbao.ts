import { progress, StackError } from './progress.js';
import { baoBin, stackPaths } from './paths.js';
import { spawnService } from './processes.js';
import { host, ports } from './versions.js';

/** The OpenBao dev server's address. */
export const vaultAddr = `http://${host}:${ports.openbao}`;

/**
 * Starts `bao server -dev` detached: in memory, unsealed, on loopback, with the given root token. The
 * token goes through the environment (BAO_DEV_ROOT_TOKEN_ID), not argv, so `ps` does not show it.
 */
export function startOpenbao(rootToken: string): number {
  progress(`starting OpenBao dev server on ${vaultAddr}`);
  return spawnService({
    name: 'openbao',
    command: baoBin,
    args: ['server', '-dev', `-dev-listen-address=${host}:${ports.openbao}`, '-dev-no-store-token'],
    cwd: stackPaths.openbaoDir,
    env: { ...process.env, BAO_DEV_ROOT_TOKEN_ID: rootToken, VAULT_DEV_ROOT_TOKEN_ID: rootToken },
  });
}

/** Real readiness: `/v1/sys/health` answers 200 (initialized, unsealed, active). */
export async function openbaoReady(): Promise<boolean> {
  try {
    const res = await fetch(`${vaultAddr}/v1/sys/health`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function call(
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${vaultAddr}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': token, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

/** True when the token is accepted by the server (after a restart the old token is gone). */
export async function openbaoTokenValid(token: string): Promise<boolean> {
  try {
    return (await call(token, 'GET', 'auth/token/lookup-self')).status === 200;
  } catch {
    return false;
  }
}

/** Mounts Transit at `transit/` and enables AppRole at `approle/`, unless already there. */
export async function configureOpenbao(token: string): Promise<void> {
  const mounts = await call(token, 'GET', 'sys/mounts');
  if (mounts.status !== 200)
    throw new StackError(`OpenBao: listing mounts answered HTTP ${mounts.status}`);
  const data =
    (mounts.json as { data?: Record<string, unknown> }).data ??
    (mounts.json as Record<string, unknown>);
  if (!('transit/' in data)) {
    const r = await call(token, 'POST', 'sys/mounts/transit', { type: 'transit' });
    if (r.status !== 204 && r.status !== 200)
      throw new StackError(`OpenBao: mounting transit answered HTTP ${r.status}`);
    progress('OpenBao: transit mounted at transit/');
  }
  const auths = await call(token, 'GET', 'sys/auth');
  if (auths.status !== 200)
    throw new StackError(`OpenBao: listing auth methods answered HTTP ${auths.status}`);
  const authData =
    (auths.json as { data?: Record<string, unknown> }).data ??
    (auths.json as Record<string, unknown>);
  if (!('approle/' in authData)) {
    const r = await call(token, 'POST', 'sys/auth/approle', { type: 'approle' });
    if (r.status !== 204 && r.status !== 200)
      throw new StackError(`OpenBao: enabling approle answered HTTP ${r.status}`);
    progress('OpenBao: AppRole enabled at approle/');
  }
}
