/**
 * A transport failure marked `exhausted` (src/kafka/transport-error.ts: the transport already retried
 * the send for as long as its own timeouts allow) is reported at once as SEND_FAILED, not attempted
 * again up to `maxSendAttempts` (src/pipeline/producer/batch-delivery.ts) — the @platformatic/kafka
 * adapter marks a send whose tries waited out a request timeout so, and five attempts of ~90 s each
 * would keep an undeliverable send from failing for about 7.5 minutes (docs/TRANSPORTS.md "Under
 * faults"). A real SealedProducer on the in-memory transport, whose cluster fails chosen sends; the
 * invariant is checked from the produce calls the transport saw and the records the cluster holds:
 * nothing written twice, nothing reported sent that is not on the partition.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Transport, TransportProducer } from '../../../../src/kafka/transport.js';
import { TransportError } from '../../../../src/kafka/transport-error.js';
import { SealedProducer, SendFailedError } from '../../../../src/pipeline/sealed-producer.js';
import { SchemaRegistryClient } from '../../../../src/registry/schema-registry-client.js';
import { systemClock } from '../../../../src/runtime/clock.js';
import { createInMemoryTransport, InMemoryCluster } from '../../../../src/testing.js';
import { FAKE_REGISTRY_URL, fakeRegistryFetch } from '../../../model/registry-fake.js';
import { makePipelineWorld, type PipelineWorld } from '../../../support/pipeline-world.js';

const TOPIC = 'exhausted-orders';
const CONTENT_TYPE = 'application/x-exhausted-test';

let world: PipelineWorld;
beforeAll(async () => {
  world = await makePipelineWorld([
    { name: 'orders', send: [TOPIC], receive: [] },
    { name: 'billing', send: [], receive: [TOPIC] },
  ]);
});
afterAll(async () => {
  await world?.cleanup();
});

/** The in-memory transport, counting its producers' sendBatch calls. */
function countingTransport(inner: Transport, calls: { n: number }): Transport {
  const wrap = (p: TransportProducer): TransportProducer => ({
    connect: () => p.connect(),
    send: (r) => p.send(r),
    sendBatch: (requests) => {
      calls.n++;
      return p.sendBatch(requests);
    },
    partitionFor: (topic, key) => p.partitionFor(topic, key),
    partitions: (topic, options) => p.partitions(topic, options),
    disconnect: () => p.disconnect(),
  });
  return { ...inner, producer: (options) => wrap(inner.producer(options)) };
}

let cluster: InMemoryCluster;
let calls: { n: number };
let producer: SealedProducer;

beforeEach(async () => {
  cluster = new InMemoryCluster();
  const inner = createInMemoryTransport({ cluster, clientId: 'exhausted' });
  const admin = inner.admin();
  await admin.connect();
  await admin.createTopics([{ topic: TOPIC, numPartitions: 1 }]);
  await admin.disconnect();
  calls = { n: 0 };
  producer = new SealedProducer({
    transport: countingTransport(inner, calls),
    registry: new SchemaRegistryClient({ url: FAKE_REGISTRY_URL, fetch: fakeRegistryFetch() }),
    crypto: world.crypto,
    clock: systemClock,
    identity: await world.identity('orders'),
    directory: await world.directory(),
    maxSendAttempts: 5,
    retryDelayMs: 0,
  });
  await producer.connect();
  return async () => {
    await producer.close();
  };
});

const send = (count: number) =>
  producer.sendRaw({
    topic: TOPIC,
    contentType: CONTENT_TYPE,
    messages: Array.from({ length: count }, (_, i) => ({
      key: `m${i}`,
      payload: new Uint8Array(64).fill(i),
    })),
  });

/** The keys on the topic's partition, in offset order. */
const writtenKeys = () => cluster.records(TOPIC, 0).map((r) => r.key!.toString());

const busy = (exhausted: boolean) =>
  new TransportError('BROKER_BUSY', 'produce timed out (injected fault)', {
    retriable: true,
    brokerErrorType: 'REQUEST_TIMED_OUT',
    exhausted,
  });

describe('a send the transport reports exhausted', () => {
  it('fails after one attempt with a retriable SEND_FAILED; resend writes it once', async () => {
    const fault = busy(true);
    cluster.failNextSend(fault);
    const err = await send(3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendFailedError);
    const failed = err as SendFailedError;
    expect(failed.code).toBe('SEND_FAILED');
    expect(failed.retriable).toBe(true);
    expect(failed.cause).toBe(fault);
    // One produce call: the pipeline did not repeat what the transport had retried already.
    expect(calls.n).toBe(1);
    expect(writtenKeys()).toEqual([]);
    expect(failed.sent).toEqual([]);
    expect(failed.pending.requests.flatMap((r) => r.records.map((x) => x.key!.toString()))).toEqual(
      ['m0', 'm1', 'm2'],
    );

    const resent = await producer.resend(failed.pending);
    expect(calls.n).toBe(2);
    expect(resent.map((s) => s.offset)).toEqual(['0', '1', '2']);
    expect(writtenKeys()).toEqual(['m0', 'm1', 'm2']);
  });

  it('the same failure not exhausted is attempted again, up to maxSendAttempts', async () => {
    cluster.failNextSend(busy(false));
    cluster.failNextSend(busy(false));
    const sent = await send(3);
    expect(calls.n).toBe(3);
    expect(sent.map((s) => s.offset)).toEqual(['0', '1', '2']);
    expect(writtenKeys()).toEqual(['m0', 'm1', 'm2']);

    for (let i = 0; i < 5; i++) cluster.failNextSend(busy(false));
    const err = await send(1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendFailedError);
    expect(calls.n).toBe(3 + 5);
    expect(writtenKeys()).toEqual(['m0', 'm1', 'm2']);
  });
});
