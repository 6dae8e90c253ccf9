import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { progress, StackError } from './progress.js';
import { stackDir } from './paths.js';

const lockFile = join(stackDir, 'stack.lock');

function holder(): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockFile, 'utf8').trim(), 10);
    if (!Number.isSafeInteger(pid)) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * Runs `fn` holding `.stack/stack.lock`, so that two `up`s at once (two test runs, say) do not start
 * the services twice: the second waits and then finds them running. A lock left by a dead process is
 * taken over.
 */
export async function withStackLock<T>(fn: () => Promise<T>, waitMs = 15 * 60_000): Promise<T> {
  mkdirSync(stackDir, { recursive: true });
  const deadline = performance.now() + waitMs;
  let told = false;
  for (;;) {
    try {
      writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = holder();
      if (pid === undefined) {
        rmSync(lockFile, { force: true }); // stale: its process is gone
        continue;
      }
      if (performance.now() > deadline)
        throw new StackError(`another stack command (pid ${pid}) holds ${lockFile}`);
      if (!told) progress(`waiting for another stack command (pid ${pid}) to finish`);
      told = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}
