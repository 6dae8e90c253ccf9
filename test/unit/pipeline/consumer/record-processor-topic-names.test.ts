/**
 * Topics named like an Object.prototype property (`constructor`, `toString`: legal Kafka topic names,
 * `[a-zA-Z0-9._-]`) against the per-topic option records: a reader schema (`readerSchemas`) or writer
 * schema (`valueSchemas`) is taken only from an own property of the record, never inherited — an
 * inherited function taken as a reader schema made every such record a dead letter (PAYLOAD
 * PAYLOAD_INVALID), and taken as a writer schema made the producer's send fail (SCHEMA_INVALID).
 *
 * Records sealed by a real SealedProducer (real crypto, identities and signed directory) on the
 * in-memory transport, opened by the real RecordProcessor; what each record became is read from the
 * handler's ledger and the dead-letter topic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsumedRecord, Transport } from '../../../../src/kafka/transport.js';
import type { KeyDirectory } from '../../../../src/keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../../../src/keys/identity.js';
import type { SealedDelivery } from '../../../../src/pipeline/consumer/consumer-types.js';
import {
  newPartitionEntry,
  type PartitionEntry,
} from '../../../../src/pipeline/consumer/partition-state.js';
import type { RecordProcessor } from '../../../../src/pipeline/consumer/record-processor.js';
import { SealedProducer } from '../../../../src/pipeline/sealed-producer.js';
import { AvroCodec } from '../../../../src/registry/avro-codec.js';
import { SchemaRegistryClient } from '../../../../src/registry/schema-registry-client.js';
import { systemClock } from '../../../../src/runtime/clock.js';
import { createInMemoryTransport, InMemoryCluster } from '../../../../src/testing.js';
import { FAKE_REGISTRY_URL, fakeRegistryFetch } from '../../../model/registry-fake.js';
import {
  makePipelineWorld,
  ORDER_SCHEMA,
  type PipelineWorld,
} from '../../../support/pipeline-world.js';
import { realRecordProcessor } from './support/real-record-processor.js';

const PROTO_TOPICS = ['constructor', 'toString'] as const;
const PLAIN = 'rpn-orders';
const DLQ = 'rpn-dlq';
const GROUP = 'rpn-billing';

let world: PipelineWorld;
let directory: KeyDirectory;
let sender: LoadedIdentity;
let receiver: LoadedIdentity;
let cluster: InMemoryCluster;
let transport: Transport;
let registry: SchemaRegistryClient;
beforeAll(async () => {
  world = await makePipelineWorld([
    { name: 'orders', send: [...PROTO_TOPICS, PLAIN], receive: [] },
    { name: 'billing', send: [], receive: [...PROTO_TOPICS, PLAIN] },
  ]);
  directory = await world.directory();
  sender = await world.identity('orders');
  receiver = await world.identity('billing');
  cluster = new InMemoryCluster();
  transport = createInMemoryTransport({ cluster, clientId: 'rpn' });
  const admin = transport.admin();
  await admin.connect();
  await admin.createTopics([...PROTO_TOPICS, PLAIN, DLQ].map((topic) => ({ topic })));
  await admin.disconnect();
  registry = new SchemaRegistryClient({ url: FAKE_REGISTRY_URL, fetch: fakeRegistryFetch() });
});
afterAll(async () => {
  await world?.cleanup();
});

async function producerWith(valueSchemas: Record<string, string>): Promise<SealedProducer> {
  const producer = new SealedProducer({
    transport,
    registry,
    crypto: world.crypto,
    clock: systemClock,
    identity: sender,
    directory,
    valueSchemas,
  });
  await producer.connect();
  return producer;
}

/** A record processor with reader schemas for PLAIN only; its handler appends to `deliveries`. */
function processorWith(deliveries: SealedDelivery[]): Promise<RecordProcessor> {
  return realRecordProcessor({
    world,
    directory,
    receiver,
    transport,
    registry,
    groupId: GROUP,
    deadLetterTopic: DLQ,
    consumerOptions: { readerSchemas: { [PLAIN]: AvroCodec.parse(ORDER_SCHEMA) } },
    // The hand-out mark always succeeds; nothing was handed out by a previous owner.
    partitions: {
      beforeHandOut: () => Promise.resolve(),
      belowLoadedMark: () => false,
      writtenBeforeMs: () => systemClock.nowMs(),
    },
    handler: (d) => {
      deliveries.push(d);
      return Promise.resolve();
    },
  });
}

function entryFor(topic: string): PartitionEntry {
  return newPartitionEntry({ topic, partition: 0 }, { maxMarkLead: 5000, admit: () => true });
}

describe('topics named like Object.prototype properties', () => {
  it('the record processor decodes them with the writer schema (no inherited reader schema): delivered, no dead letter', async () => {
    // The producer is given the schemas as own properties, so it is not what is tested here.
    const producer = await producerWith(
      Object.fromEntries([...PROTO_TOPICS, PLAIN].map((t) => [t, ORDER_SCHEMA])),
    );
    const records: ConsumedRecord[] = [];
    for (const [i, topic] of [...PROTO_TOPICS, PLAIN].entries()) {
      await producer.send({
        topic,
        messages: [{ key: 'k', value: { id: `o${i}`, cents: i, note: '' } }],
      });
      records.push(cluster.records(topic, 0).at(-1)!);
    }
    await producer.close();
    const deliveries: SealedDelivery[] = [];
    const processor = await processorWith(deliveries);
    const outcomes = [];
    for (const record of records)
      outcomes.push(await processor.process(record, entryFor(record.topic)));
    expect(outcomes).toEqual(records.map(() => ({ kind: 'delivered' })));
    expect(deliveries.map((d) => [d.topic, d.value])).toEqual([
      ['constructor', { id: 'o0', cents: 0, note: '' }],
      ['toString', { id: 'o1', cents: 1, note: '' }],
      [PLAIN, { id: 'o2', cents: 2, note: '' }],
    ]);
    expect(cluster.records(DLQ, 0)).toEqual([]);
  });

  it('the producer takes their schema from the registry when valueSchemas does not name them (no inherited writer schema)', async () => {
    for (const topic of PROTO_TOPICS) await registry.register(`${topic}-value`, ORDER_SCHEMA);
    const producer = await producerWith({ [PLAIN]: ORDER_SCHEMA });
    const before = PROTO_TOPICS.map((t) => cluster.records(t, 0).length);
    for (const topic of PROTO_TOPICS)
      await producer.send({
        topic,
        messages: [{ key: 'k', value: { id: 'p', cents: 7, note: '' } }],
      });
    await producer.close();
    // Each send was acknowledged: one more record on each topic.
    expect(PROTO_TOPICS.map((t, i) => cluster.records(t, 0).length - before[i]!)).toEqual([1, 1]);
  });
});
