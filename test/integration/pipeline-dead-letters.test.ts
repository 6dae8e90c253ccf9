/**
 * Dead-letter routing on the real stack: tampered, re-keyed, moved-to-another-topic, garbage,
 * replayed beyond the window, wrong-schema and poison-Avro records each land in the dead-letter topic
 * with the right coarse class, byte-identical original (key, value, headers) and a signed metadata
 * header whose detailed code is sealed to `audit`; a replay within the window is a counted duplicate
 * (protocol: not a dead letter); one poison record among 10,000 does not stall the partition.
 */
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterWorker } from '../../src/dlq/dead-letter-worker.js';
import { SqliteQuarantineStore } from '../../src/dlq/sqlite-quarantine-store.js';
import { schemaFingerprint } from '../../src/envelope/derive.js';
import { createSealingSession } from '../../src/envelope/sealing-session.js';
import {
  DEAD_LETTER_HEADER,
  decodeDeadLetterMetadata,
  verifyDeadLetter,
  type DeadLetterMetadata,
} from '../../src/events/dead-letter.js';
import type { ConsumedRecord, TransportProducer } from '../../src/kafka/transport.js';
import { AVRO_CONTENT_TYPE } from '../../src/pipeline/payload-content.js';
import { systemClock } from '../../src/runtime/clock.js';
import { testLogger, waitFor } from '../support/test-transport.js';
import { readRaw, type TestConsumer } from '../support/pipeline-parties.js';
import { counterValue } from '../support/pipeline-world.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'pipe-dl',
  clientId: 'pipeline-dlq',
  topics: ['pipe-dl-a', 'pipe-dl-b', 'pipe-dl-c'],
  producer: true,
  services: ({ t }, defaults) => [...defaults, { name: 'audit', send: [], receive: [t.metadata] }],
});
const [a, b, c] = sc.topics as [string, string, string];
const { t, transport } = sc;

let raw: TransportProducer;
let billing: TestConsumer | undefined;

beforeAll(async () => {
  raw = transport.producer();
  await raw.connect();
});

afterAll(async () => {
  await raw?.disconnect();
});

const order = (i: number) => ({ id: `o-${i}`, cents: i, note: 'n' });

/** A correctly sealed record whose payload or schema fingerprint the test chooses. */
function sealCustom(topic: string, payload: Uint8Array, schemaText: string): Buffer {
  const billingDraft = sc.world.draft('billing');
  const session = createSealingSession({
    provider: sc.world.crypto,
    clock: systemClock,
    envelopeSchemaId: sc.orders.producer.envelopeSchemaId,
    namespace: sc.orders.directory.namespace,
    topic,
    senderSigningSecretKey: sc.orders.identity.signingKey().secretKey,
    recipients: [{ kid: billingDraft.boxKid, publicKey: billingDraft.boxPublicKey }],
    streamId: sc.world.crypto.randomBytes(16),
    lifetimeMs: 60_000,
    maxMessages: 10,
  });
  const sealed = session.seal({
    partition: 0,
    seq: 0,
    key: null,
    schemaFp: schemaFingerprint(sc.world.crypto, schemaText),
    contentType: AVRO_CONTENT_TYPE,
    payload,
  });
  session.close();
  return Buffer.from(sealed.value);
}

function metaOf(r: ConsumedRecord): DeadLetterMetadata {
  const h = r.headers.filter((x) => x.key === DEAD_LETTER_HEADER).at(-1);
  const m = decodeDeadLetterMetadata(h!.value!);
  expect(m).not.toBeNull();
  return m!;
}

describe('dead letters on the real stack', () => {
  it('routes every permanent failure with its class and the original bytes; duplicates are counted, not dead-lettered', async () => {
    const registry = sc.world.registry();
    await sc.orders.producer.send({
      topic: a,
      messages: [0, 1, 2].map((i) => ({ key: 'k1', value: order(i) })),
    });
    const good = await readRaw(transport, a, 3);
    const [r0, r1, r2] = good as [ConsumedRecord, ConsumedRecord, ConsumedRecord];
    const schemaId = await registry.latestSchemaId(`${a}-value`);
    const schemaText = (await registry.getSchema(schemaId)).text;

    const tampered = Buffer.from(r0.value!);
    tampered[tampered.length - 30]! ^= 0x01;
    const garbage = Buffer.from('definitely not an envelope');
    const hdr = [{ key: 'trace', value: Buffer.from('abc') }];
    // Poison Avro: Order.id declares a ~1 GiB string. Wrong schema: another schema's fingerprint.
    const poisonFrame = Buffer.concat([
      Buffer.from([0, 0, 0, 0, 0]),
      Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x07]),
    ]);
    poisonFrame.writeUInt32BE(schemaId, 1);
    const poison = sealCustom(a, poisonFrame, schemaText);
    const goodFrame = await registry.encode(schemaId, order(99));
    const wrongSchema = sealCustom(a, goodFrame, schemaText.replace('"note"', '"nota"'));

    const injected: {
      topic: string;
      key: Buffer | null;
      value: Buffer;
      cls: string;
      headers?: typeof hdr;
    }[] = [
      { topic: a, key: r0.key, value: tampered, cls: 'MESSAGE', headers: hdr },
      { topic: a, key: Buffer.from('k2'), value: Buffer.from(r2.value!), cls: 'MESSAGE' }, // re-keyed
      { topic: b, key: r0.key, value: Buffer.from(r0.value!), cls: 'CONTEXT' }, // moved to another topic
      { topic: a, key: null, value: garbage, cls: 'MALFORMED' },
      { topic: a, key: null, value: poison, cls: 'PAYLOAD' },
      { topic: a, key: null, value: wrongSchema, cls: 'SCHEMA' },
    ];
    for (const x of injected) {
      await raw.send({
        topic: x.topic,
        partition: 0,
        records: [{ key: x.key, value: x.value, ...(x.headers ? { headers: x.headers } : {}) }],
      });
    }
    // Replayed at another offset within the window: a duplicate.
    await raw.send({
      topic: a,
      partition: 0,
      records: [{ key: r1.key, value: Buffer.from(r1.value!) }],
    });
    // 1,100 newer messages of the same stream, then r0 replayed: beyond the window → STALE.
    for (let base = 0; base < 1100; base += 550) {
      await sc.orders.producer.send({
        topic: a,
        messages: Array.from({ length: 550 }, (_, i) => ({
          key: 'k1',
          value: order(1000 + base + i),
        })),
      });
    }
    await raw.send({
      topic: a,
      partition: 0,
      records: [{ key: r0.key, value: Buffer.from(r0.value!) }],
    });
    injected.push({ topic: a, key: r0.key, value: Buffer.from(r0.value!), cls: 'STALE' });

    billing = await sc.consumer('billing', {
      groupId: `billing-${a}`,
      topics: [a, b],
    });
    await waitFor(
      async () =>
        (await counterValue(billing!.promRegistry, 'sealpost_dead_lettered_total')) >=
        injected.length,
      'dead letters',
      120_000,
    );
    await waitFor(() => billing!.total() >= 3 + 1100, 'good deliveries', 60_000);
    expect(billing.total()).toBe(3 + 1100);
    expect(await counterValue(billing.promRegistry, 'sealpost_duplicates_total')).toBe(1);

    const dl = await readRaw(transport, t.dlq, injected.length);
    expect(dl).toHaveLength(injected.length);
    const billingPk = sc.world.draft('billing').signPublicKey;
    const audit = await sc.world.identity('audit');
    for (const x of injected) {
      const r = dl.find(
        (d) => Buffer.compare(d.value!, x.value) === 0 && metaOf(d).topic === x.topic,
      );
      expect(r, `dead letter for ${x.cls}`).toBeDefined();
      const m = metaOf(r!);
      expect(m.class).toBe(x.cls);
      expect(r!.key === null ? null : Buffer.from(r!.key)).toEqual(x.key);
      // The original headers first, untouched; exactly one appended header.
      expect(r!.headers.slice(0, -1)).toEqual(x.headers ?? []);
      expect(r!.headers.at(-1)!.key).toBe(DEAD_LETTER_HEADER);
      expect(m.group).toBe(`billing-${a}`);
      expect(m.consumer).toBe('billing');
      expect(verifyDeadLetter(sc.world.crypto, m, billingPk)).toBe(true);
      // Only the coarse class is in clear; the detailed code opens with the audit identity's key.
      const auditKid = Buffer.from(audit.active().box.kid).toString('hex');
      const sealed = Buffer.from(m.sealedDetail[auditKid]!, 'base64');
      const detail = sc.world.crypto.boxSealOpen(
        sealed,
        audit.active().box.publicKey,
        audit.active().box.secretKey,
      );
      expect(detail).not.toBeNull();
      expect(Buffer.from(detail!).toString('utf8')).toMatch(/^[A-Z_]+$/);
      expect(JSON.stringify(m)).not.toContain(Buffer.from(detail!).toString('utf8'));
    }
    const details = dl.map((r) => {
      const m = metaOf(r);
      const box = audit.active().box;
      return Buffer.from(
        sc.world.crypto.boxSealOpen(
          Buffer.from(m.sealedDetail[Buffer.from(box.kid).toString('hex')]!, 'base64'),
          box.publicKey,
          box.secretKey,
        )!,
      ).toString();
    });
    expect(details.sort()).toEqual(
      [
        'BAD_TAG',
        'BAD_TAG',
        'BAD_MAGIC',
        'PAYLOAD_INVALID',
        'SCHEMA_MISMATCH',
        'SEQ_TOO_OLD',
        'TOPIC_MISMATCH',
      ].sort(),
    );

    // The dead-letter worker quarantines every one of them: byte-identical original, right metadata.
    const store = new SqliteQuarantineStore(join(sc.world.dir, 'quarantine.db'));
    const worker = new DeadLetterWorker({
      transport,
      store,
      crypto: sc.world.crypto,
      clock: systemClock,
      signingKeysOf: (id) => (id === 'billing' ? [billingPk] : []),
      deadLetterTopic: t.dlq,
      groupId: `dlq-${t.dlq}`,
      registry: new Registry(),
      logger: testLogger,
    });
    await worker.start();
    try {
      await waitFor(
        async () => (await store.list({})).length >= injected.length,
        'every dead letter quarantined',
        60_000,
      );
      const entries = await store.list({});
      expect(entries).toHaveLength(injected.length);
      for (const x of injected) {
        const q = entries.find(
          (e) => Buffer.compare(Buffer.from(e.value!), x.value) === 0 && e.sourceTopic === x.topic,
        );
        expect(q, `quarantine entry for ${x.cls}`).toBeDefined();
        expect(q).toMatchObject({
          reason: x.cls,
          sourcePartition: 0,
          consumerGroup: `billing-${a}`,
          consumer: 'billing',
          attempt: 1,
          signatureVerified: true,
        });
        expect(q!.key === null ? null : Buffer.from(q!.key)).toEqual(x.key);
        expect(q!.headers).toEqual(
          (x.headers ?? []).map((h) => ({ key: h.key, value: h.value.toString('base64') })),
        );
        const source = dl.find(
          (d) => Buffer.compare(d.value!, x.value) === 0 && metaOf(d).topic === x.topic,
        )!;
        expect(q!.sourceOffset).toBe(metaOf(source).offset);
      }
    } finally {
      await worker.stop();
    }
  });

  it('one poison record among 10,000 does not stall the partition', async () => {
    const registry = sc.world.registry();
    await sc.orders.producer.send({
      topic: c,
      messages: Array.from({ length: 500 }, (_, i) => ({ key: null, value: order(i) })),
    });
    const schemaId = await registry.latestSchemaId(`${c}-value`);
    const poisonFrame = Buffer.concat([
      Buffer.from([0, 0, 0, 0, 0]),
      Buffer.from([0x02, 0x61, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x01]),
    ]);
    poisonFrame.writeUInt32BE(schemaId, 1);
    for (let base = 500; base < 5000; base += 500) {
      await sc.orders.producer.send({
        topic: c,
        messages: Array.from({ length: 500 }, (_, i) => ({ key: null, value: order(base + i) })),
      });
    }
    await raw.send({
      topic: c,
      partition: 0,
      records: [
        { key: null, value: sealCustom(c, poisonFrame, (await registry.getSchema(schemaId)).text) },
      ],
    });
    for (let base = 5000; base < 10_000; base += 500) {
      await sc.orders.producer.send({
        topic: c,
        messages: Array.from({ length: 500 }, (_, i) => ({ key: null, value: order(base + i) })),
      });
    }
    const consumer = await sc.consumer('billing', {
      groupId: `billing-${c}`,
      topics: [c],
    });
    try {
      await waitFor(
        () => consumer.total() >= 10_000,
        '10,000 deliveries past the poison record',
        120_000,
      );
      await waitFor(
        async () =>
          (await counterValue(consumer.promRegistry, 'sealpost_dead_lettered_total', {
            class: 'PAYLOAD',
          })) === 1,
        'the poison dead letter',
      );
      expect(consumer.total()).toBe(10_000);
      expect(await counterValue(consumer.promRegistry, 'sealpost_dead_lettered_total')).toBe(1);
    } finally {
      await consumer.consumer.close();
    }
  });
});
