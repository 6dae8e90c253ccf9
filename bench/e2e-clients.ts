/**
 * What bench/e2e.ts and its consumer worker (bench/consumer-worker.ts) share: the record, the
 * variants, a counting fetch for the registry client, and the consumer of each variant (plain
 * kafkajs + registry Avro, or a SealedConsumer), built the same way in both processes.
 */
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import kafkajs from 'kafkajs';
import type { Kafka } from 'kafkajs';
import type { CryptoProvider } from '../src/crypto/provider.js';
import type {
  OutgoingRecord,
  ProduceRequest,
  Transport,
  TransportProducer,
} from '../src/kafka/transport.js';
import type { KeyDirectory } from '../src/keys/directory/key-directory.js';
import type { LoadedIdentity } from '../src/keys/identity.js';
import type { Kms } from '../src/keys/kms/kms.js';
import { SuitePolicy } from '../src/keys/suite-policy.js';
import type { PipelineMetrics } from '../src/pipeline/pipeline-metrics.js';
import { SealedConsumer } from '../src/pipeline/sealed-consumer.js';
import { SealedProducer, type OutgoingMessage } from '../src/pipeline/sealed-producer.js';
import type {
  FetchFunction,
  SchemaRegistryClient,
} from '../src/registry/schema-registry-client.js';
import { systemClock } from '../src/runtime/clock.js';
import { ORDER_SCHEMA } from './order-schema.js';

/**
 * The benchmark variants (see bench/e2e.ts). `plain-csr` is a diagnostic baseline outside the main
 * table: plain kafkajs with @kafkajs/confluent-schema-registry. The `-pq` variants seal suite 2
 * (X-Wing, docs/SPEC.md §2.2) instead of suite 1.
 */
export type VariantId =
  'plain' | 'plain-csr' | 'sealed-1' | 'sealed-1-pq' | 'sealed-3' | 'sealed-3-pq' | 'per-message';

/** Whether variant `v` seals suite 2 (X-Wing; docs/SECURITY.md "Post-quantum sealing (suite 2)"). */
export const isSuite2 = (v: VariantId): boolean => v === 'sealed-1-pq' || v === 'sealed-3-pq';

/**
 * The suite policy of variant `v` on `topic`, the same on both sides: `require` for the suite-2
 * variants (the producer seals suite 2, the consumer opens nothing else), none (classical) otherwise.
 */
function suitePolicyFor(v: VariantId, topic: string): { readonly suitePolicy?: SuitePolicy } {
  return isSuite2(v) ? { suitePolicy: new SuitePolicy({ topics: { [topic]: 'require' } }) } : {};
}

/** Consumer fetch wait, the same for every variant (the transport's default). */
export const FETCH_WAIT_MS = 1000;

/**
 * The record: bench/order-schema.ts, as in bench/envelope.ts. `createdAt` carries the scheduled send time
 * in µs for the latency runs; the note is random text, so compression could not flatter the baseline.
 */
export { ORDER_SCHEMA };

/** One record of ORDER_SCHEMA. */
export interface Order {
  id: string;
  customer: string;
  amountCents: number;
  createdAt: number;
  note: string;
}

const NOTE = randomBytes(733).toString('base64').slice(0, 977);

/** Record number `i` (−1 = a warm-up record), created at `createdAtUs`. */
export function order(i: number, createdAtUs: number): Order {
  return {
    id: i < 0 ? 'ord-warmup' : `ord-${String(i).padStart(9, '0')}`,
    customer: 'cust-4711',
    amountCents: 123_456,
    createdAt: createdAtUs,
    note: NOTE,
  };
}

/** The record number inside `o.id` (−1 for a warm-up record). */
export function orderNumber(o: Order): number {
  const n = Number(o.id.slice(4));
  return Number.isInteger(n) ? n : -1;
}

/**
 * Microseconds since the epoch at sub-millisecond resolution: the process's time origin plus its
 * monotonic clock, comparable between processes of the same machine (latency across the worker).
 */
export const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;
let settleCollects = true;
/**
 * Whether settle() forces a full collection (the default; bench/e2e.ts turns it off unless given
 * `--settle`). On Node 20 a forced full collection just before a phase leaves V8's old-generation
 * limit at about twice the live heap, and the sealed consumer's and producers' ArrayBuffer traffic
 * (fetch responses, request buffers), which V8 counts against that limit, then starts a mark-compact
 * every 50–150 ms through the phase: ≈ 10 µs more CPU per sealed record than without the forced
 * collection, mostly on V8's helper threads — a state a running consumer is not in (docs/PERFORMANCE.md,
 * issue 18: the Node 20 single-process finding).
 */
export function setSettleCollects(collects: boolean): void {
  settleCollects = collects;
}

/**
 * Before each measured phase (in both bench processes): a full collection, so no phase pays for the
 * garbage of the one before (the per-message variant leaves a lot) in its CPU time or its pauses —
 * unless turned off with setSettleCollects(false).
 */
export function settle(): void {
  if (settleCollects) fullGc();
}

/** This process's CPU time (user + system), µs. */
export const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/**
 * The main thread's CPU time (user + system), µs, where Node reports it (`process.threadCpuUsage`,
 * Node ≥ 23.9); NaN elsewhere. Against `cpuUs` it separates the JavaScript thread from V8's helper
 * threads (parallel scavenges, concurrent marking and sweeping) and libuv's.
 */
export const mainThreadCpuUs = (): number => {
  const read = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage;
  if (read === undefined) return Number.NaN;
  const u = read.call(process);
  return u.user + u.system;
};

/** HTTP calls of the registry client, counted by route. */
export interface RegistryCallCounter {
  readonly fetch: FetchFunction;
  total(): number;
  byRoute(): ReadonlyMap<string, number>;
}

/** A fetch for SchemaRegistryClient that counts the calls it passes on to `globalThis.fetch`. */
export function countingRegistryFetch(): RegistryCallCounter {
  let total = 0;
  const routes = new Map<string, number>();
  return {
    fetch: (url, init) => {
      total++;
      const path = new URL(url).pathname
        .replace(/\/apis\/ccompat\/v7/, '')
        .replace(/(subjects|config)\/[^/]+/, '$1/{s}')
        .replace(/\/[0-9]+(?=\/|$)/g, '/{n}');
      const route = `${init.method} ${path}`;
      routes.set(route, (routes.get(route) ?? 0) + 1);
      return globalThis.fetch(url, init);
    },
    total: () => total,
    byRoute: () => routes,
  };
}

/** What the plain (unsealed) variants use: a kafkajs client and a registry. */
export interface PlainContext {
  readonly kafka: Kafka;
  readonly registry: SchemaRegistryClient;
  /** The registry URL, for the diagnostic baseline's own client (@kafkajs/confluent-schema-registry). */
  readonly schemaRegistryUrl: string;
}

/** What the plain consumers also need: a run id for their group names. */
export interface PlainConsumerContext extends PlainContext {
  readonly runId: string;
}

/** Everything a variant's consumer needs. */
export interface ConsumerContext extends PlainConsumerContext {
  readonly transport: Transport;
  readonly crypto: CryptoProvider;
  /** The recipient identity (bench-r1). */
  readonly identity: LoadedIdentity;
  readonly directory: KeyDirectory;
  readonly kms: Kms;
  readonly stateTopic: string;
  readonly deadLetterTopic: string;
}

let confluentPackageClient: SchemaRegistry | undefined;
/**
 * The @kafkajs/confluent-schema-registry client of the `plain-csr` baseline — what most kafkajs users
 * run — made once per process (its schema cache is shared by producer and consumer). Its decode is
 * plain avsc: no bounds validation (the hostile-Avro hole our client closes).
 */
export function confluentPackageRegistry(ctx: {
  readonly schemaRegistryUrl: string;
}): SchemaRegistry {
  return (confluentPackageClient ??= new SchemaRegistry({ host: ctx.schemaRegistryUrl }));
}

/**
 * Everything a variant's producer needs. A second transport (another Kafka client behind the port)
 * gets its rows by passing its own `transport` here and in the ConsumerContext.
 */
export interface ProducerContext extends PlainContext {
  readonly transport: Transport;
  readonly crypto: CryptoProvider;
  /** The sending identity (bench-producer). */
  readonly identity: LoadedIdentity;
  readonly directory: KeyDirectory;
}

/** Sends batches of orders; resolves when acknowledged. */
export type BatchSender = (orders: readonly Order[]) => Promise<void>;

/** Records handed to the Kafka client and their bytes (key + value + headers, uncompressed). */
export interface WireCount {
  records: number;
  bytes: number;
}

/** A running producer. */
export interface ProducerHandle {
  readonly send: BatchSender;
  /** What this producer has handed to the Kafka client so far (the warm-up record included). */
  readonly wire: Readonly<WireCount>;
  close(): Promise<void>;
}

/** The bytes a record carries on the wire before batch framing and compression. */
function outgoingBytes(r: OutgoingRecord): number {
  let n = (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers ?? []) n += Buffer.byteLength(h.key) + (h.value?.length ?? 0);
  return n;
}

/** `transport`, with every record its producers send counted into `wire`. */
function countingTransport(transport: Transport, wire: WireCount): Transport {
  const count = (requests: readonly ProduceRequest[]): void => {
    for (const q of requests)
      for (const r of q.records) {
        wire.records++;
        wire.bytes += outgoingBytes(r);
      }
  };
  return {
    producer: (options) => {
      const p: TransportProducer = transport.producer(options);
      return {
        connect: () => p.connect(),
        send: (request) => {
          count([request]);
          return p.send(request);
        },
        sendBatch: (requests) => {
          count(requests);
          return p.sendBatch(requests);
        },
        partitionFor: (topic, key) => p.partitionFor(topic, key),
        partitions: (topic, options) => p.partitions(topic, options),
        disconnect: () => p.disconnect(),
      };
    },
    consumer: (options) => transport.consumer(options),
    admin: () => transport.admin(),
  };
}

/**
 * Starts a plain producer on `topic`: kafkajs with the registry client (`plain`) or with
 * @kafkajs/confluent-schema-registry (`plain-csr`); partition 0, acks=all, idempotent, no compression.
 */
export async function startPlainProducer(
  ctx: PlainContext,
  v: 'plain' | 'plain-csr',
  topic: string,
): Promise<ProducerHandle> {
  const wire: WireCount = { records: 0, bytes: 0 };
  let encode: (o: Order) => Promise<Buffer>;
  if (v === 'plain') {
    const schemaId = await ctx.registry.register(`${topic}-value`, ORDER_SCHEMA);
    encode = (o) => ctx.registry.encode(schemaId, o);
  } else {
    const csr = confluentPackageRegistry(ctx);
    const { id } = await csr.register(
      { type: SchemaType.AVRO, schema: ORDER_SCHEMA },
      { subject: `${topic}-value` },
    );
    encode = (o) => csr.encode(id, o);
  }
  const producer = ctx.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  return {
    send: async (orders) => {
      const messages = [];
      for (const o of orders) {
        const value = await encode(o);
        wire.records++;
        wire.bytes += Buffer.byteLength(o.id) + value.length;
        messages.push({ partition: 0, key: o.id, value });
      }
      await producer.send({
        topic,
        acks: -1,
        compression: kafkajs.CompressionTypes.None,
        messages,
      });
    },
    wire,
    close: () => producer.disconnect(),
  };
}

/**
 * Starts the producer of variant `v` on `topic`: plain kafkajs with the registry client (or the
 * @kafkajs/confluent-schema-registry one), or a SealedProducer over `ctx.transport`; records go to
 * partition 0, acks=all, idempotent, no compression.
 */
export async function startVariantProducer(
  ctx: ProducerContext,
  v: VariantId,
  topic: string,
  metrics: PipelineMetrics | undefined,
): Promise<ProducerHandle> {
  if (v === 'plain' || v === 'plain-csr') return startPlainProducer(ctx, v, topic);
  const wire: WireCount = { records: 0, bytes: 0 };
  const producer = new SealedProducer({
    transport: countingTransport(ctx.transport, wire),
    registry: ctx.registry,
    crypto: ctx.crypto,
    clock: systemClock,
    identity: ctx.identity,
    directory: ctx.directory,
    valueSchemas: { [topic]: ORDER_SCHEMA },
    producerOptions: { compression: 'none' },
    ...(metrics === undefined ? {} : { metrics }),
    ...(v === 'per-message' ? { maxMessagesPerSession: 1, signEveryMessage: true } : {}),
    ...suitePolicyFor(v, topic),
  });
  await producer.connect();
  const recipients =
    v === 'sealed-3' || v === 'sealed-3-pq' ? ['bench-r1', 'bench-r2', 'bench-r3'] : ['bench-r1'];
  return {
    send: async (orders) => {
      const messages: OutgoingMessage[] = orders.map((o) => ({ key: o.id, value: o }));
      await producer.send({ topic, recipients, messages });
    },
    wire,
    close: () => producer.close(),
  };
}

/** A running consumer. */
export interface ConsumerHandle {
  close(): Promise<void>;
}

/**
 * Starts a plain kafkajs consumer of `topic` from the beginning with a fresh group, decoding with the
 * registry client (`plain`) or @kafkajs/confluent-schema-registry (`plain-csr`); `onOrder` is called
 * for every decoded record.
 */
export async function startPlainConsumer(
  ctx: PlainConsumerContext,
  v: 'plain' | 'plain-csr',
  topic: string,
  onOrder: (o: Order) => void,
): Promise<ConsumerHandle> {
  const groupId = `bench-${ctx.runId}-${v}-${randomBytes(3).toString('hex')}`;
  const decode =
    v === 'plain'
      ? async (value: Buffer) => (await ctx.registry.decode(value)).value
      : (value: Buffer) => confluentPackageRegistry(ctx).decode(value);
  const consumer = ctx.kafka.consumer({
    groupId,
    maxWaitTimeInMs: FETCH_WAIT_MS,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async (payload) => {
      for (const m of payload.batch.messages) {
        onOrder((await decode(m.value!)) as Order);
        payload.resolveOffset(m.offset);
      }
      await payload.heartbeat();
    },
  });
  return { close: () => consumer.disconnect() };
}

/**
 * Starts the consumer of variant `v` on `topic` from the beginning with a fresh group; `onOrder` is
 * called for every decoded record (after open and Avro decode).
 */
export async function startVariantConsumer(
  ctx: ConsumerContext,
  v: VariantId,
  topic: string,
  metrics: PipelineMetrics | undefined,
  onOrder: (o: Order) => void,
  overrides: { readonly commitEveryRecords?: number } = {},
): Promise<ConsumerHandle> {
  if (v === 'plain' || v === 'plain-csr') return startPlainConsumer(ctx, v, topic, onOrder);
  const groupId = `bench-${ctx.runId}-${v}-${randomBytes(3).toString('hex')}`;
  const consumer = new SealedConsumer({
    transport: ctx.transport,
    groupId,
    topics: [topic],
    registry: ctx.registry,
    crypto: ctx.crypto,
    clock: systemClock,
    identity: ctx.identity,
    directory: ctx.directory,
    kms: ctx.kms,
    stateTopic: ctx.stateTopic,
    deadLetterTopic: ctx.deadLetterTopic,
    deadLetterDetailRecipients: ['bench-r2'],
    fromBeginning: true,
    ...(metrics === undefined ? {} : { metrics }),
    consumerOptions: { maxWaitTimeMs: FETCH_WAIT_MS },
    ...suitePolicyFor(v, topic),
    ...overrides,
    // A fresh session per message means a header open per record: the default admission rate
    // (200 header opens/s per partition) would cap this variant, so it is lifted here.
    ...(v === 'per-message'
      ? {
          admission: {
            partition: { perSecond: 1e6, burst: 1e6 },
            global: { perSecond: 1e6, burst: 1e6 },
          },
        }
      : {}),
  });
  await consumer.run({
    eachMessage: (d) => {
      onOrder(d.value as Order);
      return Promise.resolve();
    },
  });
  return { close: () => consumer.close() };
}
