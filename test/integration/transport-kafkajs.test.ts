/**
 * The transport port's kafkajs adapter against the real broker of the stack: explicit-partition
 * produce and consume (PLAINTEXT and the mTLS listener), agreement of partitionFor with kafkajs's own
 * partitioner, headers, retry/pause/resume, assignment callbacks, commits with metadata read back by
 * the admin, seek, compacted topics, and typed errors.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createKafkajsTransport,
  type KafkajsTransportOptions,
} from '../../src/kafka/kafkajs-transport.js';
import type {
  ConsumedRecord,
  Transport,
  TransportAdmin,
  TransportConsumer,
  TransportProducer,
} from '../../src/kafka/transport.js';
import { TransportError } from '../../src/kafka/transport-error.js';
import { createLogger } from '../../src/observability/logger.js';
import { getEndpoints } from '../support/endpoints.js';

const endpoints = getEndpoints();
// Silent: several tests provoke connection errors on purpose, which kafkajs logs at error level.
const logger = createLogger({ level: 'silent', name: 'transport-it' });
const hex = () => randomBytes(6).toString('hex');

function transport(overrides: Partial<KafkajsTransportOptions> = {}): Transport {
  return createKafkajsTransport({
    brokers: endpoints.kafkaBrokers,
    clientId: 'transport-it',
    logger,
    nowMs: () => Date.now(),
    ...overrides,
  });
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
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

function newConsumer(t: Transport = transport(), groupId = `it-${hex()}`): TransportConsumer {
  const consumer = t.consumer({
    groupId,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
    retryInitialDelayMs: 100,
  });
  cleanup.push(() => consumer.disconnect());
  return consumer;
}

beforeAll(async () => {
  admin = transport().admin();
  await admin.connect();
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  if (createdTopics.length > 0) await admin.deleteTopics(createdTopics).catch(() => undefined);
  await admin.disconnect();
});

describe('kafkajs transport: producing', () => {
  it('picks the same partition as kafkajs DefaultPartitioner on the live topic, and sends there', async () => {
    const topic = await freshTopic('transport-partitioner', 6);
    const producer = await startProducer();
    const keys = Array.from({ length: 60 }, (_, i) => Buffer.from(`key-${i}-${hex()}`));
    // Our choice, made before sending.
    const ours = await Promise.all(keys.map((k) => producer.partitionFor(topic, k)));
    // kafkajs's own choice: a plain kafkajs producer without an explicit partition.
    const raw = new kafkajs.Kafka({
      clientId: 'raw',
      brokers: endpoints.kafkaBrokers,
      logLevel: kafkajs.logLevel.NOTHING,
    }).producer({
      createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    });
    await raw.connect();
    try {
      const theirs: number[] = [];
      for (const key of keys) {
        const [meta] = await raw.send({ topic, messages: [{ key, value: 'x' }] });
        theirs.push(meta!.partition);
      }
      expect(ours).toEqual(theirs);
      expect(new Set(ours).size).toBeGreaterThan(1);
    } finally {
      await raw.disconnect();
    }
    // Sending explicitly to our partition lands there.
    const ack = await producer.send({
      topic,
      partition: ours[0]!,
      records: [{ key: keys[0]!, value: Buffer.from('v') }],
    });
    expect(ack.partition).toBe(ours[0]);
    expect(BigInt(ack.baseOffset)).toBeGreaterThanOrEqual(0n);
  });

  it('acknowledges several requests to one partition in one batch with their own base offsets', async () => {
    const topic = await freshTopic('transport-batch-acks', 2);
    const producer = await startProducer();
    const recs = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`) }));
    const acks = await producer.sendBatch([
      { topic, partition: 0, records: recs(3) },
      { topic, partition: 1, records: recs(1) },
      { topic, partition: 0, records: recs(2) },
    ]);
    expect(acks.map((a) => `${a.partition}@${a.baseOffset}`)).toEqual(['0@0', '1@0', '0@3']);
    const next = await producer.send({ topic, partition: 0, records: recs(1) });
    expect(next.baseOffset).toBe('5');
  });

  it('round-robins null keys over the partitions', async () => {
    const topic = await freshTopic('transport-null-key', 3);
    const producer = await startProducer();
    const chosen = await Promise.all(
      Array.from({ length: 6 }, () => producer.partitionFor(topic, null)),
    );
    expect(new Set(chosen)).toEqual(new Set([0, 1, 2]));
  });

  it('refuses an unknown topic and a bad partition with typed errors', async () => {
    const producer = await startProducer();
    await expect(
      producer.partitionFor(`test-missing-${hex()}`, Buffer.from('k')),
    ).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND' });
    await expect(producer.send({ topic: 'x', partition: -1, records: [] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      retriable: false,
    });
  });

  it('reports an unreachable broker as a retriable BROKER_UNAVAILABLE', async () => {
    const down = transport({
      brokers: ['127.0.0.1:1'],
      kafkaConfig: { retry: { retries: 1, initialRetryTime: 50 }, connectionTimeout: 500 },
    });
    const producer = down.producer();
    const err = await producer.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('BROKER_UNAVAILABLE');
    expect((err as TransportError).retriable).toBe(true);
  });
});

describe('kafkajs transport: consuming', () => {
  it('delivers key, value, headers (repeated keys, empty values) and tombstones byte-exact', async () => {
    const topic = await freshTopic('transport-roundtrip', 2);
    const producer = await startProducer();
    const headers = [
      { key: 'a', value: Buffer.from([0, 1, 2]) },
      { key: 'a', value: Buffer.from('second') },
      { key: 'e', value: Buffer.alloc(0) },
    ];
    // kafkajs cannot write a null header value: refused up front, typed.
    await expect(
      producer.send({
        topic,
        partition: 0,
        records: [{ key: null, value: null, headers: [{ key: 'n', value: null }] }],
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await producer.sendBatch([
      {
        topic,
        partition: 1,
        records: [
          {
            key: Buffer.from('k1'),
            value: Buffer.from([0xff, 0x00]),
            headers,
            timestampMs: 1_700_000_000_000,
          },
        ],
      },
      { topic, partition: 0, records: [{ key: null, value: null }] },
    ]);
    const consumer = newConsumer();
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const got: ConsumedRecord[] = [];
    await consumer.run({
      eachMessage: (r) => {
        got.push(r);
        return Promise.resolve({ kind: 'processed' });
      },
    });
    await waitFor('2 records', () => got.length === 2);
    const keyed = got.find((r) => r.partition === 1)!;
    expect(keyed.key).toEqual(Buffer.from('k1'));
    expect(keyed.value).toEqual(Buffer.from([0xff, 0x00]));
    expect(keyed.headers).toEqual(headers);
    expect(keyed.timestampMs).toBe(1_700_000_000_000);
    const tomb = got.find((r) => r.partition === 0)!;
    expect([tomb.key, tomb.value, tomb.headers]).toEqual([null, null, []]);
  });

  it('retry pauses the partition and redelivers the same record after the delay, in order', async () => {
    const topic = await freshTopic('transport-retry');
    const producer = await startProducer();
    await producer.send({
      topic,
      partition: 0,
      records: ['r0', 'r1', 'r2', 'r3'].map((v) => ({ key: null, value: Buffer.from(v) })),
    });
    const consumer = newConsumer();
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const seen: { v: string; at: number }[] = [];
    let failedOnce = false;
    await consumer.run({
      eachMessage: (r) => {
        const v = r.value!.toString();
        seen.push({ v, at: Date.now() });
        if (v === 'r1' && !failedOnce) {
          failedOnce = true;
          return Promise.resolve({ kind: 'retry', retryAfterMs: 700 });
        }
        return Promise.resolve({ kind: 'processed' });
      },
    });
    await waitFor('all 4 processed', () => seen.filter((s) => s.v === 'r3').length === 1);
    expect(seen.map((s) => s.v)).toEqual(['r0', 'r1', 'r1', 'r2', 'r3']);
    expect(seen[2]!.at - seen[1]!.at).toBeGreaterThanOrEqual(650);
  });

  it('a throwing handler pauses the partition with backoff and the record comes again', async () => {
    const topic = await freshTopic('transport-throw');
    const producer = await startProducer();
    await producer.send({
      topic,
      partition: 0,
      records: [
        { key: null, value: Buffer.from('boom') },
        { key: null, value: Buffer.from('ok') },
      ],
    });
    const consumer = newConsumer();
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const seen: string[] = [];
    const handlerErrors: unknown[] = [];
    let throws = 2;
    await consumer.run({
      eachMessage: (r) => {
        seen.push(r.value!.toString());
        if (throws-- > 0) return Promise.reject(new Error('handler bug'));
        return Promise.resolve({ kind: 'processed' });
      },
      onHandlerError: (err) => handlerErrors.push(err),
    });
    await waitFor('ok processed', () => seen.includes('ok'));
    expect(seen).toEqual(['boom', 'boom', 'boom', 'ok']);
    expect(handlerErrors).toHaveLength(2);
  });

  it('lets an assignment listener pause before the first fetch; nothing arrives until resume', async () => {
    const topic = await freshTopic('transport-assign', 2);
    const producer = await startProducer();
    await producer.sendBatch(
      [0, 1].map((partition) => ({
        topic,
        partition,
        records: [{ key: null, value: Buffer.from(`p${partition}`) }],
      })),
    );
    const consumer = newConsumer();
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const assignments: string[][] = [];
    consumer.onAssignment((assignment) => {
      assignments.push(assignment.map((a) => `${a.topic}:${a.partition}`).sort());
      consumer.pause(assignment);
    });
    const got: string[] = [];
    await consumer.run({
      eachMessage: (r) => {
        got.push(r.value!.toString());
        return Promise.resolve({ kind: 'processed' });
      },
    });
    await waitFor('assignment', () => assignments.length > 0);
    expect(assignments[0]).toEqual([`${topic}:0`, `${topic}:1`]);
    expect(consumer.paused()).toHaveLength(2);
    consumer.resume([{ topic, partition: 1 }]);
    await waitFor('p1', () => got.includes('p1'));
    // The fetch that delivered p1 covered every assigned partition: p0 stayed held while paused.
    expect(got).toEqual(['p1']);
    consumer.resume([{ topic, partition: 0 }]);
    await waitFor('p0', () => got.includes('p0'));
  });

  it('commits offsets with metadata that the admin reads back, and a new member resumes there', async () => {
    const topic = await freshTopic('transport-commit');
    const producer = await startProducer();
    await producer.send({
      topic,
      partition: 0,
      records: ['a', 'b', 'c'].map((v) => ({ key: null, value: Buffer.from(v) })),
    });
    const groupId = `it-commit-${hex()}`;
    const consumer = newConsumer(transport(), groupId);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const metadata = JSON.stringify({ gen: 7, hash: 'ab'.repeat(16) });
    let committed = false;
    await consumer.run({
      eachBatch: async (batch, control) => {
        // Process only the first two records, commit past them with the replay-state pointer.
        const [first, second] = batch.records;
        if (first === undefined || second === undefined || committed) return;
        control.resolveOffset(second.offset);
        await consumer.commitOffsets([
          { topic, partition: 0, offset: String(BigInt(second.offset) + 1n), metadata },
        ]);
        committed = true;
      },
    });
    await waitFor('commit', () => committed);
    const offsets = await admin.fetchCommittedOffsets(groupId, [topic]);
    expect(offsets).toEqual([{ topic, partition: 0, offset: '2', metadata }]);
    await consumer.disconnect();

    // A new member of the same group starts at the committed offset.
    const next = newConsumer(transport(), groupId);
    await next.connect();
    await next.subscribe({ topics: [topic], fromBeginning: true });
    const got: string[] = [];
    await next.run({
      eachMessage: (r) => {
        got.push(r.value!.toString());
        return Promise.resolve({ kind: 'processed' });
      },
    });
    await waitFor('c', () => got.includes('c'));
    expect(got).toEqual(['c']);
  });

  it('survives a rebalance mid-stream: the group splits the partitions and every record is committed', async () => {
    const topic = await freshTopic('transport-rebalance', 2);
    const producer = await startProducer();
    const perPartition = 60;
    await producer.sendBatch(
      [0, 1].map((partition) => ({
        topic,
        partition,
        records: Array.from({ length: perPartition }, (_, i) => ({
          key: null,
          value: Buffer.from(`${partition}:${i}`),
        })),
      })),
    );
    const groupId = `it-rebalance-${hex()}`;
    const processed = new Set<string>();
    const assignments: Record<string, number[][]> = { a: [], b: [] };
    const member = async (name: 'a' | 'b') => {
      const consumer = newConsumer(transport(), groupId);
      consumer.onAssignment((as) => assignments[name]!.push(as.map((x) => x.partition).sort()));
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        eachMessage: async (r) => {
          await new Promise((res) => setTimeout(res, 15));
          // During the rebalance this throws REBALANCE_IN_PROGRESS; rethrown, it makes the member rejoin.
          await consumer.commitOffsets([
            {
              topic,
              partition: r.partition,
              offset: String(BigInt(r.offset) + 1n),
              metadata: name,
            },
          ]);
          processed.add(r.value!.toString());
          return { kind: 'processed' };
        },
      });
      return consumer;
    };
    await member('a');
    await waitFor('a to make progress', () => processed.size >= 10);
    await member('b');
    await waitFor('every record processed', () => processed.size === 2 * perPartition, 90_000);
    // After the rebalance each member owns one partition.
    await waitFor(
      'split assignment',
      () => (assignments.b!.at(-1)?.length ?? 0) === 1 && assignments.a!.at(-1)?.length === 1,
    );
    expect(assignments.a![0]).toEqual([0, 1]);
    expect([...assignments.a!.at(-1)!, ...assignments.b!.at(-1)!].sort()).toEqual([0, 1]);
    const offsets = await admin.fetchCommittedOffsets(groupId, [topic]);
    expect(offsets.map((o) => o.offset)).toEqual([String(perPartition), String(perPartition)]);
  });

  it('commitOffsets before run is a typed NOT_CONNECTED error', async () => {
    const consumer = newConsumer();
    await expect(
      consumer.commitOffsets([{ topic: 't', partition: 0, offset: '1', metadata: null }]),
    ).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
  });

  it('seek makes the partition re-read from an earlier offset', async () => {
    const topic = await freshTopic('transport-seek');
    const producer = await startProducer();
    await producer.send({
      topic,
      partition: 0,
      records: ['x', 'y'].map((v) => ({ key: null, value: Buffer.from(v) })),
    });
    const consumer = newConsumer();
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const got: string[] = [];
    await consumer.run({
      eachMessage: (r) => {
        got.push(`${r.offset}:${r.value!.toString()}`);
        return Promise.resolve({ kind: 'processed' });
      },
    });
    await waitFor('2 records', () => got.length === 2);
    consumer.seek({ topic, partition: 0 }, '1');
    await waitFor('re-read', () => got.length === 3);
    expect(got).toEqual(['0:x', '1:y', '1:y']);
  });
});

describe('kafkajs transport: mTLS listener', () => {
  const ssl = () => ({
    ca: readFileSync(endpoints.kafkaSsl.caFile, 'utf8'),
    cert: readFileSync(endpoints.kafkaSsl.certFile, 'utf8'),
    key: readFileSync(endpoints.kafkaSsl.keyFile, 'utf8'),
  });

  it('produces and consumes over TLS with a client certificate', async () => {
    const topic = await freshTopic('transport-mtls', 2);
    const tls = transport({ brokers: endpoints.kafkaSslBrokers, ssl: ssl() });
    const producer = await startProducer(tls);
    const key = Buffer.from(`tls-${hex()}`);
    const partition = await producer.partitionFor(topic, key);
    await producer.send({ topic, partition, records: [{ key, value: Buffer.from('over-tls') }] });
    const consumer = newConsumer(tls);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const got: ConsumedRecord[] = [];
    await consumer.run({
      eachMessage: (r) => {
        got.push(r);
        return Promise.resolve({ kind: 'processed' });
      },
    });
    await waitFor('tls record', () => got.length === 1);
    expect([got[0]!.partition, got[0]!.key, got[0]!.value!.toString()]).toEqual([
      partition,
      key,
      'over-tls',
    ]);
  });

  it('is refused without a client certificate, as a typed error', async () => {
    const { ca } = ssl();
    const noCert = transport({
      brokers: endpoints.kafkaSslBrokers,
      ssl: { ca },
      kafkaConfig: { retry: { retries: 1, initialRetryTime: 50 }, connectionTimeout: 2000 },
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

describe('kafkajs transport: admin', () => {
  it('creates compacted topics, reports existing ones, describes partitions, configs and offsets', async () => {
    const topic = `test-transport-compacted-${hex()}`;
    const spec = {
      topic,
      numPartitions: 2,
      replicationFactor: 1,
      compacted: true,
      configs: { 'min.cleanable.dirty.ratio': '0.01' },
    };
    expect(await admin.createTopics([spec])).toBe(true);
    createdTopics.push(topic);
    expect(await admin.createTopics([spec])).toBe(false);
    expect(await admin.listTopics()).toContain(topic);
    const config = await admin.describeTopicConfig(topic);
    expect(config['cleanup.policy']).toBe('compact');
    expect(config['min.cleanable.dirty.ratio']).toBe('0.01');
    const [described] = await admin.describeTopics([topic]);
    expect(described!.partitions.map((p) => p.partition)).toEqual([0, 1]);
    expect(described!.partitions.every((p) => p.leader >= 0)).toBe(true);
    const producer = await startProducer();
    await producer.send({
      topic,
      partition: 1,
      records: [{ key: Buffer.from('k'), value: Buffer.from('v') }],
    });
    expect(await admin.fetchTopicOffsets(topic)).toEqual([
      { partition: 0, low: '0', high: '0' },
      { partition: 1, low: '0', high: '1' },
    ]);
  });
});
