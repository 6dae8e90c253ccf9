/**
 * A send split into several produce requests (src/pipeline/producer/batch-delivery.ts): a real
 * SealedProducer (real crypto, identities and signed directory) on the in-memory transport, whose
 * producer is wrapped to log every produce request (its start, its acknowledgement) and to inject a
 * broker failure into one of them. Each test states what must hold and checks it from that log, the
 * cluster's partitions (the ledger of what was written) and the results — never from "no exception".
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/errors.js';
import type {
  ProduceRequest,
  Transport,
  TransportProducer,
} from '../../../../src/kafka/transport.js';
import { TransportError } from '../../../../src/kafka/transport-error.js';
import type { PipelineEvent } from '../../../../src/pipeline/metadata-sink.js';
import { estimatedRecordBytes } from '../../../../src/pipeline/producer/request-chunks.js';
import {
  SealedProducer,
  SendFailedError,
  type SealedProducerOptions,
  type SentMessage,
} from '../../../../src/pipeline/sealed-producer.js';
import { SchemaRegistryClient } from '../../../../src/registry/schema-registry-client.js';
import { systemClock } from '../../../../src/runtime/clock.js';
import { createInMemoryTransport, InMemoryCluster } from '../../../../src/testing.js';
import { FAKE_REGISTRY_URL, fakeRegistryFetch } from '../../../model/registry-fake.js';
import { makePipelineWorld, type PipelineWorld } from '../../../support/pipeline-world.js';

const TOPIC = 'split-orders';
/** A topic that takes records of at most 36,000 bytes. */
const SMALL = 'split-small';
const PARTITIONS = 3;
const MAX_REQUEST_BYTES = 32 * 1024;
const CONTENT_TYPE = 'application/x-split-test';
const COUNT = 60;

let world: PipelineWorld;
beforeAll(async () => {
  world = await makePipelineWorld([
    { name: 'orders', send: [TOPIC, SMALL], receive: [] },
    { name: 'billing', send: [], receive: [TOPIC, SMALL] },
  ]);
});
afterAll(async () => {
  await world?.cleanup();
});

/** What the wrapped transport producer saw: `start <n>` / `ack <n>` / `fail <n>`, and the requests. */
interface ProduceLog {
  readonly lines: string[];
  readonly calls: (readonly ProduceRequest[])[];
  /** Called before produce request n (1-based) goes to the cluster. */
  beforeCall: (n: number) => void;
}

function loggingTransport(inner: Transport, log: ProduceLog): Transport {
  const wrap = (p: TransportProducer): TransportProducer => ({
    connect: () => p.connect(),
    send: (r) => p.send(r),
    sendBatch: async (requests) => {
      log.calls.push(requests);
      const n = log.calls.length;
      log.lines.push(`start ${n}`);
      log.beforeCall(n);
      try {
        const acks = await p.sendBatch(requests);
        log.lines.push(`ack ${n}`);
        return acks;
      } catch (err) {
        log.lines.push(`fail ${n}`);
        throw err;
      }
    },
    partitionFor: (topic, key) => p.partitionFor(topic, key),
    partitions: (topic, options) => p.partitions(topic, options),
    disconnect: () => p.disconnect(),
  });
  return {
    producer: (options) => wrap(inner.producer(options)),
    consumer: (options) => inner.consumer(options),
    admin: () => inner.admin(),
  };
}

interface Rig {
  readonly cluster: InMemoryCluster;
  readonly log: ProduceLog;
  readonly events: PipelineEvent[];
  readonly options: SealedProducerOptions;
  readonly producer: SealedProducer;
}

let rig: Rig;

beforeEach(async () => {
  const cluster = new InMemoryCluster();
  const inner = createInMemoryTransport({ cluster, clientId: 'split' });
  const admin = inner.admin();
  await admin.connect();
  await admin.createTopics([
    { topic: TOPIC, numPartitions: PARTITIONS },
    { topic: SMALL, configs: { 'max.message.bytes': '36000' } },
  ]);
  await admin.disconnect();
  const log: ProduceLog = { lines: [], calls: [], beforeCall: () => undefined };
  const events: PipelineEvent[] = [];
  const options: SealedProducerOptions = {
    transport: loggingTransport(inner, log),
    registry: new SchemaRegistryClient({ url: FAKE_REGISTRY_URL, fetch: fakeRegistryFetch() }),
    crypto: world.crypto,
    clock: systemClock,
    identity: await world.identity('orders'),
    directory: await world.directory(),
    maxRequestBytes: MAX_REQUEST_BYTES,
    maxSendAttempts: 1,
    events: { emit: (e) => events.push(e) },
  };
  const producer = new SealedProducer(options);
  await producer.connect();
  rig = { cluster, log, events, options, producer };
  return async () => {
    await producer.close();
  };
});

/** `count` raw messages of about 4 KB with keys `m<i>` (the key names the message in the log). */
const messages = (count: number, from = 0) =>
  Array.from({ length: count }, (_, i) => ({
    key: `m${from + i}`,
    payload: new Uint8Array(4000).fill((from + i) % 251),
  }));

const send = (count: number, from = 0) =>
  rig.producer.sendRaw({
    topic: TOPIC,
    contentType: CONTENT_TYPE,
    messages: messages(count, from),
  });

/** The keys the cluster holds at `partition/offset`, and every key written (with repeats). */
function written() {
  const at = new Map<string, string>();
  const keys: string[] = [];
  const orderOnPartition: number[][] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const records = rig.cluster.records(TOPIC, p);
    orderOnPartition.push(records.map((r) => Number(r.key!.toString().slice(1))));
    for (const r of records) {
      at.set(`${p}/${r.offset}`, r.key!.toString());
      keys.push(r.key!.toString());
    }
  }
  return { at, keys, orderOnPartition };
}

/** Results describe message i at index i, and the cluster holds message i where result i says. */
function expectResultsAreMessages(results: readonly SentMessage[], count: number): void {
  expect(results.map((r) => r.index)).toEqual(Array.from({ length: count }, (_, i) => i));
  const { at } = written();
  expect(results.filter((r, i) => at.get(`${r.partition}/${r.offset}`) !== `m${i}`)).toEqual([]);
}

/** The message ids of the `sealed` events reported so far. */
const sealedIds = () =>
  rig.events.flatMap((e) => (e.type === 'sealed' ? [(e as { messageId: string }).messageId] : []));

const isAscending = (xs: readonly number[]) => xs.every((x, i) => i === 0 || xs[i - 1]! < x);

const requestKeys = (requests: readonly ProduceRequest[]) =>
  requests.flatMap((r) => r.records.map((rec) => rec.key!.toString()));

describe('a send larger than maxRequestBytes', () => {
  it('goes out as several requests under the bound, each after the previous was acknowledged', async () => {
    const results = await send(COUNT);
    const { calls, lines } = rig.log;
    expect(calls.length).toBeGreaterThan(2);
    for (const c of calls) {
      const bytes = c.reduce(
        (n, r) => n + r.records.reduce((m, rec) => m + estimatedRecordBytes(rec), 0),
        0,
      );
      expect(bytes).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    }
    expect(lines).toEqual(calls.flatMap((_, i) => [`start ${i + 1}`, `ack ${i + 1}`]));
    expect(requestKeys(calls.flat()).sort()).toEqual(
      messages(COUNT)
        .map((m) => m.key)
        .sort(),
    );
    expectResultsAreMessages(results, COUNT);
    // On every partition the messages lie in the order given (their seqs grow the same way).
    for (const order of written().orderOnPartition) expect(isAscending(order)).toBe(true);
    expect(sealedIds().sort()).toEqual(results.map((r) => r.messageId).sort());
  });

  it('failing in a middle request: the acknowledged ones are reported sent, the rest pending; resend completes it', async () => {
    rig.log.beforeCall = (n) => {
      if (n === 2)
        rig.cluster.failNextSend(
          new TransportError('RECORD_TOO_LARGE', 'produce refused (injected fault)'),
        );
    };
    const err = await send(COUNT).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendFailedError);
    const failed = err as SendFailedError;
    expect(rig.log.lines).toEqual(['start 1', 'ack 1', 'start 2', 'fail 2']);
    const firstKeys = requestKeys(rig.log.calls[0]!);
    // Sent: exactly the messages of the acknowledged request, where the cluster holds them.
    expect(failed.sent.map((s) => `m${s.index}`).sort()).toEqual([...firstKeys].sort());
    expect(failed.pending.acknowledged).toEqual(failed.sent);
    expect(isAscending(failed.sent.map((s) => s.index))).toBe(true);
    const { at, keys } = written();
    expect(
      failed.sent.filter((s) => at.get(`${s.partition}/${s.offset}`) !== `m${s.index}`),
    ).toEqual([]);
    expect(keys.sort()).toEqual([...firstKeys].sort());
    // Pending: every other message (the failed request's and those never tried), none of them twice.
    const pendingKeys = requestKeys(failed.pending.requests);
    expect(pendingKeys.length).toBe(COUNT - firstKeys.length);
    expect([...pendingKeys, ...firstKeys].sort()).toEqual(
      messages(COUNT)
        .map((m) => m.key)
        .sort(),
    );
    expect(failed.pending.messages.flat().map((m) => `m${m.index}`)).toEqual(pendingKeys);
    // `sealed` events only for what was acknowledged.
    expect(sealedIds().sort()).toEqual(failed.sent.map((s) => s.messageId).sort());

    rig.log.beforeCall = () => undefined;
    const results = await rig.producer.resend(failed.pending);
    expectResultsAreMessages(results, COUNT);
    expect(
      results.slice(0, 0).concat(results.filter((r) => firstKeys.includes(`m${r.index}`))),
    ).toEqual(failed.sent);
    const after = written();
    expect(after.keys.sort()).toEqual(
      messages(COUNT)
        .map((m) => m.key)
        .sort(),
    );
    for (const order of after.orderOnPartition) expect(isAscending(order)).toBe(true);
  });

  it('a request written but not acknowledged is pending, never reported sent', async () => {
    rig.log.beforeCall = (n) => {
      if (n === 2) rig.cluster.failNextSend(undefined, { afterAppend: true });
    };
    const failed = (await send(COUNT).catch((e: unknown) => e)) as SendFailedError;
    expect(failed).toBeInstanceOf(SendFailedError);
    const firstKeys = requestKeys(rig.log.calls[0]!);
    const secondKeys = requestKeys(rig.log.calls[1]!);
    expect(failed.sent.map((s) => `m${s.index}`).sort()).toEqual([...firstKeys].sort());
    // The broker holds the second request's records, but no ack came: they are pending.
    expect(written().keys.sort()).toEqual([...firstKeys, ...secondKeys].sort());
    const pendingKeys = requestKeys(failed.pending.requests);
    expect(secondKeys.every((k) => pendingKeys.includes(k))).toBe(true);
    expect(pendingKeys.length).toBe(COUNT - firstKeys.length);
  });

  it('a send sealed while a split one is in flight is written after all of it', async () => {
    let small: Promise<SentMessage[]> | undefined;
    rig.log.beforeCall = (n) => {
      // Sealed now, after every record of the big send: its seqs are higher on every partition.
      if (n === 1) small = send(6, COUNT);
    };
    const bigResults = await send(COUNT);
    const smallResults = await small!;
    const bigCalls = rig.log.calls.length - 1;
    expect(bigCalls).toBeGreaterThan(1);
    // The small send's request started only once the big one's last request was acknowledged.
    expect(rig.log.lines.slice(-2)).toEqual([`start ${bigCalls + 1}`, `ack ${bigCalls + 1}`]);
    expect(rig.log.lines.indexOf(`ack ${bigCalls}`)).toBe(rig.log.lines.length - 3);
    // In each partition the seqs of the topic's stream grow with the offset (none lands behind).
    const all = [...bigResults, ...smallResults];
    for (let p = 0; p < PARTITIONS; p++) {
      const seqs = all
        .filter((r) => r.partition === p)
        .sort((a, b) => Number(a.offset) - Number(b.offset))
        .map((r) => r.seq);
      expect(isAscending(seqs)).toBe(true);
    }
    for (const order of written().orderOnPartition) expect(isAscending(order)).toBe(true);
  });

  it('sends a record larger than the bound in a request of its own; the broker decides', async () => {
    const sized = (sizes: readonly number[]) =>
      rig.producer.sendRaw({
        topic: TOPIC,
        contentType: CONTENT_TYPE,
        messages: sizes.map((size, i) => ({ key: `m${i}`, payload: new Uint8Array(size) })),
      });
    // 40 KB fits the topic (the broker's default limit): delivered alone, between the others.
    const results = await sized([1000, 40_000, 1000]);
    expect(rig.log.calls.map(requestKeys)).toEqual([['m0'], ['m1'], ['m2']]);
    expectResultsAreMessages(results, 3);

    // On a topic that takes at most 36,000 bytes a record, the broker refuses it: its typed error.
    const err = await rig.producer
      .sendRaw({
        topic: SMALL,
        contentType: CONTENT_TYPE,
        messages: [1000, 40_000, 1000].map((size, i) => ({
          key: `s${i}`,
          payload: new Uint8Array(size),
        })),
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendFailedError);
    const failed = err as SendFailedError;
    expect((failed.cause as TransportError).code).toBe('RECORD_TOO_LARGE');
    expect(failed.sent.map((m) => m.index)).toEqual([0]);
    expect(requestKeys(failed.pending.requests)).toEqual(['s1', 's2']);
    expect(rig.cluster.records(SMALL, 0).map((r) => r.key!.toString())).toEqual(['s0']);
  });

  it('refuses a bad maxRequestBytes at construction (ARGUMENT_INVALID)', () => {
    for (const maxRequestBytes of [0, 1023, 1.5, 2 ** 31, Number.NaN]) {
      let err: unknown;
      try {
        new SealedProducer({ ...rig.options, maxRequestBytes });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).code).toBe('ARGUMENT_INVALID');
    }
  });
});
