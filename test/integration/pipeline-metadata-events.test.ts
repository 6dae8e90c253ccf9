/**
 * Metadata events: the producer and consumer report sealed / session_opened / opened / rejected /
 * dead_lettered events, batched and sealed to the `audit` identity on the metadata topic; an audit
 * SealedConsumer receives the raw batches, every event validates, the detailed rejection code is
 * there (sealed), and no event carries a payload.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { validateMetadataEvent, type MetadataEvent } from '../../src/events/metadata-event.js';
import { PIPELINE_LOG_REDACT_PATHS } from '../../src/pipeline/pipeline-logger.js';
import type { TransportProducer } from '../../src/kafka/transport.js';
import type { MetadataEventEmitter } from '../../src/pipeline/metadata-event-emitter.js';
import {
  decodeMetadataEventBatch,
  METADATA_EVENTS_CONTENT_TYPE,
} from '../../src/pipeline/metadata-event-emitter.js';
import { waitFor } from '../support/test-transport.js';
import { readRaw, type TestConsumer, type TestProducer } from '../support/pipeline-parties.js';
import { useScenario, withMetadataToAudit } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'pipe-ev',
  clientId: 'pipeline-events',
  partitions: 2,
  metadataTopic: true,
  services: withMetadataToAudit,
});
const { topic, t, transport } = sc;

const N = 1000;
const SECRET_NOTE = 'secret-note-7f3a';
/** Everything the pipeline logged, at every level. */
const logLines: string[] = [];
const logger = pino(
  { level: 'trace', redact: [...PIPELINE_LOG_REDACT_PATHS] },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  }),
);

const emitterFor = (name: string): Promise<MetadataEventEmitter> =>
  sc.emitter(name, { maxBatch: 200 });

describe('metadata events sealed to audit', () => {
  it('reports what was sealed, opened and rejected, without payloads', async () => {
    const ordersEvents = await emitterFor('orders');
    const billingEvents = await emitterFor('billing');
    const orders: TestProducer = await sc.producer('orders', {
      events: ordersEvents,
      logger,
    });
    const sent = await orders.producer.send({
      topic,
      messages: Array.from({ length: N }, (_, i) => ({
        key: `k${i % 7}`,
        value: { id: `e-${i}`, cents: i, note: SECRET_NOTE },
      })),
    });
    const [first] = await readRaw(transport, topic, 1);
    const raw: TransportProducer = transport.producer();
    await raw.connect();
    const tampered = Buffer.from(first!.value!);
    tampered[tampered.length - 25]! ^= 0x80;
    await raw.send({
      topic,
      partition: first!.partition,
      records: [{ key: first!.key, value: tampered }],
    });
    await raw.disconnect();

    const billing: TestConsumer = await sc.consumer('billing', {
      events: billingEvents,
      logger,
    });
    await waitFor(() => billing.total() >= N, 'deliveries', 60_000);

    const events: MetadataEvent[] = [];
    const batches: { sender: string; contentType: string }[] = [];
    const problems: string[] = [];
    await sc.consumer('audit', {
      groupId: `audit-${t.metadata}`,
      topics: [t.metadata],
      rawContentTypes: [METADATA_EVENTS_CONTENT_TYPE],
      // Collected here, asserted after the wait (a throw in a handler is a retried failure).
      onMessage: (d) => {
        batches.push({ sender: d.sender, contentType: d.contentType });
        for (const e of decodeMetadataEventBatch(d.value as Buffer)) {
          problems.push(...validateMetadataEvent(e));
          const ev = e as MetadataEvent;
          // The actor is the verified sender of the batch.
          if (ev.actor !== d.sender)
            problems.push(`actor ${ev.actor} is not the sender ${d.sender}`);
          events.push(ev);
        }
        return Promise.resolve();
      },
    });
    const count = (type: string, actor: string) =>
      events.filter((e) => e.type === type && e.actor === actor).length;
    await waitFor(
      () =>
        count('sealed', 'orders') >= N &&
        count('opened', 'billing') >= N &&
        count('dead_lettered', 'billing') >= 1,
      'sealed, opened and dead_lettered events',
      60_000,
    );
    expect(problems).toEqual([]);
    expect(batches.every((b) => b.contentType === METADATA_EVENTS_CONTENT_TYPE)).toBe(true);
    expect(count('session_opened', 'orders')).toBeGreaterThanOrEqual(1);
    const sealedIds = new Set(events.filter((e) => e.type === 'sealed').map((e) => e.messageId));
    for (const s of sent) expect(sealedIds.has(s.messageId)).toBe(true);
    const opened = events.find((e) => e.type === 'opened')!;
    expect(opened).toMatchObject({ sender: 'orders', topic, group: `billing-${topic}` });
    expect(opened.ciphertextDigest).toMatch(/^[0-9a-f]{64}$/);
    const rejected = events.find((e) => e.type === 'rejected')!;
    expect(rejected).toMatchObject({ reason: 'MESSAGE', detail: 'BAD_TAG', topic });
    expect(JSON.stringify(events)).not.toContain(SECRET_NOTE);
    // The pipeline logged (the dead letter at least) and never a payload.
    expect(logLines.some((l) => l.includes('record dead-lettered'))).toBe(true);
    expect(logLines.join('')).not.toContain(SECRET_NOTE);
    // Redaction in force for fields named like secrets, should anything log them.
    logger.info({ payload: SECRET_NOTE, nested: { plaintext: SECRET_NOTE } }, 'probe');
    expect(logLines.at(-1)).not.toContain(SECRET_NOTE);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
  });
});
