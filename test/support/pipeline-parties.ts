/** Producer and consumer builders shared by the pipeline integration tests. */
import type { Registry } from 'prom-client';
import type { ConsumedRecord, Transport } from '../../src/kafka/transport.js';
import type { KeyDirectory } from '../../src/keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../src/keys/identity.js';
import type { PipelineMetrics } from '../../src/pipeline/pipeline-metrics.js';
import {
  SealedConsumer,
  type SealedConsumerOptions,
  type SealedDelivery,
} from '../../src/pipeline/sealed-consumer.js';
import { SealedProducer, type SealedProducerOptions } from '../../src/pipeline/sealed-producer.js';
import type { SchemaRegistryClient } from '../../src/registry/schema-registry-client.js';
import { systemClock } from '../../src/runtime/clock.js';
import type { PipelineWorld } from './pipeline-world.js';

export interface TestProducer {
  readonly producer: SealedProducer;
  readonly identity: LoadedIdentity;
  readonly directory: KeyDirectory;
}

export async function startProducer(
  world: PipelineWorld,
  transport: Transport,
  name: string,
  extra: Partial<SealedProducerOptions> = {},
): Promise<TestProducer> {
  const identity = await world.identity(name);
  const directory = await world.directory();
  const producer = new SealedProducer({
    transport,
    registry: world.registry(),
    crypto: world.crypto,
    clock: systemClock,
    identity,
    directory,
    ...extra,
  });
  await producer.connect();
  return { producer, identity, directory };
}

export interface TestConsumer {
  readonly consumer: SealedConsumer;
  readonly identity: LoadedIdentity;
  readonly directory: KeyDirectory;
  /** messageId → deliveries. */
  readonly delivered: Map<string, number>;
  readonly deliveries: SealedDelivery[];
  readonly promRegistry: Registry;
  readonly metrics: PipelineMetrics;
  total(): number;
}

export async function startConsumer(
  world: PipelineWorld,
  transport: Transport,
  name: string,
  options: {
    groupId: string;
    topics: readonly string[];
    stateTopic: string;
    deadLetterTopic: string;
    registry?: SchemaRegistryClient;
    keepDeliveries?: boolean;
    onMessage?: (d: SealedDelivery) => Promise<void>;
  } & Partial<SealedConsumerOptions>,
): Promise<TestConsumer> {
  const identity = await world.identity(name);
  const directory = await world.directory();
  const { registry: promRegistry, metrics } = world.metrics();
  const { keepDeliveries, onMessage, registry, ...rest } = options;
  const consumer = new SealedConsumer({
    transport,
    registry: registry ?? world.registry(),
    crypto: world.crypto,
    clock: systemClock,
    identity,
    directory,
    kms: world.kms,
    fromBeginning: true,
    metrics,
    consumerOptions: { retryInitialDelayMs: 100, retryMaxDelayMs: 2000 },
    ...rest,
  });
  const delivered = new Map<string, number>();
  const deliveries: SealedDelivery[] = [];
  let total = 0;
  await consumer.run({
    eachMessage: async (d) => {
      if (onMessage !== undefined) await onMessage(d);
      delivered.set(d.messageId, (delivered.get(d.messageId) ?? 0) + 1);
      total++;
      if (keepDeliveries === true) deliveries.push(d);
    },
  });
  return {
    consumer,
    identity,
    directory,
    delivered,
    deliveries,
    promRegistry,
    metrics,
    total: () => total,
  };
}

/** Reads `count` raw records of `topic` from the beginning with a throwaway group. */
export async function readRaw(
  transport: Transport,
  topic: string,
  count: number,
  timeoutMs = 60_000,
): Promise<ConsumedRecord[]> {
  const out: ConsumedRecord[] = [];
  const consumer = transport.consumer({
    groupId: `raw-${topic}-${Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(4))).toString('hex')}`,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachBatch: (batch, control) => {
        for (const r of batch.records) {
          out.push(r);
          control.resolveOffset(r.offset);
        }
        return Promise.resolve();
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (out.length < count && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
  } finally {
    await consumer.disconnect();
  }
  if (out.length < count) throw new Error(`read ${out.length} of ${count} records of ${topic}`);
  return out;
}
