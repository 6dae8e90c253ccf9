/**
 * bench/e2e.ts's side of a consumer worker (bench/consumer-worker.ts): starts the process, sends its
 * init and commands over the IPC channel, and waits for its replies.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerCommand, WorkerInit, WorkerReply } from './consumer-worker.js';

/** One running consumer worker. */
export interface ConsumerWorker {
  send(command: WorkerCommand): void;
  /**
   * The next reply of `type` (for command `id`; any when undefined); rejects on the worker's error
   * for that command or when none came within `timeoutMs`.
   */
  reply<T extends WorkerReply['type']>(
    type: T,
    id: number | undefined,
    timeoutMs: number,
  ): Promise<Extract<WorkerReply, { type: T }>>;
  /** Asks the worker to exit and waits until it has. */
  exit(): Promise<void>;
}

/** Starts a worker with `nodeFlags`, sends it `init` and resolves once it is ready. */
export async function startConsumerWorker(
  name: string,
  nodeFlags: readonly string[],
  init: WorkerInit,
): Promise<ConsumerWorker> {
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      '--import',
      'tsx',
      fileURLToPath(new URL('./consumer-worker.ts', import.meta.url)),
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const listeners = new Set<(m: WorkerReply) => void>();
  child.on('message', (m: WorkerReply) => {
    for (const l of [...listeners]) l(m);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const reply = <T extends WorkerReply['type']>(
    type: T,
    id: number | undefined,
    timeoutMs: number,
  ): Promise<Extract<WorkerReply, { type: T }>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`the ${name} sent no ${type} in ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (m: WorkerReply): void => {
        if (m.type === 'error' && m.id === id) {
          clearTimeout(timer);
          listeners.delete(listener);
          reject(new Error(`${name}: ${m.message}`));
        } else if (m.type === type && (id === undefined || ('id' in m && m.id === id))) {
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(m as Extract<WorkerReply, { type: T }>);
        }
      };
      listeners.add(listener);
    });
  const ready = reply('ready', undefined, 120_000);
  child.send(init);
  await ready;
  return {
    send: (command) => {
      child.send(command);
    },
    reply,
    exit: async () => {
      child.send({ type: 'exit' } satisfies WorkerCommand);
      await exited;
    },
  };
}
