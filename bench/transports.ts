/**
 * `npm run bench:transports` (and the last step of `npm run bench`) — the two Kafka clients behind
 * sealpost's Transport port, in one run (issue 18; docs/TRANSPORTS.md):
 *
 *   plain kafkajs         kafkajs' producer and consumer + Schema Registry Avro in this process,
 *                         where sealpost's kafkajs transport has replaced some kafkajs modules: the
 *                         `plain` baseline of bench/e2e.ts, what an application using sealpost gets
 *                         on its unsealed topics;
 *   plain kafkajs as it ships  the same plain client in its own process, on kafkajs without the
 *                         module replacements sealpost's kafkajs transport makes in this process
 *                         (bench/stock-kafkajs-worker.ts; CPU is that process's);
 *   plain platformatic    @platformatic/kafka's own Producer and Consumer stream + the same Avro;
 *   sealed kafkajs        SealedProducer/SealedConsumer (session mode, 1 recipient) on the kafkajs
 *                         adapter;
 *   sealed platformatic   the same on the @platformatic/kafka adapter.
 *
 * Interleaved round by round (the five variants in turn, the order rotated every round) so machine
 * drift hits all alike; medians over the rounds. Same broker, one partition, replication 1, acks=all,
 * idempotent producers with one request in flight, no compression, the same 1 KiB Avro record as
 * bench/e2e.ts, 500 records per send with 2 sends in flight, consumer fetch wait 1 s.
 *   producer  N records sent as fast as acknowledged (encode [+ seal] + send);
 *   consumer  the same N records read by a fresh group, from the first record handed out to the last.
 * Each with this process's CPU time per record (user + system) beside the wall-clock rate. The
 * machine may be shared: the load average at start and end is printed with the table.
 *
 * Options: --rounds R (3), --messages N (20000), --quick (1 round, 5000 messages), --json FILE
 * (also write the medians as JSON).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { Consumer as PltConsumer, Producer as PltProducer } from '@platformatic/kafka';
// Before kafkajs: the transport replaces kafkajs modules kafkajs loads with its index (its grouping
// and request framing); importing kafkajs first would keep kafkajs' own.
import '../src/kafka/kafkajs-transport.js';
import kafkajs from 'kafkajs';
import pino from 'pino';
import { createKafkajsTransport } from '../src/kafka/kafkajs-transport.js';
import { platformaticNodeProblem } from '../src/kafka/platformatic-node-version.js';
import { createPlatformaticTransport } from '../src/kafka/platformatic-transport.js';
import type { Transport } from '../src/kafka/transport.js';
import { loadIdentity } from '../src/keys/identity-file.js';
import type { LoadedIdentity } from '../src/keys/identity.js';
import { SealedProducer, type OutgoingMessage } from '../src/pipeline/sealed-producer.js';
import { SchemaRegistryClient } from '../src/registry/schema-registry-client.js';
import { systemClock } from '../src/runtime/clock.js';
import { getEndpoints } from '../test/support/endpoints.js';
import { makePipelineWorld } from '../test/support/pipeline-world.js';
import {
  cpuUs,
  FETCH_WAIT_MS,
  nowUs,
  order,
  ORDER_SCHEMA,
  settle,
  startVariantConsumer,
  type ConsumerContext,
  type ConsumerHandle,
  type Order,
} from './e2e-clients.js';
import { sendInBatches } from './send-loop.js';
import { startStockKafkajsWorker } from './stock-kafkajs-client.js';

const { Kafka, CompressionTypes, logLevel } = kafkajs;

// @platformatic/kafka needs Node >= 22.22 or >= 24.6: on an older Node, say so and leave `npm run
// bench` green (bench/e2e.ts has run by then).
const unsupported = platformaticNodeProblem();
if (unsupported !== undefined) {
  console.log(
    `bench/transports.ts: not run: ${unsupported}. On Node 24: source scripts/use-node.sh 24 && npm run bench:transports`,
  );
  process.exit(0);
}

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const num = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
};
const QUICK = flag('quick');
const ROUNDS = num('rounds', QUICK ? 1 : 3);
const MESSAGES = num('messages', QUICK ? 5000 : 20_000);
const JSON_OUT = ((): string | undefined => {
  const i = argv.indexOf('--json');
  return i >= 0 ? argv[i + 1] : undefined;
})();
const BATCH = 500;
const IN_FLIGHT = 2;

const started = performance.now();
const loadAtStart = os.loadavg();
const log = (msg: string): void =>
  console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

// ---------------------------------------------------------------------------------------------------
// Setup

const endpoints = getEndpoints();
const quiet = pino({ level: 'silent' });
const runId = randomBytes(3).toString('hex');
const topicName = (what: string): string => `bench-tr-${runId}-${what}`;
const brokers = [...endpoints.kafkaBrokers];

const world = await makePipelineWorld([
  { name: 'bench-producer', send: ['bench-*'], receive: [] },
  { name: 'bench-r1', send: ['bench-*'], receive: ['bench-*'] },
  { name: 'bench-r2', send: [], receive: ['bench-*'] },
]);
const registry = new SchemaRegistryClient({
  url: endpoints.schemaRegistryUrl,
  fetch: globalThis.fetch,
  requestTimeoutMs: 10_000,
});
const identities = new Map<string, LoadedIdentity>();
for (const name of ['bench-producer', 'bench-r1'])
  identities.set(
    name,
    await loadIdentity(world.files.get(name)!, { crypto: world.crypto, kms: world.kms }),
  );
const directory = await world.directory();

const kafka = new Kafka({ clientId: 'bench-tr-plain', brokers, logLevel: logLevel.NOTHING });
const transports: Record<Client, Transport> = {
  kafkajs: createKafkajsTransport({
    brokers,
    clientId: 'bench-tr-sealed',
    logger: quiet,
    nowMs: () => Date.now(),
  }),
  platformatic: createPlatformaticTransport({
    brokers,
    clientId: 'bench-tr-sealed',
    logger: quiet,
    nowMs: () => Date.now(),
  }),
};
const admin = transports.kafkajs.admin();
await admin.connect();
const createdTopics: string[] = [];
async function createTopic(topic: string, compacted = false): Promise<void> {
  await admin.createTopics([{ topic, numPartitions: 1, replicationFactor: 1, compacted }]);
  createdTopics.push(topic);
}
const STATE_TOPIC = topicName('state');
const DLQ_TOPIC = topicName('dlq');
await createTopic(STATE_TOPIC, true);
await createTopic(DLQ_TOPIC);

type Client = 'kafkajs' | 'platformatic';
interface Variant {
  readonly id: string;
  readonly client: Client;
  readonly sealed: boolean;
  /** Run in the stock-kafkajs worker: kafkajs as it ships (bench/stock-kafkajs-client.ts). */
  readonly stock?: boolean;
}
const VARIANTS: readonly Variant[] = [
  { id: 'plain kafkajs', client: 'kafkajs', sealed: false },
  { id: 'plain kafkajs as it ships', client: 'kafkajs', sealed: false, stock: true },
  { id: 'plain platformatic', client: 'platformatic', sealed: false },
  { id: 'sealed kafkajs', client: 'kafkajs', sealed: true },
  { id: 'sealed platformatic', client: 'platformatic', sealed: true },
];

// ---------------------------------------------------------------------------------------------------
// Clients of each variant

interface ProducerHandle {
  send(orders: readonly Order[]): Promise<void>;
  close(): Promise<void>;
}

async function startProducer(v: Variant, topic: string): Promise<ProducerHandle> {
  if (v.sealed) {
    const producer = new SealedProducer({
      transport: transports[v.client],
      registry,
      crypto: world.crypto,
      clock: systemClock,
      identity: identities.get('bench-producer')!,
      directory,
      valueSchemas: { [topic]: ORDER_SCHEMA },
      producerOptions: { compression: 'none' },
    });
    await producer.connect();
    return {
      send: async (orders) => {
        const messages: OutgoingMessage[] = orders.map((o) => ({ key: o.id, value: o }));
        await producer.send({ topic, recipients: ['bench-r1'], messages });
      },
      close: () => producer.close(),
    };
  }
  const schemaId = await registry.register(`${topic}-value`, ORDER_SCHEMA);
  if (v.client === 'kafkajs') {
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    return {
      send: async (orders) => {
        const messages = [];
        for (const o of orders)
          messages.push({ partition: 0, key: o.id, value: await registry.encode(schemaId, o) });
        await producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages });
      },
      close: () => producer.disconnect(),
    };
  }
  const producer = new PltProducer({
    clientId: 'bench-tr-plain',
    bootstrapBrokers: brokers,
    idempotent: true,
    acks: -1,
    compression: 'none',
    autocreateTopics: false,
  });
  return {
    send: async (orders) => {
      const messages = [];
      for (const o of orders) {
        messages.push({
          topic,
          partition: 0,
          key: Buffer.from(o.id),
          value: await registry.encode(schemaId, o),
        });
      }
      await producer.send({ messages });
    },
    close: () => producer.close(),
  };
}

const consumerContext = (client: Client): ConsumerContext => ({
  kafka,
  transport: transports[client],
  registry,
  crypto: world.crypto,
  identity: identities.get('bench-r1')!,
  directory,
  kms: world.kms,
  stateTopic: STATE_TOPIC,
  deadLetterTopic: DLQ_TOPIC,
  runId,
  schemaRegistryUrl: endpoints.schemaRegistryUrl,
});

async function startConsumer(
  v: Variant,
  topic: string,
  onOrder: (o: Order) => void,
): Promise<ConsumerHandle> {
  const ctx = consumerContext(v.client);
  if (v.sealed) return startVariantConsumer(ctx, 'sealed-1', topic, undefined, onOrder);
  if (v.client === 'kafkajs') return startVariantConsumer(ctx, 'plain', topic, undefined, onOrder);
  // @platformatic/kafka's own consuming API: a stream of records, autocommit as kafkajs's default.
  const consumer = new PltConsumer({
    clientId: 'bench-tr-plain',
    bootstrapBrokers: brokers,
    groupId: `bench-tr-${runId}-plain-plt-${randomBytes(3).toString('hex')}`,
    maxWaitTime: FETCH_WAIT_MS,
  });
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: 5000 });
  let chain = Promise.resolve();
  stream.on('data', (m) => {
    const value = m.value;
    chain = chain.then(async () => onOrder((await registry.decode(value)).value as Order));
  });
  return {
    close: async () => {
      await stream.close();
      await consumer.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Measurements

interface Throughput {
  readonly perSecond: number;
  readonly cpuUsPerRecord: number;
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function produceThroughput(v: Variant, topic: string): Promise<Throughput> {
  const p = await startProducer(v, topic);
  try {
    await p.send([order(-1, nowUs())]); // warm-up: metadata, schema, first session
    settle();
    const t0 = performance.now();
    const c0 = cpuUs();
    await sendInBatches(MESSAGES, BATCH, IN_FLIGHT, (from, count) => {
      const orders: Order[] = [];
      for (let k = from; k < from + count; k++) orders.push(order(k, nowUs()));
      return p.send(orders);
    });
    return {
      perSecond: MESSAGES / ((performance.now() - t0) / 1000),
      cpuUsPerRecord: (cpuUs() - c0) / MESSAGES,
    };
  } finally {
    await p.close();
  }
}

async function consumeThroughput(v: Variant, topic: string): Promise<Throughput> {
  const total = MESSAGES + 1;
  let count = 0;
  let first = 0;
  let last = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  settle();
  const c = await startConsumer(v, topic, () => {
    const t = performance.now();
    if (count === 0) {
      first = t;
      cpuFirst = cpuUs();
    }
    count++;
    if (count === total) {
      last = t;
      cpuLast = cpuUs();
    }
  });
  try {
    const deadline = performance.now() + 180_000;
    while (count < total && performance.now() < deadline) await sleep(5);
    if (count < total) {
      log(`${v.id}: timed out at ${count} of ${total} records`);
      return { perSecond: Number.NaN, cpuUsPerRecord: Number.NaN };
    }
    return {
      perSecond: (total - 1) / ((last - first) / 1000),
      cpuUsPerRecord: (cpuLast - cpuFirst) / (total - 1),
    };
  } finally {
    await c.close();
  }
}

/** The plain baseline on kafkajs as it ships, in its own process (its CPU is that process's). */
const stockWorker = startStockKafkajsWorker();
const results = new Map<string, { produce: Throughput[]; consume: Throughput[] }>(
  VARIANTS.map((v) => [v.id, { produce: [], consume: [] }]),
);
for (let round = 0; round < ROUNDS; round++) {
  // The order rotates every round, so no variant always runs first (or right after another).
  const order_ = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
  for (const v of order_) {
    const topic = topicName(
      `${v.client}-${v.sealed ? 's' : v.stock === true ? 'k' : 'p'}-${round}`,
    );
    await createTopic(topic);
    const { produce, consume } =
      v.stock === true
        ? await stockWorker.run(
            topic,
            { messages: MESSAGES, batch: BATCH, inFlight: IN_FLIGHT },
            false,
          )
        : {
            produce: await produceThroughput(v, topic),
            consume: await consumeThroughput(v, topic),
          };
    results.get(v.id)!.produce.push(produce);
    results.get(v.id)!.consume.push(consume);
    log(
      `round ${round + 1}/${ROUNDS} ${v.id}: produce ${Math.round(produce.perSecond)}/s ` +
        `(${produce.cpuUsPerRecord.toFixed(1)} µs CPU/record), consume ` +
        `${Math.round(consume.perSecond)}/s (${consume.cpuUsPerRecord.toFixed(1)} µs CPU/record)`,
    );
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (n: number): string =>
  Number.isNaN(n) ? 'n/a' : Math.round(n).toLocaleString('en-US');
const us = (n: number): string => (Number.isNaN(n) ? 'n/a' : n.toFixed(1));
const medians = VARIANTS.map((v) => {
  const r = results.get(v.id)!;
  return {
    variant: v.id,
    produce: median(r.produce.map((x) => x.perSecond)),
    produceCpuUs: median(r.produce.map((x) => x.cpuUsPerRecord)),
    consume: median(r.consume.map((x) => x.perSecond)),
    consumeCpuUs: median(r.consume.map((x) => x.cpuUsPerRecord)),
  };
});
const baseline = medians[0]!;
const stockBaseline = medians[1]!;
const lines = [
  `${ROUNDS} round(s) × ${MESSAGES.toLocaleString('en-US')} records, medians; Node ${process.version}, ` +
    `${os.cpus().length} cores, load average ${loadAtStart[0]!.toFixed(2)} at start, ` +
    `${os.loadavg()[0]!.toFixed(2)} at end.`,
  '',
  '| variant | produce rec/s | CPU µs/rec | vs plain kafkajs | vs as it ships | consume rec/s | CPU µs/rec | vs plain kafkajs | vs as it ships |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...medians.map(
    (m) =>
      `| ${m.variant} | ${fmt(m.produce)} | ${us(m.produceCpuUs)} | ${(m.produce / baseline.produce).toFixed(2)} | ` +
      `${(m.produce / stockBaseline.produce).toFixed(2)} | ${fmt(m.consume)} | ${us(m.consumeCpuUs)} | ` +
      `${(m.consume / baseline.consume).toFixed(2)} | ${(m.consume / stockBaseline.consume).toFixed(2)} |`,
  ),
];
console.log(`\n${lines.join('\n')}\n`);
if (JSON_OUT !== undefined)
  writeFileSync(
    JSON_OUT,
    `${JSON.stringify({ medians, results: Object.fromEntries(results) }, null, 2)}\n`,
  );

await stockWorker.exit();
await admin.deleteTopics(createdTopics).catch(() => undefined);
await admin.disconnect();
await world.cleanup();
process.exit(0);
