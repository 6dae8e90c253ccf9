/**
 * `createSealpost({ tracing })` (docs/API.md "One-call setup", docs/TRACING.md): every producer and
 * consumer it makes is traced with it — the send and seal spans on the sending service, a process
 * span per record handed out on the receiving one, the child of its seal span across the broker — and
 * a `consumer({ tracing })` call that passes its own tracing (here NO_TRACING) overrides it.
 */
import { join } from 'node:path';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealpost, loadTracing, NO_TRACING } from '../../src/index.js';
import type { SealedDelivery, Sealpost } from '../../src/index.js';
import { writeDirectoryDocument } from '../../src/keys/directory/directory-document.js';
import { writeIdentityFile } from '../../src/keys/identity-file.js';
import { getEndpoints } from '../support/endpoints.js';
import { makePipelineWorld, ORDER_SCHEMA, type PipelineWorld } from '../support/pipeline-world.js';
import { createTopics, freshTopic, testTransport, waitFor } from '../support/test-transport.js';

type Env = Readonly<Record<string, string | undefined>>;
const N = 4;

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const contextManager = new AsyncLocalStorageContextManager();
let world: PipelineWorld | undefined;
const services: Sealpost[] = [];

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(async () => {
  for (const s of services) await s.close();
  await world?.cleanup();
  context.disable();
  await provider.shutdown();
});

describe('createSealpost tracing', () => {
  it('traces every producer and consumer it makes, unless the call passes its own tracing', async () => {
    const names = {
      orders: freshTopic('sp-trace-orders'),
      state: freshTopic('sp-trace-state'),
      dlq: freshTopic('sp-trace-dlq'),
    };
    world = await makePipelineWorld([
      { name: 'orders', send: [names.orders], receive: [] },
      { name: 'billing', send: [], receive: [names.orders] },
    ]);
    await createTopics(testTransport('sp-trace'), [
      { topic: names.orders, numPartitions: 2 },
      { topic: names.state, compacted: true },
      { topic: names.dlq },
    ]);
    for (const name of ['orders', 'billing'])
      await writeIdentityFile(join(world.dir, `${name}.json`), world.files.get(name)!, {
        overwrite: true,
      });
    await writeDirectoryDocument(join(world.dir, 'directory.json'), world.document());
    const e = getEndpoints();
    const w = world;
    const envOf = (name: string): Env => ({
      KAFKA_BROKERS: e.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
      SEALPOST_KMS: 'local',
      SEALPOST_LOCAL_KEK_FILE: join(w.dir, 'kek.json'),
      SEALPOST_IDENTITY_FILE: join(w.dir, `${name}.json`),
      SEALPOST_AUTHORITY_PUBLIC_KEY: Buffer.from(
        w.document().authority.publicKey,
        'base64',
      ).toString('hex'),
      SEALPOST_DIRECTORY_FILE: join(w.dir, 'directory.json'),
      SEALPOST_DIRECTORY_STATE_FILE: join(w.dir, `${name}-directory-state.json`),
      SEALPOST_STATE_TOPIC: names.state,
      SEALPOST_DEAD_LETTER_TOPIC: names.dlq,
      SEALPOST_LOG_LEVEL: 'silent',
    });
    const tracing = await loadTracing({ tracerProvider: provider });
    const orders = await createSealpost({ env: envOf('orders'), tracing });
    services.push(orders);
    const billing = await createSealpost({ env: envOf('billing'), tracing });
    services.push(billing);

    const producer = await orders.producer({ valueSchemas: { [names.orders]: ORDER_SCHEMA } });
    await producer.send({
      topic: names.orders,
      messages: Array.from({ length: N }, (_, i) => ({
        key: `k${i}`,
        value: { id: `o${i}`, cents: i, note: '' },
      })),
    });
    const traced: SealedDelivery[] = [];
    const untraced: SealedDelivery[] = [];
    const consumers = [
      {
        seen: traced,
        consumer: billing.consumer({
          groupId: freshTopic('sp-trace-a'),
          topics: [names.orders],
          fromBeginning: true,
        }),
      },
      {
        seen: untraced,
        consumer: billing.consumer({
          groupId: freshTopic('sp-trace-b'),
          topics: [names.orders],
          fromBeginning: true,
          tracing: NO_TRACING,
        }),
      },
    ];
    for (const { seen, consumer } of consumers)
      await consumer.run({
        eachMessage: (m) => {
          seen.push(m);
          return Promise.resolve();
        },
      });
    await waitFor(
      () => traced.length >= N && untraced.length >= N,
      'both groups got every order',
      60_000,
    );
    // The process span ends right after its handler returned.
    const processName = `process ${names.orders}`;
    await waitFor(
      () => exporter.getFinishedSpans().filter((s) => s.name === processName).length >= N,
      'the traced consumer ended its process spans',
      10_000,
    );

    const spans = exporter
      .getFinishedSpans()
      .filter((s) => s.instrumentationScope.name === 'sealpost');
    const sends = spans.filter((s) => s.name === `send ${names.orders}`);
    const seals = spans.filter((s) => s.name === `seal ${names.orders}`);
    expect(sends).toHaveLength(1);
    expect(sends[0]!.attributes['sealpost.outcome']).toBe('acknowledged');
    expect(seals).toHaveLength(N);
    for (const s of seals) expect(s.parentSpanContext?.spanId).toBe(sends[0]!.spanContext().spanId);
    // Both groups handed out every record (positive signal above), but only the consumer made without
    // its own tracing made process spans: exactly N, each the child of one seal span.
    const processes = spans.filter((s) => s.name === processName);
    expect(processes).toHaveLength(N);
    const sealIds = new Set(seals.map((s) => s.spanContext().spanId));
    expect(new Set(processes.map((p) => p.parentSpanContext?.spanId))).toEqual(sealIds);
    for (const p of processes) expect(p.attributes['sealpost.outcome']).toBe('delivered');
  });
});
