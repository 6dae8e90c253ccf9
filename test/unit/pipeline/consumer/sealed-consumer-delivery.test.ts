/**
 * What the handler receives, through the real SealedConsumer's batch loop (the hand-out the loop
 * awaits itself, RecordProcessor.begin): the delivery's fields (docs/API.md SealedDelivery) — their
 * names, order and values — and the redelivery flag of a record whose handler threw synchronously or
 * rejected. Real crypto and a real SealedProducer over the in-memory transport; the registry is the
 * model tests' in-memory fake (test/model/registry-fake.ts).
 *
 * Invariant, from the ledger: every record is handed out in offset order; a record whose handler
 * failed is handed out again, flagged `redelivery: true`, with the same messageId and idempotencyKey;
 * no commit passes a record whose handler has not returned.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CommitLogEntry } from '../../../../src/kafka/in-memory/cluster.js';
import { AVRO_CONTENT_TYPE } from '../../../../src/pipeline/payload-content.js';
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

const DATA = 'delivery-orders';
const STATE = 'delivery-state';
const DLQ = 'delivery-dlq';
const GROUP = 'billing-delivery';

/** SealedDelivery's fields, in the order the consumer builds them (docs/API.md). */
const FIELDS = [
  'value',
  'sender',
  'messageId',
  'createdAtMs',
  'schemaId',
  'contentType',
  'idempotencyKey',
  'topic',
  'partition',
  'offset',
  'key',
  'headers',
  'entityVersion',
  'redelivery',
];

let p: OrdersParties;

beforeAll(async () => {
  p = await makeOrdersParties(DATA);
});

afterAll(async () => {
  await p.world.cleanup();
});

describe('SealedConsumer hand-out', () => {
  it('hands out the delivery fields unchanged and redelivers a failed handler with the flag', async () => {
    /** `offset` of every handler that returned normally, in order. */
    const handled: string[] = [];
    /** Each commit of the data topic, with how many handlers had returned at its instant. */
    const commits: { readonly entry: CommitLogEntry; readonly handledThen: number }[] = [];
    const on = await ordersCluster({ data: DATA, state: STATE, dlq: DLQ }, (entry) => {
      if (entry.topic === DATA) commits.push({ entry, handledThen: handled.length });
    });
    const { cluster, registry } = on;
    const orders: Order[] = [0, 1, 2].map((i) => ({ id: `o-${i}`, cents: 100 + i, note: 'n' }));
    const before = Date.now();
    const sent = await sendSealedOrders(
      on,
      p,
      DATA,
      orders.map((value, i) => ({ key: `k${i}`, value })),
    );
    const after = Date.now();

    const deliveries: SealedDelivery[] = [];
    const failedOnce = new Set<string>();
    const consumer = new SealedConsumer({
      transport: createInMemoryTransport({ cluster, clientId: 'consumer' }),
      groupId: GROUP,
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
      maxRetryDelayMs: 50,
    });
    // Not async: offset 1 throws synchronously the first time, offset 2 rejects the first time.
    const eachMessage = (d: SealedDelivery): Promise<void> => {
      deliveries.push(d);
      if (!failedOnce.has(d.offset) && (d.offset === '1' || d.offset === '2')) {
        failedOnce.add(d.offset);
        if (d.offset === '1') throw new Error('handler throws (test)');
        return Promise.reject(new Error('handler rejects (test)'));
      }
      handled.push(d.offset);
      return Promise.resolve();
    };
    await consumer.run({ eachMessage });
    try {
      // A positive signal: every record handled and the last offset committed.
      await vi.waitFor(
        () => {
          if (handled.length < 3 || !commits.some((c) => c.entry.offset === '3'))
            throw new Error('not yet');
        },
        { timeout: 20_000, interval: 20 },
      );
    } finally {
      await consumer.close();
    }

    expect(deliveries.map((d) => [d.offset, d.redelivery])).toEqual([
      ['0', false],
      ['1', false],
      ['1', true],
      ['2', false],
      ['2', true],
    ]);
    expect(handled).toEqual(['0', '1', '2']);
    for (const d of deliveries) {
      const i = Number(d.offset);
      expect(Object.keys(d)).toEqual(FIELDS);
      expect(d.value).toEqual(orders[i]);
      expect(d.sender).toBe('orders');
      expect(d.messageId).toBe(sent[i]!.messageId);
      expect(d.messageId).toMatch(/^[0-9a-f]{32}$/);
      expect(d.createdAtMs).toBeGreaterThanOrEqual(before);
      expect(d.createdAtMs).toBeLessThanOrEqual(after);
      expect(typeof d.schemaId).toBe('number');
      expect(d.contentType).toBe(AVRO_CONTENT_TYPE);
      expect(d.idempotencyKey).toMatch(/^[0-9a-f]+\.[0-9a-f]+\.0\.\d+$/);
      expect(d.topic).toBe(DATA);
      expect(d.partition).toBe(0);
      expect(d.key).toEqual(Buffer.from(`k${i}`));
      expect(d.headers).toEqual([]);
      expect(d.entityVersion).toBe(0);
    }
    // A redelivery is the same message: same id and idempotency key; distinct messages differ.
    const first = new Map(deliveries.filter((d) => !d.redelivery).map((d) => [d.offset, d]));
    for (const d of deliveries.filter((x) => x.redelivery)) {
      expect(d.messageId).toBe(first.get(d.offset)!.messageId);
      expect(d.idempotencyKey).toBe(first.get(d.offset)!.idempotencyKey);
    }
    expect(new Set([...first.values()].map((d) => d.idempotencyKey)).size).toBe(3);
    // No commit passed a record whose handler had not returned (handlers return in offset order).
    for (const c of commits) expect(Number(c.entry.offset)).toBeLessThanOrEqual(c.handledThen);
    expect(commits.at(-1)!.entry.offset).toBe('3');
  });
});
