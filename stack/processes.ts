import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { host } from './versions.js';
import { progress, StackError } from './progress.js';
import { stackDir, stackPaths } from './paths.js';

/**
 * The name of a stack service; also the name of its pid file and log file. Kafka node 1 is `kafka`
 * (the single broker's name since the first stack), node n of a cluster `kafka-n`. `postgres` is
 * optional (`up --with postgres`).
 */
export type ServiceName = 'kafka' | `kafka-${number}` | 'apicurio' | 'openbao' | 'postgres';

function pidFile(name: ServiceName): string {
  return join(stackPaths.pidsDir, `${name}.pid`);
}

/** The log file a service's stdout and stderr go to. */
export function logFile(name: ServiceName): string {
  return join(stackPaths.logsDir, `${name}.out`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie answers kill(0) but is gone for our purposes.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

/**
 * True when `pid` is alive and is one of ours: its command line names this stack's folder (guards
 * against a recycled pid after a reboot or a crash).
 */
function isOurs(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(stackDir);
  } catch {
    return true; // no /proc: trust the pid file
  }
}

/** The pid of a running service this stack started, or undefined. */
export function runningPid(name: ServiceName): number | undefined {
  const file = pidFile(name);
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
  if (!Number.isSafeInteger(pid) || pid <= 1) return undefined;
  return isOurs(pid) ? pid : undefined;
}

/** Options of {@link spawnService}. */
export interface SpawnOptions {
  name: ServiceName;
  command: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Starts a service detached in its own process group (pgid = pid) so that `down` can stop it and
 * everything it forked, with stdout/stderr appended to `.stack/logs/<name>.out` (mode 0600: the
 * OpenBao dev server prints its root token there). Records the pid in `.stack/pids/<name>.pid`.
 */
export function spawnService(opts: SpawnOptions): number {
  mkdirSync(stackPaths.logsDir, { recursive: true });
  mkdirSync(stackPaths.pidsDir, { recursive: true });
  const out = openSync(logFile(opts.name), 'a', 0o600);
  try {
    const child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['ignore', out, out],
    });
    if (child.pid === undefined)
      throw new StackError(`could not start ${opts.name} (${opts.command})`);
    child.unref();
    writeFileSync(pidFile(opts.name), `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  // kill(0) also succeeds while only zombies are left; those are not running.
  return isAlive(pgid) || groupHasLiveMember(pgid);
}

function groupHasLiveMember(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirProc();
  } catch {
    return true;
  }
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] !== 'Z' && rest[0] !== 'X' && Number(rest[3]) === pgid) return true;
    } catch {
      // the process went away while we looked
    }
  }
  return false;
}

function readdirProc(): string[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e));
}

/**
 * Stops a service this stack started: SIGTERM to its process group, waits up to `graceMs` for every
 * member to exit, then SIGKILL and waits again. Removes the pid file. Returns the pid it stopped.
 */
export async function stopService(
  name: ServiceName,
  graceMs = 30_000,
): Promise<number | undefined> {
  const pid = runningPid(name);
  if (pid !== undefined) {
    progress(`stopping ${name} (pid ${pid})`);
    signalGroup(pid, 'SIGTERM');
    signalGroup(pid, 'SIGCONT'); // a paused service (`stack pause`) acts on SIGTERM only once resumed
    if (!(await waitGroupExit(pid, graceMs))) {
      progress(`${name} did not exit within ${graceMs} ms, sending SIGKILL`);
      signalGroup(pid, 'SIGKILL');
      if (!(await waitGroupExit(pid, 10_000)))
        throw new StackError(`${name} (pid ${pid}) did not exit after SIGKILL`);
    }
  }
  rmSync(pidFile(name), { force: true });
  return pid;
}

/**
 * Sends `signal` to the process group of a running service (SIGKILL, SIGSTOP, SIGCONT for the fault
 * tools). Returns the pid signalled; throws when the service does not run.
 */
export function signalService(name: ServiceName, signal: NodeJS.Signals): number {
  const pid = runningPid(name);
  if (pid === undefined) throw new StackError(`${name} is not running`);
  signalGroup(pid, signal);
  return pid;
}

/** SIGKILLs a running service's process group and waits until every member is gone. */
export async function killService(name: ServiceName): Promise<number> {
  const pid = signalService(name, 'SIGKILL');
  if (!(await waitGroupExit(pid, 10_000)))
    throw new StackError(`${name} (pid ${pid}) did not exit after SIGKILL`);
  rmSync(pidFile(name), { force: true });
  return pid;
}

/** True when the process is stopped by a signal (SIGSTOP: state T in /proc/<pid>/stat). */
export function isStopped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T';
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

async function waitGroupExit(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!groupAlive(pgid)) return true;
    await sleep(100);
  }
  return !groupAlive(pgid);
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export function isPortOpen(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Fails with a clear message when one of `ports` is taken by a process this stack did not start. */
export async function assertPortsFree(
  name: ServiceName,
  portList: readonly number[],
): Promise<void> {
  for (const port of portList) {
    if (await isPortOpen(port)) {
      throw new StackError(
        `port ${host}:${port} (needed by ${name}) is already in use by a process this stack did not start. ` +
          `Stop that process (find it with \`ss -ltnp 'sport = :${port}'\`), or point the tests at it by ` +
          'setting the endpoint variables (see README, "Local stack").',
      );
    }
  }
}

/**
 * Polls `probe` until it answers true or `timeoutMs` passes; fails early, with the tail of the
 * service's log, when the process has died.
 */
export async function waitReady(
  name: ServiceName,
  pid: number,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const started = performance.now();
  let lastReport = started;
  for (;;) {
    if (await probe().catch(() => false)) return;
    const now = performance.now();
    if (!isOurs(pid))
      throw new StackError(`${name} (pid ${pid}) exited while starting.\n${logTail(name)}`);
    if (now - started > timeoutMs) {
      throw new StackError(
        `${name} (pid ${pid}) not ready after ${Math.round(timeoutMs / 1000)} s.\n${logTail(name)}`,
      );
    }
    if (now - lastReport > 10_000) {
      progress(`still waiting for ${name} (${Math.round((now - started) / 1000)} s)`);
      lastReport = now;
    }
    await sleep(250);
  }
}

/** The last lines of a service's log, for error messages (logs never hold payloads). */
export function logTail(name: ServiceName, lines = 30): string {
  try {
    const text = readFileSync(logFile(name), 'utf8')
      .split('\n')
      .filter((l) => !/root token/i.test(l));
    return `--- last lines of ${logFile(name)} ---\n${text.slice(-lines).join('\n')}`;
  } catch {
    return `(no log at ${logFile(name)})`;
  }
}
