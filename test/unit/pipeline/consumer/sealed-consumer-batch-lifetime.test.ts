/**
 * What the real SealedConsumer keeps of a fetched batch (docs/PERFORMANCE.md, garbage collection of
 * the sealed consumer): the records' headers pass through untouched — a record without headers may
 * carry the kafkajs adapter's one shared frozen empty array (src/kafka/kafkajs-records.ts NO_HEADERS),
 * and neither a hand-out nor a dead-letter write adds to it — and once a batch is done the consumer
 * holds no reference to its control (and so, through the adapter's closures, to the fetched batch
 * and its buffers) while it waits for the next one. Real crypto and a real SealedProducer over the
 * in-memory transport, whose batches are handed on with NO_HEADERS; the registry is the model tests'
 * in-memory fake (test/model/registry-fake.ts).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CommitLogEntry } from '../../../../src/kafka/in-memory/cluster.js';
import { NO_HEADERS } from '../../../../src/kafka/kafkajs-records.js';
import type {
  BatchControl,
  ConsumedBatch,
  ConsumerRunOptions,
  Transport,
  TransportConsumer,
} from '../../../../src/kafka/transport.js';
import { SealedConsumer, type SealedDelivery } from '../../../../src/pipeline/sealed-consumer.js';
import { systemClock } from '../../../../src/runtime/clock.js';
import { createInMemoryTransport } from '../../../../src/testing.js';
import {
  makeOrdersParties,
  ordersCluster,
  sendSealedOrders,
  type OrdersParties,
} from '../../../support/in-memory-orders.js';
import type { Order } from '../../../support/pipeline-world.js';

const DATA = 'lifetime-orders';
const STATE = 'lifetime-state';
const DLQ = 'lifetime-dlq';

let p: OrdersParties;

beforeAll(async () => {
  p = await makeOrdersParties(DATA);
});

afterAll(async () => {
  await p.world.cleanup();
});

/** A full collection on demand (the flag is read when `gc` is looked up in a new context). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/**
 * The in-memory transport, its batches handed on with NO_HEADERS for every record without headers
 * (as the kafkajs adapter does), and a weak reference to each batch's control and batch kept.
 */
function headerlessTransport(
  inner: Transport,
  seen: { control: WeakRef<BatchControl>; batch: WeakRef<ConsumedBatch> }[],
): Transport {
  const wrap = (c: TransportConsumer): TransportConsumer =>
    new Proxy(c, {
      get(target, prop) {
        if (prop === 'run')
          return (options: ConsumerRunOptions) =>
            target.run({
              ...options,
              eachMessage: undefined,
              eachBatch: (batch: ConsumedBatch, control: BatchControl) => {
                const handed: ConsumedBatch = {
                  ...batch,
                  records: batch.records.map((r) =>
                    r.headers.length === 0 ? { ...r, headers: NO_HEADERS } : r,
                  ),
                };
                seen.push({ control: new WeakRef(control), batch: new WeakRef(handed) });
                return options.eachBatch!(handed, control);
              },
            });
        const v: unknown = Reflect.get(target, prop);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return {
    producer: (o) => inner.producer(o),
    admin: () => inner.admin(),
    consumer: (o) => wrap(inner.consumer(o)),
  };
}

describe('SealedConsumer and the batches it is handed', () => {
  it('leaves shared frozen headers untouched and keeps no finished batch', async () => {
    const commits: CommitLogEntry[] = [];
    const on = await ordersCluster({ data: DATA, state: STATE, dlq: DLQ }, (entry) => {
      if (entry.topic === DATA) commits.push(entry);
    });
    const { cluster, registry } = on;
    const orders: Order[] = [0, 1, 2].map((i) => ({ id: `o-${i}`, cents: 100 + i, note: 'n' }));
    await sendSealedOrders(
      on,
      p,
      DATA,
      orders.map((value) => ({ key: null, value })),
    );
    // A record that is not an envelope: rejected to the dead-letter topic (its headers copied there).
    const raw = createInMemoryTransport({ cluster, clientId: 'raw' }).producer();
    await raw.connect();
    await raw.send({
      topic: DATA,
      partition: 0,
      records: [{ key: null, value: Buffer.from('not an envelope') }],
    });
    await raw.disconnect();

    const seen: { control: WeakRef<BatchControl>; batch: WeakRef<ConsumedBatch> }[] = [];
    const consumer = new SealedConsumer({
      transport: headerlessTransport(createInMemoryTransport({ cluster, clientId: 'c' }), seen),
      groupId: 'billing-lifetime',
      topics: [DATA],
      registry: registry(),
      crypto: p.world.crypto,
      clock: systemClock,
      identity: p.receiver,
      directory: p.directory,
      kms: p.world.kms,
      stateTopic: STATE,
      deadLetterTopic: DLQ,
      fromBeginning: true,
    });
    const deliveries: SealedDelivery[] = [];
    await consumer.run({
      eachMessage: (d) => {
        deliveries.push(d);
        return Promise.resolve();
      },
    });
    try {
      // A positive signal: all four records past (three handed out, one rejected) and committed.
      await vi.waitFor(
        () => {
          if (
            deliveries.length < 3 ||
            !commits.some((c) => c.offset === '4') ||
            cluster.records(DLQ, 0).length === 0
          )
            throw new Error('not yet');
        },
        { timeout: 20_000, interval: 20 },
      );
      expect(cluster.records(DLQ, 0)).toHaveLength(1);
      expect(deliveries.map((d) => d.offset)).toEqual(['0', '1', '2']);
      for (const d of deliveries) expect(d.headers).toBe(NO_HEADERS);
      expect(Object.isFrozen(NO_HEADERS)).toBe(true);
      expect(NO_HEADERS).toHaveLength(0);
      expect(seen.length).toBeGreaterThan(0);
      // The consumer runs on, waiting for records: no finished batch stays reachable from it.
      collectGarbage();
      for (const s of seen) {
        expect(s.control.deref()).toBeUndefined();
        expect(s.batch.deref()).toBeUndefined();
      }
    } finally {
      await consumer.close();
    }
  });
});
