import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import kafkajs from 'kafkajs';
import { SchemaRegistryClient } from './src/registry/schema-registry-client.js';
import { ORDER_SCHEMA, order, nowUs } from './bench/e2e-clients.js';
import { getEndpoints } from './test/support/endpoints.js';
const e = getEndpoints();
const ours = new SchemaRegistryClient({ url: e.schemaRegistryUrl, fetch: (u, i) => fetch(u, i), requestTimeoutMs: 10_000 });
const csr = new SchemaRegistry({ host: e.schemaRegistryUrl });
const kafka = new kafkajs.Kafka({ brokers: [...e.kafkaBrokers], logLevel: kafkajs.logLevel.NOTHING });
const admin = kafka.admin(); await admin.connect();
const variant = process.argv[2]!;
const topic = `mb4-${variant}-${Date.now()}`;
await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] }); await admin.disconnect();
const subj = `${topic}-value`;
const enc: (o: object) => Promise<Buffer> = variant === 'ours'
  ? await (async () => { const id = await ours.register(subj, ORDER_SCHEMA); return (o: object) => ours.encode(id, o); })()
  : variant === 'csr' ? await (async () => { const { id } = await csr.register({ type: SchemaType.AVRO, schema: ORDER_SCHEMA }, { subject: subj }); return (o: object) => csr.encode(id, o); })()
  : await (async () => { const id = await ours.register(subj, ORDER_SCHEMA); return async (o: object) => Buffer.from(await ours.encode(id, o)); })();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
await producer.connect();
const N = 40000;
const c0 = process.cpuUsage(); const t0 = performance.now();
for (let i = 0; i < N; i += 500) {
  const messages = [];
  for (let k = i; k < i + 500; k++) { const o = order(k, nowUs()); messages.push({ partition: 0, key: o.id, value: await enc(o) }); }
  await producer.send({ topic, acks: -1, compression: kafkajs.CompressionTypes.None, messages });
}
const c = process.cpuUsage(c0);
console.log(variant, Math.round(N / ((performance.now() - t0) / 1000)), 'msg/s', ((c.user + c.system) / N).toFixed(1), 'µs CPU/record');
await producer.disconnect();
