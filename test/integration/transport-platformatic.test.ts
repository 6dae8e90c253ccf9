/**
 * What the @platformatic/kafka adapter does beyond the shared contract (docs/TRANSPORTS.md, "How the
 * port maps onto @platformatic/kafka"), against the stack's broker: a partition the topic does not
 * have is refused (the client would write to another one), null header values are written, a
 * committed offset that fell out of the log restarts from the reset policy, connection failures
 * are typed (an unreachable broker; the mTLS listener without a client certificate), and a send whose
 * tries time out fails `exhausted` within its delivery timeout without upsetting later sends.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPlatformaticTransport,
  type PlatformaticTransportOptions,
} from '../../src/kafka/platformatic-transport.js';
import type {
  ConsumedRecord,
  Transport,
  TransportAdmin,
  TransportConsumer,
  TransportProducer,
} from '../../src/kafka/transport.js';
import { platformaticNodeProblem } from '../../src/kafka/platformatic-node-version.js';
import { TransportError } from '../../src/kafka/transport-error.js';
import { createLogger } from '../../src/observability/logger.js';
import { kafkaNodes } from '../../stack/stack.js';
import { getEndpoints } from '../support/endpoints.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { waitFor } from '../support/test-transport.js';

const endpoints = getEndpoints();
const logger = createLogger({ level: 'silent', name: 'transport-platformatic-it' });
const hex = () => randomBytes(6).toString('hex');

function transport(overrides: Partial<PlatformaticTransportOptions> = {}): Transport {
  return createPlatformaticTransport({
    brokers: endpoints.kafkaBrokers,
    clientId: 'transport-platformatic-it',
    logger,
    nowMs: () => Date.now(),
    ...overrides,
  });
}

const cleanup: (() => Promise<void>)[] = [];
let admin: TransportAdmin;
const createdTopics: string[] = [];

async function freshTopic(purpose: string, numPartitions = 1): Promise<string> {
  const topic = `test-${purpose}-${hex()}`;
  expect(await admin.createTopics([{ topic, numPartitions, replicationFactor: 1 }])).toBe(true);
  createdTopics.push(topic);
  return topic;
}

async function startProducer(t: Transport = transport()): Promise<TransportProducer> {
  const producer = t.producer();
  await producer.connect();
  cleanup.push(() => producer.disconnect());
  return producer;
}

async function consume(
  topic: string,
  got: ConsumedRecord[],
  groupId = `it-plt-${hex()}`,
): Promise<TransportConsumer> {
  const consumer = transport().consumer({
    groupId,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 500,
  });
  cleanup.push(() => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: (r) => {
      got.push(r);
      return Promise.resolve({ kind: 'processed' });
    },
  });
  return consumer;
}

// @platformatic/kafka runs on Node >= 22.22 or >= 24.6 (CI runs these on Node 24); on an older Node
// the adapter refuses up front, and that refusal is what is tested there.
const unsupported = platformaticNodeProblem();

describe.runIf(unsupported !== undefined)(
  `@platformatic/kafka transport on this Node (${process.versions.node})`,
  () => {
    it('refuses up front with UNSUPPORTED_VERSION naming the Node to upgrade to', () => {
      let refusal: unknown;
      try {
        transport();
      } catch (err) {
        refusal = err;
      }
      expect(refusal).toMatchObject({ code: 'UNSUPPORTED_VERSION' });
      expect((refusal as Error).message).toMatch(/needs Node >= 22\.22 .*this is Node /);
    });
  },
);

describe.runIf(unsupported === undefined)('@platformatic/kafka transport', () => {
  beforeAll(async () => {
    admin = transport().admin();
    await admin.connect();
  });

  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    if (createdTopics.length > 0) await admin.deleteTopics(createdTopics).catch(() => undefined);
    await admin.disconnect();
  });

  it('refuses a partition the topic does not have; nothing lands in another partition', async () => {
    const topic = await freshTopic('plt-partition', 2);
    const producer = await startProducer();
    await expect(
      producer.send({ topic, partition: 2, records: [{ key: null, value: Buffer.from('x') }] }),
    ).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND' });
    // The ledger: both partitions are still empty.
    expect(await admin.fetchTopicOffsets(topic)).toEqual([
      { partition: 0, low: '0', high: '0' },
      { partition: 1, low: '0', high: '0' },
    ]);
  });

  it('writes and reads a null header value', async () => {
    const topic = await freshTopic('plt-null-header');
    const producer = await startProducer();
    await producer.send({
      topic,
      partition: 0,
      records: [
        {
          key: null,
          value: Buffer.from('v'),
          headers: [
            { key: 'sp-none', value: null },
            { key: 'sp-some', value: Buffer.from('x') },
          ],
        },
      ],
    });
    const got: ConsumedRecord[] = [];
    await consume(topic, got);
    await waitFor(() => got.length === 1, 'the record');
    expect(got[0]!.headers).toEqual([
      { key: 'sp-none', value: null },
      { key: 'sp-some', value: Buffer.from('x') },
    ]);
  });

  it('a committed offset beyond the log restarts from the earliest record (fromBeginning)', async () => {
    const topic = await freshTopic('plt-out-of-range');
    const producer = await startProducer();
    await producer.send({
      topic,
      partition: 0,
      records: ['a', 'b'].map((v) => ({ key: null, value: Buffer.from(v) })),
    });
    const groupId = `it-plt-oor-${hex()}`;
    // A member commits an offset past the end (as after the log was truncated by retention).
    const first: ConsumedRecord[] = [];
    const member = await consume(topic, first, groupId);
    await waitFor(() => first.length === 2, 'a and b');
    await member.commitOffsets([{ topic, partition: 0, offset: '1000', metadata: null }]);
    await member.disconnect();
    const got: ConsumedRecord[] = [];
    await consume(topic, got, groupId);
    await waitFor(() => got.length === 2, 'a and b again, from the earliest offset');
    expect(got.map((r) => `${r.offset}:${r.value!.toString()}`)).toEqual(['0:a', '1:b']);
  });

  it('reports an unreachable broker as a retriable BROKER_UNAVAILABLE', async () => {
    const down = transport({
      brokers: ['127.0.0.1:1'],
      retries: 1,
      retryDelayMs: 50,
      connectionTimeoutMs: 500,
    });
    const err = await down
      .producer()
      .connect()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('BROKER_UNAVAILABLE');
    expect((err as TransportError).retriable).toBe(true);
  });

  it('a send whose tries time out fails exhausted within the delivery timeout; later sends are written once, in order', async () => {
    // The broker's FAULT listener advertises the proxy's address: every connection of this client
    // (bootstrap, then the partition leader) goes through the proxy, which then swallows every byte.
    const fault = kafkaNodes()[0]!.layout.faultListener!;
    const proxy = new FaultProxy('127.0.0.1', fault.internal, fault.advertised);
    await proxy.start();
    cleanup.push(() => proxy.stop());
    const requestTimeoutMs = 2000;
    const connectionTimeoutMs = 1000;
    const producer = await startProducer(
      transport({
        brokers: [`127.0.0.1:${proxy.port}`],
        requestTimeoutMs,
        connectionTimeoutMs,
        // Three tries of a request (6000 / 2000).
        deliveryTimeoutMs: 6000,
        retryDelayMs: 50,
      }),
    );
    const topic = await freshTopic('plt-exhausted');
    const record = (v: string) => ({ key: null, value: Buffer.from(v) });
    const acked: string[] = [];
    const sendOne = async (v: string) => {
      const ack = await producer.send({ topic, partition: 0, records: [record(v)] });
      acked.push(`${ack.baseOffset}:${v}`);
    };
    await sendOne('a');

    proxy.set({ blackhole: true });
    const started = Date.now();
    const err = await sendOne('b').then(
      () => undefined,
      (e: unknown) => e,
    );
    const tookMs = Date.now() - started;
    expect(err).toBeInstanceOf(TransportError);
    const failed = err as TransportError;
    expect([failed.retriable, failed.exhausted]).toEqual([true, true]);
    // At least one request timeout waited out; at most three tries, each a metadata request, a
    // connection and a produce request (the client's own bounds), plus the retry delays.
    expect(tookMs).toBeGreaterThanOrEqual(requestTimeoutMs);
    expect(tookMs).toBeLessThan(3 * (2 * requestTimeoutMs + connectionTimeoutMs) + 2 * 50 + 5000);

    proxy.heal();
    // The next sends run under the producer id the client takes after the failure: acknowledged
    // at the next offsets (no OUT_OF_ORDER_SEQUENCE_NUMBER), then the failed record resent.
    await sendOne('c');
    await sendOne('d');
    await sendOne('b');
    expect(acked).toEqual(['0:a', '1:c', '2:d', '3:b']);
    // The ledger: the partition holds exactly what was acknowledged, each record once.
    const got: ConsumedRecord[] = [];
    await consume(topic, got);
    await waitFor(() => got.length >= 4, 'the four acknowledged records');
    expect(await admin.fetchTopicOffsets(topic)).toEqual([{ partition: 0, low: '0', high: '4' }]);
    expect(got.map((r) => `${r.offset}:${r.value!.toString()}`)).toEqual(acked);
    console.log(`[platformatic-exhausted] the blackholed send failed after ${tookMs} ms`);
  });

  it('is refused on the mTLS listener without a client certificate, as a typed error', async () => {
    const noCert = transport({
      brokers: endpoints.kafkaSslBrokers,
      ssl: { ca: readFileSync(endpoints.kafkaSsl.caFile, 'utf8') },
      retries: 1,
      retryDelayMs: 50,
      connectionTimeoutMs: 2000,
    });
    const a = noCert.admin();
    const err = await a
      .connect()
      .then(() => a.listTopics())
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    await a.disconnect().catch(() => undefined);
    expect(err).toBeInstanceOf(TransportError);
    expect(['BROKER_UNAVAILABLE', 'AUTHENTICATION_FAILED']).toContain((err as TransportError).code);
  });
});
