/**
 * OpenTelemetry across the broker (docs/TRACING.md): the consumer's process span is a child of the
 * producer's seal span, linked only through the trace context sealed inside the body (docs/SPEC.md
 * §2.1); no record key, payload, sender name, message id, kid or plaintext value appears in any span
 * (name, attribute, event, link, status) or clear header; `traceparent` is in the clear only when
 * asked for, and never `tracestate` or `baggage`. Then the same with
 * `@opentelemetry/instrumentation-kafkajs` patched into kafkajs: its record-key attribute redacted by
 * the hooks, its clear trace headers detached from the application's trace (a fresh root per record,
 * no baggage).
 */
import { createRequire } from 'node:module';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Context,
  type SpanContext,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  TraceState,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/kafka/transport.js';
import {
  KAFKAJS_INSTRUMENTATION_HOOKS,
  KAFKAJS_RECORD_KEY_ATTRIBUTE,
  loadTracing,
} from '../../src/observability/tracing.js';
import type { SealedDelivery } from '../../src/pipeline/sealed-consumer.js';
import type { SentMessage } from '../../src/pipeline/sealed-producer.js';
import { readRaw, startConsumer, startProducer } from '../support/pipeline-parties.js';
import {
  makePipelineWorld,
  ORDER_SCHEMA,
  pipelineTopics,
  type PipelineWorld,
} from '../support/pipeline-world.js';
import { createTopics, freshTopic, testTransport, waitFor } from '../support/test-transport.js';

// Known secret strings: none may appear in telemetry or clear headers.
const SENDER = 'orders-sender-q7x';
const RECEIVER = 'billing-recv-q7x';
const KEY_SECRET = 'record-key-secret-5d1c';
const PLAIN_SECRET = 'plaintext-secret-9a4e';
const BAGGAGE_SECRET = 'baggage-secret-77b2';
const TRACESTATE_SECRET = 'tsecret';
const N = 6;

const transport = testTransport('tracing');
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const contextManager = new AsyncLocalStorageContextManager();
const TOPICS = {
  sealed: freshTopic('trace-sealed'),
  clear: freshTopic('trace-clear'),
  kafkajs: freshTopic('trace-kafkajs'),
};
let world: PipelineWorld;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  // What an SDK registers by default: W3C trace context and baggage in clear headers.
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  );
  world = await makePipelineWorld([
    { name: SENDER, send: Object.values(TOPICS), receive: [] },
    { name: RECEIVER, send: [], receive: Object.values(TOPICS) },
  ]);
});
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await world.cleanup();
  context.disable();
  propagation.disable();
  await provider.shutdown();
});

/** An application context: a sampled span with a tracestate, and baggage holding a secret. */
function appContext(): { ctx: Context; appSpan: SpanContext; end: () => void } {
  const remote = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
    isRemote: true,
    traceState: new TraceState(`vendor=${TRACESTATE_SECRET}`),
  });
  const span = provider.getTracer('app').startSpan('app request', {}, remote);
  const withBaggage = propagation.setBaggage(
    trace.setSpan(remote, span),
    propagation.createBaggage({ 'user.note': { value: BAGGAGE_SECRET } }),
  );
  return { ctx: withBaggage, appSpan: span.spanContext(), end: () => span.end() };
}

interface Run {
  readonly topic: string;
  readonly sent: SentMessage[];
  readonly deliveries: SealedDelivery[];
  readonly raw: ConsumedRecord[];
  readonly spans: ReadableSpan[];
  readonly appSpan: SpanContext;
  readonly secrets: string[];
}

/** Sends N messages inside an application span, consumes them with a handler that opens its own span. */
async function roundTrip(
  purpose: keyof typeof TOPICS,
  clearTraceparentHeader: boolean,
): Promise<Run> {
  exporter.reset();
  const topic = TOPICS[purpose];
  const t = pipelineTopics(`trace-${purpose}`);
  await createTopics(transport, [
    { topic, numPartitions: 2 },
    { topic: t.dlq },
    { topic: t.state, compacted: true },
  ]);
  const tracing = await loadTracing({ tracerProvider: provider, clearTraceparentHeader });
  const orders = await startProducer(world, transport, SENDER, {
    valueSchemas: { [topic]: ORDER_SCHEMA },
    tracing,
  });
  closers.push(() => orders.producer.close());
  const app = appContext();
  const sent = await context.with(app.ctx, () =>
    orders.producer.send({
      topic,
      messages: Array.from({ length: N }, (_, i) => ({
        key: `${KEY_SECRET}-${i}`,
        value: { id: `o${i}`, cents: i, note: `${PLAIN_SECRET} #${i}` },
      })),
    }),
  );
  app.end();
  const handlerSpans: string[] = [];
  const billing = await startConsumer(world, transport, RECEIVER, {
    groupId: `billing-${topic}`,
    topics: [topic],
    stateTopic: t.state,
    deadLetterTopic: t.dlq,
    keepDeliveries: true,
    tracing,
    onMessage: () => {
      // The application's own span inside the handler: it must nest under sealpost's process span.
      const s = provider.getTracer('app').startSpan('handler work');
      handlerSpans.push(s.spanContext().spanId);
      s.end();
      return Promise.resolve();
    },
  });
  closers.push(() => billing.consumer.close());
  await waitFor(() => billing.total() >= N, 'every record handed out', 60_000);
  // The process span ends right after its handler returned.
  await waitFor(
    () => exporter.getFinishedSpans().filter((s) => s.name === `process ${topic}`).length >= N,
    'every process span ended',
    10_000,
  );
  const raw = await readRaw(transport, topic, N);
  const kids = [SENDER, RECEIVER].flatMap((n) => {
    const d = world.draft(n);
    return [d.boxKid, d.signKid].map((k) => Buffer.from(k).toString('hex'));
  });
  return {
    topic,
    sent,
    deliveries: billing.deliveries,
    raw,
    spans: exporter.getFinishedSpans(),
    appSpan: app.appSpan,
    secrets: [
      SENDER,
      RECEIVER,
      KEY_SECRET,
      PLAIN_SECRET,
      BAGGAGE_SECRET,
      ...sent.map((m) => m.messageId),
      ...kids,
    ],
  };
}

/** Everything a span exports, as text. */
function spanText(s: ReadableSpan): string {
  return JSON.stringify({
    name: s.name,
    attributes: s.attributes,
    events: s.events,
    links: s.links,
    status: s.status,
    traceState: s.spanContext().traceState?.serialize() ?? '',
  });
}

function headerText(r: ConsumedRecord): string {
  return r.headers.map((h) => `${h.key}=${h.value?.toString('latin1') ?? ''}`).join('\n');
}

function expectNoSecrets(run: Run): void {
  const texts = [...run.spans.map(spanText), ...run.raw.map(headerText)];
  for (const secret of run.secrets) {
    const hits = texts.filter((x) => x.toLowerCase().includes(secret.toLowerCase()));
    expect(hits, `"${secret}" found`).toEqual([]);
  }
  // The application's tracestate stays on its own side: the producer's spans inherit it (OTel's
  // rule for child spans), but it is neither sealed, nor in a clear header, nor on a consumer span.
  const consumerSide = [
    ...run.spans.filter((s) => s.kind === SpanKind.CONSUMER || s.name === 'handler work'),
    ...run.spans.filter((s) => s.name === `process ${run.topic}`),
  ];
  expect(consumerSide.length).toBeGreaterThanOrEqual(2 * N);
  for (const text of [...consumerSide.map(spanText), ...run.raw.map(headerText)])
    expect(text).not.toContain(TRACESTATE_SECRET);
}

function expectLinked(run: Run): void {
  const by = (name: string) =>
    run.spans.filter(
      (s) =>
        s.name === name &&
        (s.instrumentationScope.name === 'sealpost' || s.instrumentationScope.name === 'app'),
    );
  const [send] = by(`send ${run.topic}`);
  const seals = by(`seal ${run.topic}`);
  const processes = by(`process ${run.topic}`);
  expect(send).toBeDefined();
  expect(seals).toHaveLength(N);
  expect(processes).toHaveLength(N);
  // send (CLIENT) under the application span, seal (PRODUCER) spans under send.
  expect(send!.parentSpanContext?.spanId).toBe(run.appSpan.spanId);
  expect(send!.spanContext().traceId).toBe(run.appSpan.traceId);
  expect(send!.attributes['sealpost.outcome']).toBe('acknowledged');
  const sealIds = new Set(seals.map((s) => s.spanContext().spanId));
  for (const s of seals) {
    expect(s.parentSpanContext?.spanId).toBe(send!.spanContext().spanId);
    expect(s.attributes['sealpost.recipient_count']).toBe(1);
    expect(s.attributes['sealpost.outcome']).toBe('sealed');
  }
  // Each process (CONSUMER) span is the child of exactly one seal span, across the broker.
  const parents = processes.map((p) => p.parentSpanContext?.spanId);
  expect(new Set(parents).size).toBe(N);
  for (const p of processes) {
    expect(sealIds.has(p.parentSpanContext!.spanId)).toBe(true);
    expect(p.spanContext().traceId).toBe(run.appSpan.traceId);
    expect(p.attributes['sealpost.outcome']).toBe('delivered');
    expect(p.attributes['sealpost.recipient_count']).toBe(1);
    expect(p.attributes['sealpost.suite']).toBe(1);
    expect(['0', '1']).toContain(p.attributes['messaging.destination.partition.id']);
  }
  // The handler's own spans nest under the process spans.
  const processIds = new Set(processes.map((p) => p.spanContext().spanId));
  const work = by('handler work');
  expect(work).toHaveLength(N);
  for (const w of work) expect(processIds.has(w.parentSpanContext!.spanId)).toBe(true);
  // Attribute keys are only the documented ones.
  const allowed = new Set([
    'messaging.system',
    'messaging.destination.name',
    'messaging.destination.partition.id',
    'messaging.operation.name',
    'messaging.operation.type',
    'messaging.batch.message_count',
    'sealpost.suite',
    'sealpost.recipient_count',
    'sealpost.outcome',
  ]);
  for (const s of [send!, ...seals, ...processes])
    for (const k of Object.keys(s.attributes)) expect(allowed.has(k), k).toBe(true);
}

describe('sealpost tracing across the broker', () => {
  it('links consumer spans to producer spans through the sealed body only; nothing secret leaks', async () => {
    const run = await roundTrip('sealed', false);
    expectLinked(run);
    expect(run.deliveries.map((d) => (d.value as { note: string }).note).sort()).toEqual(
      Array.from({ length: N }, (_, i) => `${PLAIN_SECRET} #${i}`).sort(),
    );
    // Nothing in the clear: no trace headers at all, and the trace id appears in no header.
    for (const r of run.raw) {
      expect(r.headers.map((h) => h.key)).toEqual([]);
      expect(headerText(r)).not.toContain(run.appSpan.traceId);
    }
    expectNoSecrets(run);
  });

  it('writes a clear traceparent (never tracestate or baggage) only when asked', async () => {
    const run = await roundTrip('clear', true);
    expectLinked(run);
    const sealIds = new Set(
      run.spans.filter((s) => s.name === `seal ${run.topic}`).map((s) => s.spanContext().spanId),
    );
    for (const r of run.raw) {
      expect(r.headers.map((h) => h.key)).toEqual(['traceparent']);
      const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(r.headers[0]!.value!.toString());
      expect(m).not.toBeNull();
      expect(m![1]).toBe(run.appSpan.traceId);
      expect(sealIds.has(m![2]!)).toBe(true);
    }
    expectNoSecrets(run);
  });
});

describe('alongside @opentelemetry/instrumentation-kafkajs', () => {
  let instrumentation: KafkaJsInstrumentation;
  beforeAll(() => {
    instrumentation = new KafkaJsInstrumentation({ ...KAFKAJS_INSTRUMENTATION_HOOKS });
    instrumentation.setTracerProvider(provider);
    // kafkajs is already loaded (src/kafka imports it): patch the loaded module, as the
    // instrumentation's require hook would at first load.
    const kafkajs = createRequire(import.meta.url)('kafkajs') as object;
    for (const def of (
      instrumentation as unknown as { getModuleDefinitions(): { patch?(m: object): object }[] }
    ).getModuleDefinitions())
      def.patch?.(kafkajs);
  });
  afterAll(() => {
    const kafkajs = createRequire(import.meta.url)('kafkajs') as object;
    for (const def of (
      instrumentation as unknown as { getModuleDefinitions(): { unpatch?(m: object): void }[] }
    ).getModuleDefinitions())
      def.unpatch?.(kafkajs);
    instrumentation.disable();
  });

  it('its key attribute is redacted and its clear headers carry neither the trace nor baggage', async () => {
    const run = await roundTrip('kafkajs', false);
    // The instrumentation is active: its own send spans exist for our records.
    const kafkaSends = run.spans.filter(
      (s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-kafkajs',
    );
    expect(kafkaSends.filter((s) => s.name === `send ${run.topic}`)).toHaveLength(N);
    // Every span of it that had a record key (its send and process spans of our N keyed records)
    // has it overwritten.
    const keyed = kafkaSends.filter(
      (s) => s.attributes[KAFKAJS_RECORD_KEY_ATTRIBUTE] !== undefined,
    );
    expect(keyed.length).toBeGreaterThanOrEqual(2 * N);
    for (const s of keyed) expect(s.attributes[KAFKAJS_RECORD_KEY_ATTRIBUTE]).toBe('redacted');
    expectLinked(run);
    // It injected a traceparent per record, but of a fresh root trace: not the application's,
    // not sealpost's; and no baggage or tracestate.
    const ours = new Set(
      run.spans
        .filter((s) => s.instrumentationScope.name !== '@opentelemetry/instrumentation-kafkajs')
        .map((s) => s.spanContext().traceId),
    );
    const injected = new Set<string>();
    for (const r of run.raw) {
      expect(r.headers.map((h) => h.key).sort()).toEqual(['traceparent']);
      const traceId = r.headers[0]!.value!.toString().split('-')[1]!;
      expect(ours.has(traceId)).toBe(false);
      injected.add(traceId);
    }
    expect(injected.size).toBe(N);
    expectNoSecrets(run);
  });
});
