/**
 * A worker entry point (workers/audit, workers/dlq) run as a real child process, the way an operator
 * starts it (`npm run worker:dlq`, `node --import tsx workers/dlq/main.ts`): its output collected,
 * its ready line (`<name> ready port=<port> pid=<pid>`, see workers/shared/run-worker.ts) parsed, its
 * exit awaited. Started in its own process group so cleanup() can end everything it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';

/** The repository root (the worktree these tests run in). */
export const REPO_ROOT = join(import.meta.dirname, '../..');

export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Resolves on the ready line; rejects if the process exits first. */
  readonly ready: Promise<{ port: number; pid: number }>;
  /** The exit code (null when ended by a signal). */
  readonly exit: Promise<number | null>;
  out(): string;
  err(): string;
  /** SIGKILLs the whole process group if anything in it still runs. */
  cleanup(): void;
}

export function startWorkerProcess(
  command: string,
  args: readonly string[],
  options: { name: string; env: Record<string, string | undefined> },
): WorkerProcess {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const ready = new Promise<{ port: number; pid: number }>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = new RegExp(`${options.name} ready port=(\\d+)(?: pid=(\\d+))?`).exec(out);
      if (m) resolve({ port: Number(m[1]), pid: Number(m[2] ?? child.pid) });
    });
    void exit.then((code) =>
      reject(new Error(`worker exited early (${code}): ${out.slice(-500)} ${err.slice(-1500)}`)),
    );
  });
  ready.catch(() => undefined);
  return {
    child,
    ready,
    exit,
    out: () => out,
    err: () => err,
    cleanup: () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    },
  };
}

/** Whether a process with this pid still exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A minimal environment for a child: PATH and HOME only, plus what the test gives. */
export function childEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...extra };
}

/** What a worker pair needs from a test world (see pipeline-world.ts), written to its directory. */
export interface WorkerWorld {
  readonly dir: string;
  document(): { authority: { publicKey: string } };
  readonly files: ReadonlyMap<string, unknown>;
}

/**
 * The environment of both workers on the stack for one test: the directory and the `audit` identity
 * written as files (mode 0600 for the identity, as `keys create` writes it), the local KMS keyring of
 * the world, fresh topics, consumer groups and stores. Returns one env per worker (pass to startWorkerProcess).
 */
export async function workerEnvs(
  world: WorkerWorld,
  topics: { metadata: string; dlq: string; state: string; checkpoints: string },
  brokers: readonly string[],
  schemaRegistryUrl: string,
): Promise<{ audit: Record<string, string>; dlq: Record<string, string> }> {
  const { writeFileSync } = await import('node:fs');
  const { writeIdentityFile } = await import('../../src/keys/identity-file.js');
  const directoryFile = join(world.dir, 'directory.json');
  writeFileSync(directoryFile, JSON.stringify(world.document()));
  const identityFile = join(world.dir, 'audit.identity.json');
  await writeIdentityFile(
    identityFile,
    world.files.get('audit') as Parameters<typeof writeIdentityFile>[1],
    { overwrite: true },
  );
  const common = {
    KAFKA_BROKERS: brokers.join(','),
    SEALPOST_DIRECTORY_FILE: directoryFile,
    SEALPOST_AUTHORITY_PUBLIC_KEY: Buffer.from(
      world.document().authority.publicKey,
      'base64',
    ).toString('hex'),
    SEALPOST_DEAD_LETTER_TOPIC: topics.dlq,
    SEALPOST_HTTP_PORT: '0',
    SEALPOST_LOG_LEVEL: 'warn',
    SEALPOST_CONSUMER_SESSION_TIMEOUT_MS: '6000',
  };
  return {
    audit: {
      ...common,
      SEALPOST_WORKER_GROUP: `audit-${topics.metadata}`,
      SCHEMA_REGISTRY_URL: schemaRegistryUrl,
      SEALPOST_KMS: 'local',
      SEALPOST_LOCAL_KEK_FILE: join(world.dir, 'kek.json'),
      SEALPOST_IDENTITY_FILE: identityFile,
      SEALPOST_METADATA_TOPIC: topics.metadata,
      SEALPOST_CHECKPOINT_TOPIC: topics.checkpoints,
      SEALPOST_STATE_TOPIC: topics.state,
      SEALPOST_AUDIT_DB: join(world.dir, 'audit.db'),
    },
    dlq: {
      ...common,
      SEALPOST_WORKER_GROUP: `dlq-${topics.dlq}`,
      SEALPOST_QUARANTINE_DB: join(world.dir, 'quarantine.db'),
    },
  };
}
