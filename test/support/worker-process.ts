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
