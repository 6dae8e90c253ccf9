/**
 * The two measured throughput phases of bench/e2e.ts, shared with the processes that run a variant
 * on their own (bench/stock-kafkajs-worker.ts), so every row is measured the same way:
 * - produce: `messages` records as fast as acknowledged, `batch` per send, `inFlight` sends
 *   outstanding, after one warm-up record (metadata, schema, first session) and a full collection;
 * - consume: the `messages` records plus the warm-up record read by a fresh consumer, timed from the
 *   first record handed to the handler to the last.
 * CPU is this process's user + system time over the phase (µs per record).
 */
import {
  cpuUs,
  nowUs,
  order,
  settle,
  type ConsumerHandle,
  type Order,
  type ProducerHandle,
} from './e2e-clients.js';
import { sendInBatches } from './send-loop.js';

/** Records/s and this process's CPU time per record (user + system, µs) over a phase. */
export interface Throughput {
  readonly perSecond: number;
  readonly cpuUsPerRecord: number;
  /** Producer runs: bytes per record handed to the Kafka client (key + value + headers). */
  readonly wireBytesPerRecord?: number;
}

/** Optional instrumentation of a phase (bench/e2e.ts --phase-stats). */
export interface PhaseProbe {
  /** At the phase's start (synchronous: inside the timed window). */
  start(): void;
  /** At its end (synchronous). */
  end(): void;
  /** After the phase, with its record count. */
  report(records: number): Promise<void>;
}

/** How a phase is shaped. */
export interface PhaseShape {
  readonly messages: number;
  readonly batch: number;
  readonly inFlight: number;
}

/** Produces `shape.messages` records with the producer `start` returns, then closes it. */
export async function measureProduce(
  start: () => Promise<ProducerHandle>,
  shape: PhaseShape,
  probe?: PhaseProbe,
): Promise<Throughput> {
  const p = await start();
  try {
    await p.send([order(-1, nowUs())]); // warm-up: metadata, schema, first session
    settle();
    const wire0 = { ...p.wire };
    probe?.start();
    const t0 = performance.now();
    const c0 = cpuUs();
    await sendInBatches(shape.messages, shape.batch, shape.inFlight, (from, count) => {
      const orders: Order[] = [];
      for (let k = from; k < from + count; k++) orders.push(order(k, nowUs()));
      return p.send(orders);
    });
    probe?.end();
    await probe?.report(shape.messages);
    return {
      perSecond: shape.messages / ((performance.now() - t0) / 1000),
      cpuUsPerRecord: (cpuUs() - c0) / shape.messages,
      wireBytesPerRecord: (p.wire.bytes - wire0.bytes) / (p.wire.records - wire0.records),
    };
  } finally {
    await p.close();
  }
}

/**
 * Reads `messages` + 1 records (the warm-up record included) with the consumer `start` returns;
 * NaN figures when `waitUntil` gives up.
 */
export async function measureConsume(
  start: (onOrder: (o: Order) => void) => Promise<ConsumerHandle>,
  messages: number,
  waitUntil: (check: () => boolean, timeoutMs: number, what: string) => Promise<boolean>,
  what: string,
  probe?: PhaseProbe,
): Promise<Throughput> {
  const total = messages + 1;
  let count = 0;
  let first = 0;
  let last = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  settle();
  const c = await start(() => {
    const t = performance.now();
    if (count === 0) {
      first = t;
      cpuFirst = cpuUs();
      probe?.start();
    }
    count++;
    if (count === total) {
      last = t;
      cpuLast = cpuUs();
      probe?.end();
    }
  });
  try {
    const ok = await waitUntil(
      () => count >= total,
      180_000,
      `${what} to consume ${total} records`,
    );
    if (!ok) return { perSecond: Number.NaN, cpuUsPerRecord: Number.NaN };
    await probe?.report(total - 1);
    return {
      perSecond: (total - 1) / ((last - first) / 1000),
      cpuUsPerRecord: (cpuLast - cpuFirst) / (total - 1),
    };
  } finally {
    await c.close();
  }
}
