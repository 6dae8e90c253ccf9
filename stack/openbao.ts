import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { progress, StackError } from './progress.js';
import { baoBin, stackPaths } from './paths.js';
import { spawnService } from './processes.js';
import { host, ports } from './versions.js';

/** The OpenBao dev server's address. */
export const vaultAddr = `http://${host}:${ports.openbao}`;

/**
 * `dev`: `bao server -dev`, in memory (empty after every start, a new root token each time);
 * `persistent`: file raft storage under `.stack/data/openbao`, initialised once by the stack (one unseal key
 * share, kept with the root token in `.stack/openbao/init.json`, mode 0600) and unsealed on every start,
 * so a KMS restart keeps its Transit keys.
 */
export type OpenbaoMode = 'dev' | 'persistent';

const modeFile = join(stackPaths.openbaoStateDir, 'mode');
const initFile = join(stackPaths.openbaoStateDir, 'init.json');
const configFile = join(stackPaths.openbaoStateDir, 'server.hcl');
const dataDir = join(stackPaths.dataDir, 'openbao');

/** The mode of the last OpenBao start (undefined before the first). */
export function recordedOpenbaoMode(): OpenbaoMode | undefined {
  if (!existsSync(modeFile)) return undefined;
  const m = readFileSync(modeFile, 'utf8').trim();
  return m === 'dev' || m === 'persistent' ? m : undefined;
}

interface InitRecord {
  readonly unsealKey: string;
  readonly rootToken: string;
}

function readInit(): InitRecord | undefined {
  if (!existsSync(initFile)) return undefined;
  const r = JSON.parse(readFileSync(initFile, 'utf8')) as Partial<InitRecord>;
  if (typeof r.unsealKey !== 'string' || typeof r.rootToken !== 'string')
    throw new StackError(`${initFile} is damaged: wipe OpenBao (\`npm run stack -- wipe\`)`);
  return { unsealKey: r.unsealKey, rootToken: r.rootToken };
}

/** The root token of the persistent server (from its init file), if it was initialised. */
export function persistentOpenbaoToken(): string | undefined {
  return readInit()?.rootToken;
}

/** Deletes the persistent storage and its init file (`stack wipe`; the server must not run). */
export function wipeOpenbaoData(): void {
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(initFile, { force: true });
}

/**
 * Starts OpenBao detached on loopback. Dev mode: in memory, unsealed, with the given root token, which
 * goes through the environment (BAO_DEV_ROOT_TOKEN_ID), not argv, so `ps` does not show it.
 * Persistent mode: `bao server -config` with raft storage; {@link unsealOpenbao} follows.
 */
export function startOpenbao(mode: OpenbaoMode, rootToken: string | undefined): number {
  mkdirSync(stackPaths.openbaoStateDir, { recursive: true });
  writeFileSync(modeFile, `${mode}\n`);
  if (mode === 'dev') {
    if (rootToken === undefined) throw new StackError('internal: a dev OpenBao needs a root token');
    progress(`starting OpenBao dev server on ${vaultAddr}`);
    return spawnService({
      name: 'openbao',
      command: baoBin,
      args: [
        'server',
        '-dev',
        `-dev-listen-address=${host}:${ports.openbao}`,
        '-dev-no-store-token',
      ],
      cwd: stackPaths.openbaoDir,
      env: { ...process.env, BAO_DEV_ROOT_TOKEN_ID: rootToken, VAULT_DEV_ROOT_TOKEN_ID: rootToken },
    });
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(
    configFile,
    [
      '# written by `npm run stack -- up` (stack/openbao.ts); regenerated on every start',
      // OpenBao 2.x keeps only the integrated (raft) storage; a one-node raft is its "file" storage.
      `storage "raft" {\n  path = "${dataDir}"\n  node_id = "sealpost-stack"\n}`,
      `listener "tcp" {\n  address = "${host}:${ports.openbao}"\n  cluster_address = "${host}:${ports.openbao + 1}"\n  tls_disable = true\n}`,
      `api_addr = "${vaultAddr}"`,
      `cluster_addr = "http://${host}:${ports.openbao + 1}"`,
      'ui = false',
      '',
    ].join('\n'),
  );
  progress(`starting OpenBao (persistent, raft storage) on ${vaultAddr}`);
  return spawnService({
    name: 'openbao',
    command: baoBin,
    args: ['server', `-config=${configFile}`],
    cwd: stackPaths.openbaoDir,
    env: { ...process.env },
  });
}

/** The server answers `/v1/sys/health` at all (sealed and uninitialised servers answer 503/501). */
export async function openbaoAnswers(): Promise<boolean> {
  try {
    const res = await fetch(`${vaultAddr}/v1/sys/health`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return [200, 429, 472, 473, 501, 503].includes(res.status);
  } catch {
    return false;
  }
}

/**
 * Persistent mode: initialises the server on its first start (one key share, threshold one; the unseal
 * key and root token written to `.stack/openbao/init.json`, mode 0600, before anything else), unseals
 * it, waits until it is active and returns the root token.
 */
export async function unsealOpenbao(): Promise<string> {
  const status = await call(undefined, 'GET', 'sys/init');
  let init = readInit();
  if ((status.json as { initialized?: boolean }).initialized !== true) {
    if (init !== undefined) {
      throw new StackError(
        `OpenBao's storage is empty but ${initFile} exists: wipe it (\`npm run stack -- wipe\`)`,
      );
    }
    const r = await call(undefined, 'PUT', 'sys/init', { secret_shares: 1, secret_threshold: 1 });
    const body = r.json as { keys_base64?: string[]; root_token?: string };
    if (r.status !== 200 || body.keys_base64?.[0] === undefined || body.root_token === undefined)
      throw new StackError(`OpenBao: init answered HTTP ${r.status}`);
    init = { unsealKey: body.keys_base64[0], rootToken: body.root_token };
    writeFileSync(initFile, `${JSON.stringify(init)}\n`, { mode: 0o600 });
    chmodSync(initFile, 0o600);
    progress(`OpenBao: initialised (unseal key and root token in ${initFile}, mode 0600)`);
  }
  if (init === undefined)
    throw new StackError(`OpenBao is initialised but ${initFile} is missing: wipe it`);
  const u = await call(undefined, 'PUT', 'sys/unseal', { key: init.unsealKey });
  if (u.status !== 200) throw new StackError(`OpenBao: unseal answered HTTP ${u.status}`);
  for (let i = 0; i < 120 && !(await openbaoReady()); i++) {
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!(await openbaoReady())) throw new StackError('OpenBao did not become active after unseal');
  return init.rootToken;
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
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${vaultAddr}/v1/${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { 'X-Vault-Token': token }),
      'Content-Type': 'application/json',
    },
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
