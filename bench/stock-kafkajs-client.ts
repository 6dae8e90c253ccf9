/**
 * The benchmarks' side of the stock-kafkajs worker (bench/stock-kafkajs-worker.ts): the plain
 * baseline on kafkajs as it ships, in a process without the module replacements sealpost's kafkajs
 * transport makes. Used by bench/e2e.ts and bench/transports.ts.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StockCommand, StockReply } from './stock-kafkajs-worker.js';
import type { PhaseShape, Throughput } from './throughput-phases.js';

/** A running stock-kafkajs worker. */
export interface StockKafkajsWorker {
  /** One plain produce + consume phase pair on `topic` (created by the caller). */
  run(
    topic: string,
    shape: PhaseShape,
    settle: boolean,
  ): Promise<{ readonly produce: Throughput; readonly consume: Throughput }>;
  /** Asks the worker to exit and waits until it has. */
  exit(): Promise<void>;
}

/** Starts the worker (it loads kafkajs before anything else, and checks that it did). */
export function startStockKafkajsWorker(): StockKafkajsWorker {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./stock-kafkajs-worker.ts', import.meta.url))],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let lastId = 0;
  return {
    run: (topic, shape, settle) => {
      const id = ++lastId;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.off('message', listener);
          reject(new Error('the stock-kafkajs worker sent no reply in 600 s'));
        }, 600_000);
        const listener = (m: StockReply): void => {
          if (m.id !== id) return;
          clearTimeout(timer);
          child.off('message', listener);
          if (m.type === 'error') reject(new Error(`stock-kafkajs worker: ${m.message}`));
          else resolve({ produce: m.produce, consume: m.consume });
        };
        child.on('message', listener);
        child.send({
          type: 'run',
          id,
          topic,
          messages: shape.messages,
          batch: shape.batch,
          inFlight: shape.inFlight,
          settle,
        } satisfies StockCommand);
      });
    },
    exit: async () => {
      child.send({ type: 'exit' } satisfies StockCommand);
      await exited;
    },
  };
}
