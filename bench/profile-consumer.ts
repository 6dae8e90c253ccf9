/**
 * Where the sealed consumer's time goes: fills a topic with N sealed records (session mode, 1
 * recipient, the record of bench/e2e.ts), then consumes them with a SealedConsumer while the V8 CPU
 * profiler records only the consuming phase. Writes the profile (open it in Chrome DevTools) and
 * prints self time by function and by file.
 *
 *   npx tsx bench/profile-consumer.ts [--messages 20000] [--side consumer|producer] [--out /tmp/x.cpuprofile]
 *     [--commit-every 500] (the consumer's commitEveryRecords)
 *
 * `--side producer` profiles the sending phase instead.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Profiler } from 'node:inspector';
import { Session } from 'node:inspector/promises';
// Before kafkajs: the transport replaces kafkajs modules kafkajs loads with its index (its grouping
// and request framing); importing kafkajs first would keep kafkajs' own.
import '../src/kafka/kafkajs-transport.js';
import kafkajs from 'kafkajs';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createKafkajsTransport } from '../src/kafka/kafkajs-transport.js';
import type {
  ProduceRequest,
  Transport,
  TransportConsumer,
  TransportProducer,
} from '../src/kafka/transport.js';
import { loadIdentity } from '../src/keys/identity-file.js';
import { PipelineMetrics } from '../src/pipeline/pipeline-metrics.js';
import { SealedConsumer } from '../src/pipeline/sealed-consumer.js';
import { SealedProducer } from '../src/pipeline/sealed-producer.js';
import { SchemaRegistryClient } from '../src/registry/schema-registry-client.js';
import { systemClock } from '../src/runtime/clock.js';
import { getEndpoints } from '../test/support/endpoints.js';
import { makePipelineWorld } from '../test/support/pipeline-world.js';
import { ORDER_SCHEMA } from './order-schema.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const MESSAGES = Number(opt('messages', '20000'));
const SIDE = opt('side', 'consumer');
const OUT = opt('out', `/tmp/sealpost-${SIDE}.cpuprofile`);
const COMMIT_EVERY = Number(opt('commit-every', '500'));

const SCHEMA = ORDER_SCHEMA;
const NOTE = randomBytes(733).toString('base64').slice(0, 977);

const e = getEndpoints();
const world = await makePipelineWorld([
  { name: 'bench-producer', send: ['bench-*'], receive: [] },
  { name: 'bench-r1', send: ['bench-*'], receive: ['bench-*'] },
]);
const registry = new SchemaRegistryClient({ url: e.schemaRegistryUrl, fetch: globalThis.fetch });
const baseTransport = createKafkajsTransport({
  brokers: e.kafkaBrokers,
  clientId: 'bench-profile',
  logger: pino({ level: 'silent' }),
  nowMs: () => Date.now(),
});

/** Wall-clock time the consumer spends awaiting the broker outside fetches, by call. */
const io = new Map<string, { calls: number; ms: number }>();
async function timed<T>(what: string, call: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await call();
  } finally {
    const e = io.get(what) ?? { calls: 0, ms: 0 };
    e.calls++;
    e.ms += performance.now() - t0;
    io.set(what, e);
  }
}
/** The transport, with the consumer side's produce (replay state, dead letters) and commit calls timed. */
const transport: Transport = {
  admin: () => baseTransport.admin(),
  producer: (o) => {
    const p = baseTransport.producer(o);
    return Object.assign(Object.create(p) as TransportProducer, {
      connect: () => p.connect(),
      disconnect: () => p.disconnect(),
      partitions: (t: string, x?: { readonly refresh?: boolean }) => p.partitions(t, x),
      partitionFor: (t: string, k: Buffer | null) => p.partitionFor(t, k),
      send: (r: ProduceRequest) =>
        timed(
          `produce to ${r.topic.endsWith('-state') ? 'state topic' : r.topic.endsWith('-dlq') ? 'dead-letter topic' : 'data topic'}`,
          () => p.send(r),
        ),
      sendBatch: (r: readonly ProduceRequest[]) =>
        timed(
          `produce batch to ${r[0]?.topic.endsWith('-state') ? 'state topic' : 'data topic'}`,
          () => p.sendBatch(r),
        ),
    });
  },
  consumer: (o) => {
    const c = baseTransport.consumer(o);
    return Object.assign(Object.create(c) as TransportConsumer, {
      connect: () => c.connect(),
      disconnect: () => c.disconnect(),
      subscribe: (x: Parameters<TransportConsumer['subscribe']>[0]) => c.subscribe(x),
      run: (x: Parameters<TransportConsumer['run']>[0]) => c.run(x),
      commitOffsets: (x: Parameters<TransportConsumer['commitOffsets']>[0]) =>
        timed('commitOffsets', () => c.commitOffsets(x)),
      pause: (...a: Parameters<TransportConsumer['pause']>) => c.pause(...a),
      resume: (...a: Parameters<TransportConsumer['resume']>) => c.resume(...a),
      paused: () => c.paused(),
      seek: (...a: Parameters<TransportConsumer['seek']>) => c.seek(...a),
      onAssignment: (...a: Parameters<TransportConsumer['onAssignment']>) => c.onAssignment(...a),
      onRebalancing: (...a: Parameters<TransportConsumer['onRebalancing']>) =>
        c.onRebalancing(...a),
      onCrash: (...a: Parameters<TransportConsumer['onCrash']>) => c.onCrash(...a),
    });
  },
};
const kafka = new kafkajs.Kafka({
  clientId: 'bench-profile-admin',
  brokers: [...e.kafkaBrokers],
  logLevel: kafkajs.logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();
const id = randomBytes(3).toString('hex');
const topic = `bench-profile-${id}`;
const state = `bench-profile-${id}-state`;
const dlq = `bench-profile-${id}-dlq`;
await admin.createTopics({
  waitForLeaders: true,
  topics: [
    { topic, numPartitions: 1, replicationFactor: 1 },
    { topic: dlq, numPartitions: 1, replicationFactor: 1 },
    {
      topic: state,
      numPartitions: 1,
      replicationFactor: 1,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    },
  ],
});

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });

const producerIdentity = await loadIdentity(world.files.get('bench-producer')!, {
  crypto: world.crypto,
  kms: world.kms,
});
const producer = new SealedProducer({
  transport,
  registry,
  crypto: world.crypto,
  clock: systemClock,
  identity: producerIdentity,
  directory: await world.directory(),
  valueSchemas: { [topic]: SCHEMA },
  producerOptions: { compression: 'none' },
  metrics: new PipelineMetrics(new Registry()),
});
await producer.connect();
await producer.send({
  topic,
  recipients: ['bench-r1'],
  messages: [
    { key: 'warm', value: { id: 'warm', customer: 'c', amountCents: 1, createdAt: 0, note: NOTE } },
  ],
});
if (SIDE === 'producer') await session.post('Profiler.start');
let t0 = performance.now();
for (let i = 0; i < MESSAGES; i += 500) {
  const messages = [];
  for (let k = i; k < Math.min(MESSAGES, i + 500); k++)
    messages.push({
      key: `ord-${k}`,
      value: {
        id: `ord-${k}`,
        customer: 'cust-4711',
        amountCents: 123_456,
        createdAt: k,
        note: NOTE,
      },
    });
  await producer.send({ topic, recipients: ['bench-r1'], messages });
}
console.log(
  `produced ${MESSAGES} in ${((performance.now() - t0) / 1000).toFixed(2)} s (${Math.round(MESSAGES / ((performance.now() - t0) / 1000))}/s, one batch in flight)`,
);
if (SIDE === 'producer') writeProfile((await session.post('Profiler.stop')).profile);
await producer.close();

let count = 0;
let first = 0;
let last = 0;
const total = MESSAGES + 1;
const consumerIdentity = await loadIdentity(world.files.get('bench-r1')!, {
  crypto: world.crypto,
  kms: world.kms,
});
const consumer = new SealedConsumer({
  transport,
  groupId: `bench-profile-${id}`,
  topics: [topic],
  registry,
  crypto: world.crypto,
  clock: systemClock,
  identity: consumerIdentity,
  directory: await world.directory(),
  kms: world.kms,
  stateTopic: state,
  deadLetterTopic: dlq,
  deadLetterDetailRecipients: ['bench-r1'],
  fromBeginning: true,
  metrics: new PipelineMetrics(new Registry()),
  consumerOptions: { maxWaitTimeMs: 1000 },
  commitEveryRecords: COMMIT_EVERY,
});
io.clear();
if (SIDE === 'consumer') await session.post('Profiler.start');
t0 = performance.now();
await consumer.run({
  eachMessage: () => {
    const t = performance.now();
    if (count === 0) first = t;
    if (++count === total) last = t;
    return Promise.resolve();
  },
});
while (count < total) await new Promise((r) => setTimeout(r, 5));
console.log(
  `consumer-side broker calls: ${[...io].map(([k, v]) => `${k}: ${v.calls} calls, ${v.ms.toFixed(0)} ms (${(v.ms / v.calls).toFixed(1)} ms each)`).join('; ')}`,
);
console.log(
  `consumed ${total} in ${((last - first) / 1000).toFixed(2)} s from first to last (${Math.round((total - 1) / ((last - first) / 1000))}/s); ${((first - t0) / 1000).toFixed(2)} s to the first`,
);
if (SIDE === 'consumer') writeProfile((await session.post('Profiler.stop')).profile);
await consumer.close();
await admin.deleteTopics({ topics: [topic, state, dlq] });
await admin.disconnect();
producerIdentity.close();
consumerIdentity.close();
await world.cleanup();

/** Writes the profile and prints self time by function and by file (top entries). */
function writeProfile(profile: Profiler.Profile): void {
  writeFileSync(OUT, JSON.stringify(profile));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const deltas = profile.timeDeltas ?? [];
  (profile.samples ?? []).forEach((s, i) => selfUs.set(s, (selfUs.get(s) ?? 0) + (deltas[i] ?? 0)));
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [nodeId, us] of selfUs) {
    const f = byId.get(nodeId)!.callFrame;
    const file =
      f.url.replace(/^file:\/\/\/work\/main\//, '').replace(/^.*node_modules\//, 'node_modules/') ||
      '(native/vm)';
    const fn = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    const group = file.startsWith('node_modules/') ? file.split('/').slice(0, 2).join('/') : file;
    byFile.set(group, (byFile.get(group) ?? 0) + us);
  }
  const top = (m: Map<string, number>, n: number): string =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([k, us]) =>
          `${((100 * us) / totalUs).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`,
      )
      .join('\n');
  console.log(
    `\nprofile ${OUT}: ${(totalUs / 1000).toFixed(0)} ms sampled\n\nself time by file/package:\n${top(byFile, 25)}\n\nself time by function:\n${top(byFn, 40)}`,
  );
}
