/**
 * What bench/pipeline-in-memory.ts and bench/kafkajs-size.ts share: the bench's identities and
 * directory (bench/profile-e2e.ts's world), a registry client on the in-memory registry fake
 * (test/model/registry-fake.ts: one call per schema, then the client's cache), the real records of
 * both variants — a plain one (registry Avro of bench/e2e-clients.ts's order) and a sealed one
 * (session mode, 1 recipient, as a SealedProducer hands it to the transport) — and the figures'
 * statistics.
 */
import { Registry } from 'prom-client';
import { createInMemoryTransport } from '../src/kafka/in-memory-transport.js';
import type { OutgoingRecord, ProduceRequest, Transport } from '../src/kafka/transport.js';
import type { KeyDirectory } from '../src/keys/directory/key-directory.js';
import type { LoadedIdentity } from '../src/keys/identity.js';
import { PipelineMetrics } from '../src/pipeline/pipeline-metrics.js';
import { SealedProducer } from '../src/pipeline/sealed-producer.js';
import { SchemaRegistryClient } from '../src/registry/schema-registry-client.js';
import { systemClock } from '../src/runtime/clock.js';
import { FAKE_REGISTRY_URL, fakeRegistryFetch } from '../test/model/registry-fake.js';
import { makePipelineWorld, type PipelineWorld } from '../test/support/pipeline-world.js';
import { order, ORDER_SCHEMA } from './e2e-clients.js';

/** The bench's world: a producer identity, its recipient, and their signed directory. */
export interface Rig {
  readonly world: PipelineWorld;
  readonly producer: LoadedIdentity;
  readonly recipient: LoadedIdentity;
  /** The producer's directory. */
  readonly directory: KeyDirectory;
  /** The recipient's directory. */
  readonly recipientDirectory: KeyDirectory;
  /** A registry client on the in-memory registry fake. */
  readonly registry: SchemaRegistryClient;
  readonly metrics: PipelineMetrics;
  close(): Promise<void>;
}

export async function makeRig(): Promise<Rig> {
  const world = await makePipelineWorld([
    { name: 'bench-producer', send: ['bench-*'], receive: [] },
    { name: 'bench-r1', send: ['bench-*'], receive: ['bench-*'] },
    { name: 'bench-r2', send: [], receive: ['bench-*'] },
  ]);
  const producer = await world.identity('bench-producer');
  const recipient = await world.identity('bench-r1');
  return {
    world,
    producer,
    recipient,
    directory: await world.directory(),
    recipientDirectory: await world.directory(),
    registry: new SchemaRegistryClient({ url: FAKE_REGISTRY_URL, fetch: fakeRegistryFetch() }),
    metrics: new PipelineMetrics(new Registry()),
    close: () => world.cleanup(),
  };
}

/** `transport`, with the records its producers send to `topic` handed to `seen`. */
export function tappedTransport(
  transport: Transport,
  topic: string,
  seen: (r: OutgoingRecord) => void,
): Transport {
  const tap = (requests: readonly ProduceRequest[]): void => {
    for (const q of requests) if (q.topic === topic) for (const r of q.records) seen(r);
  };
  return {
    producer: (options) => {
      const p = transport.producer(options);
      return {
        connect: () => p.connect(),
        send: (request) => {
          tap([request]);
          return p.send(request);
        },
        sendBatch: (requests) => {
          tap(requests);
          return p.sendBatch(requests);
        },
        partitionFor: (t, key) => p.partitionFor(t, key),
        partitions: (t, options) => p.partitions(t, options),
        disconnect: () => p.disconnect(),
      };
    },
    consumer: (options) => transport.consumer(options),
    admin: () => transport.admin(),
  };
}

/** One record of each variant, as each hands it to the Kafka client (record number 1). */
export interface SampleRecords {
  readonly plain: OutgoingRecord;
  readonly sealed: OutgoingRecord;
}

/** The bytes of a record before batch framing: key + value + header keys and values. */
export function recordBytes(r: OutgoingRecord): number {
  let n = (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers ?? []) n += Buffer.byteLength(h.key) + (h.value?.length ?? 0);
  return n;
}

/** Seals order 1 with a real SealedProducer over an in-memory transport; encodes it plain too. */
export async function sampleRecords(rig: Rig): Promise<SampleRecords> {
  const topic = 'bench-sample';
  const o = order(1, Date.now() * 1000);
  const schemaId = await rig.registry.register(`${topic}-value`, ORDER_SCHEMA);
  const plain: OutgoingRecord = {
    key: Buffer.from(o.id),
    value: await rig.registry.encode(schemaId, o),
  };
  const inner = createInMemoryTransport();
  await inner.admin().createTopics([{ topic, numPartitions: 1 }]);
  let sealed: OutgoingRecord | undefined;
  const producer = new SealedProducer({
    transport: tappedTransport(inner, topic, (r) => (sealed = r)),
    registry: rig.registry,
    crypto: rig.world.crypto,
    clock: systemClock,
    identity: rig.producer,
    directory: rig.directory,
    valueSchemas: { [topic]: ORDER_SCHEMA },
    producerOptions: { compression: 'none' },
  });
  await producer.connect();
  await producer.send({ topic, recipients: ['bench-r1'], messages: [{ key: o.id, value: o }] });
  await producer.close();
  if (sealed === undefined) throw new Error('no sealed record seen');
  return { plain, sealed };
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Median, min and max of `xs`, to `digits` places: `m (min–max)`. */
export function spread(xs: readonly number[], digits = 2): string {
  return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
}

/** The 1-, 5- and 15-minute load averages, for the report. */
export async function loadAverages(): Promise<string> {
  const { loadavg } = await import('node:os');
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}
