/**
 * The in-memory side of the consumer unit tests that run the real SealedProducer and SealedConsumer
 * (test/unit/pipeline/consumer/sealed-consumer-*.test.ts): a cluster with the data, replay-state and
 * dead-letter topics, the model tests' registry fake (test/model/registry-fake.ts), and orders sealed
 * onto the data topic by a real SealedProducer.
 */
import { InMemoryCluster, type CommitLogEntry } from '../../src/kafka/in-memory/cluster.js';
import { createInMemoryTransport } from '../../src/kafka/in-memory-transport.js';
import type { KeyDirectory } from '../../src/keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../src/keys/identity.js';
import { SealedProducer, type SentMessage } from '../../src/pipeline/sealed-producer.js';
import { SchemaRegistryClient } from '../../src/registry/schema-registry-client.js';
import { systemClock } from '../../src/runtime/clock.js';
import { FAKE_REGISTRY_URL, fakeRegistryFetch } from '../model/registry-fake.js';
import {
  makePipelineWorld,
  ORDER_SCHEMA,
  type Order,
  type PipelineWorld,
} from './pipeline-world.js';

/** The topics of one test. */
export interface OrderTopics {
  readonly data: string;
  readonly state: string;
  readonly dlq: string;
}

/** A cluster with `topics` made, and registry clients sharing one fake registry. */
export interface OrdersCluster {
  readonly cluster: InMemoryCluster;
  readonly registry: () => SchemaRegistryClient;
}

/** Makes the cluster and its topics; `onCommit` sees every commit (of any topic). */
export async function ordersCluster(
  topics: OrderTopics,
  onCommit: (entry: CommitLogEntry) => void,
): Promise<OrdersCluster> {
  const cluster = new InMemoryCluster({ onCommit });
  const fetch = fakeRegistryFetch();
  await createInMemoryTransport({ cluster, clientId: 'admin' })
    .admin()
    .createTopics([
      { topic: topics.data, numPartitions: 1 },
      { topic: topics.state, compacted: true },
      { topic: topics.dlq },
    ]);
  return { cluster, registry: () => new SchemaRegistryClient({ url: FAKE_REGISTRY_URL, fetch }) };
}

/** Seals `messages` onto `topic` with a real SealedProducer of `sender`, then closes it. */
export async function sendSealedOrders(
  on: OrdersCluster,
  parties: {
    readonly world: PipelineWorld;
    readonly sender: LoadedIdentity;
    readonly directory: KeyDirectory;
  },
  topic: string,
  messages: readonly { readonly key: string | null; readonly value: Order }[],
): Promise<SentMessage[]> {
  const producer = new SealedProducer({
    transport: createInMemoryTransport({ cluster: on.cluster, clientId: 'producer' }),
    registry: on.registry(),
    crypto: parties.world.crypto,
    clock: systemClock,
    identity: parties.sender,
    directory: parties.directory,
    valueSchemas: { [topic]: ORDER_SCHEMA },
  });
  await producer.connect();
  try {
    return await producer.send({ topic, messages: [...messages] });
  } finally {
    await producer.close();
  }
}

/** The two parties of these tests: `orders` seals onto the data topic, `billing` receives it. */
export interface OrdersParties {
  readonly world: PipelineWorld;
  readonly directory: KeyDirectory;
  readonly sender: LoadedIdentity;
  readonly receiver: LoadedIdentity;
}

/** Makes the parties for the data topic `data` (call `world.cleanup()` after the tests). */
export async function makeOrdersParties(data: string): Promise<OrdersParties> {
  const world = await makePipelineWorld([
    { name: 'orders', send: [data], receive: [] },
    { name: 'billing', send: [], receive: [data] },
  ]);
  return {
    world,
    directory: await world.directory(),
    sender: await world.identity('orders'),
    receiver: await world.identity('billing'),
  };
}
