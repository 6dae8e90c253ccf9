/**
 * The record processor's metrics (docs/API.md "Metrics and logs"): `sealpost_opened_total{topic}`
 * counts the messages delivered to the handler — once each, never a handler failure or a duplicate —
 * and `sealpost_open_seconds` observes every open. The counter is added to in one call per batch
 * (flushOpened, called by the batch loop at the end of every batch and at every heartbeat): after a
 * flush it equals the deliveries of the handler's ledger, per topic, across topic switches.
 */
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsumedRecord, Transport } from '../../../../src/kafka/transport.js';
import type { KeyDirectory } from '../../../../src/keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../../../src/keys/identity.js';
import {
  newPartitionEntry,
  type PartitionEntry,
} from '../../../../src/pipeline/consumer/partition-state.js';
import { PipelineMetrics } from '../../../../src/pipeline/pipeline-metrics.js';
import { SealedProducer } from '../../../../src/pipeline/sealed-producer.js';
import { SchemaRegistryClient } from '../../../../src/registry/schema-registry-client.js';
import { systemClock } from '../../../../src/runtime/clock.js';
import { createInMemoryTransport, InMemoryCluster } from '../../../../src/testing.js';
import { FAKE_REGISTRY_URL, fakeRegistryFetch } from '../../../model/registry-fake.js';
import {
  counterValue,
  makePipelineWorld,
  ORDER_SCHEMA,
  type PipelineWorld,
} from '../../../support/pipeline-world.js';
import { realRecordProcessor } from './support/real-record-processor.js';

const DATA = 'rpm-orders';
const ENTITIES = 'rpm-entities';
const DLQ = 'rpm-dlq';
const GROUP = 'rpm-billing';

let world: PipelineWorld;
let directory: KeyDirectory;
let sender: LoadedIdentity;
let receiver: LoadedIdentity;
beforeAll(async () => {
  world = await makePipelineWorld([
    { name: 'orders', send: [DATA, ENTITIES], receive: [] },
    { name: 'billing', send: [], receive: [DATA, ENTITIES] },
  ]);
  directory = await world.directory();
  sender = await world.identity('orders');
  receiver = await world.identity('billing');
});
afterAll(async () => {
  await world?.cleanup();
});

describe('RecordProcessor metrics', () => {
  it('sealpost_opened_total equals the deliveries per topic after a flush (handler failures and duplicates not counted); every open is observed', async () => {
    const cluster = new InMemoryCluster();
    const transport: Transport = createInMemoryTransport({ cluster, clientId: 'rpm' });
    const admin = transport.admin();
    await admin.connect();
    await admin.createTopics([{ topic: DATA }, { topic: ENTITIES }, { topic: DLQ }]);
    await admin.disconnect();
    const registry = new SchemaRegistryClient({
      url: FAKE_REGISTRY_URL,
      fetch: fakeRegistryFetch(),
    });
    const producer = new SealedProducer({
      transport,
      registry,
      crypto: world.crypto,
      clock: systemClock,
      identity: sender,
      directory,
      valueSchemas: { [DATA]: ORDER_SCHEMA, [ENTITIES]: ORDER_SCHEMA },
    });
    await producer.connect();
    const send = async (topic: string, n: number): Promise<ConsumedRecord[]> => {
      const before = cluster.records(topic, 0).length;
      await producer.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({
          key: `k${before + i}`,
          value: { id: `o${before + i}`, cents: 1, note: 'n' },
          entityVersion: 1,
        })),
      });
      return cluster.records(topic, 0).slice(before);
    };
    const promRegistry = new Registry();
    const delivered: string[] = [];
    let throwNext = 0;
    const processor = await realRecordProcessor({
      world,
      directory,
      receiver,
      transport,
      registry,
      groupId: GROUP,
      deadLetterTopic: DLQ,
      consumerOptions: { entityVersionTopics: [ENTITIES] },
      partitions: {
        beforeHandOut: () => undefined,
        belowLoadedMark: () => false,
        writtenBeforeMs: () => systemClock.nowMs(),
      },
      handler: (d) => {
        if (throwNext > 0) {
          throwNext--;
          return Promise.reject(new Error('handler failed (test)'));
        }
        delivered.push(`${d.topic}/${d.offset}`);
        return Promise.resolve();
      },
      metrics: new PipelineMetrics(promRegistry),
    });
    const entry = (topic: string): PartitionEntry =>
      newPartitionEntry({ topic, partition: 0 }, { maxMarkLead: 5000, admit: () => true });
    const data = entry(DATA);
    const entities = entry(ENTITIES);
    const [d0, d1, d2] = await send(DATA, 3);
    const [e0] = await send(ENTITIES, 1);
    const outcomes: string[] = [];
    const run = async (record: ConsumedRecord, e: PartitionEntry): Promise<void> => {
      outcomes.push((await processor.process(record, e)).kind);
    };
    await run(d0!, data);
    throwNext = 1;
    await run(d1!, data); // the handler throws: retried, not counted
    await run(d1!, data);
    await run(e0!, entities); // another topic: what DATA had pending is counted under DATA
    await run(d2!, data);
    await run({ ...d2!, value: Buffer.from(d2!.value!) }, data); // a duplicate: skipped
    processor.flushOpened();
    await producer.close();

    expect(outcomes).toEqual([
      'delivered',
      'retry',
      'delivered',
      'delivered',
      'delivered',
      'skipped',
    ]);
    expect(delivered).toEqual([`${DATA}/0`, `${DATA}/1`, `${ENTITIES}/0`, `${DATA}/2`]);
    expect(await counterValue(promRegistry, 'sealpost_opened_total', { topic: DATA })).toBe(3);
    expect(await counterValue(promRegistry, 'sealpost_opened_total', { topic: ENTITIES })).toBe(1);
    // Six opens, each observed once (the duplicate is found by the opener too).
    const histogram = await promRegistry.getSingleMetricAsString('sealpost_open_seconds');
    expect(histogram).toMatch(/^sealpost_open_seconds_count 6$/m);
    // A second flush adds nothing.
    processor.flushOpened();
    expect(await counterValue(promRegistry, 'sealpost_opened_total')).toBe(4);
  });
});
