/**
 * Suite 2 (X-Wing; docs/SECURITY.md "Post-quantum sealing") through the whole pipeline on the real
 * stack: the producer seals per the topic's suite policy (require → suite 2 to one recipient; allow →
 * suite 2 to three recipients that all publish X-Wing keys, suite 1 when one does not; classical →
 * suite 1), consumers open suite 2 with their X-Wing keys, a suite-1 record on a `require` topic and a
 * tampered suite-2 record are dead-lettered with their original bytes while the consumer keeps
 * delivering, and the audit worker logs the suite-2 events.
 *
 * Ledger invariant of the fault parts: every message the producer had acknowledged is delivered
 * exactly once, every injected bad record is on the dead-letter topic exactly once with byte-identical
 * value, and nothing else is.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditWorker } from '../../src/audit/audit-worker.js';
import { SqliteAuditStore } from '../../src/audit/sqlite-audit-store.js';
import { schemaFingerprint } from '../../src/envelope/derive.js';
import { createSealingSession } from '../../src/envelope/sealing-session.js';
import {
  DEAD_LETTER_HEADER,
  decodeDeadLetterMetadata,
  verifyDeadLetter,
  type DeadLetterMetadata,
} from '../../src/events/dead-letter.js';
import type { ConsumedRecord, TransportProducer } from '../../src/kafka/transport.js';
import { PolicyError } from '../../src/keys/policy.js';
import { SuitePolicy } from '../../src/keys/suite-policy.js';
import { envelopeSuiteOf } from '../../src/pipeline/envelope-suite.js';
import { AVRO_CONTENT_TYPE } from '../../src/pipeline/payload-content.js';
import type { SentMessage } from '../../src/pipeline/sealed-producer.js';
import { systemClock } from '../../src/runtime/clock.js';
import { readRaw, type TestConsumer, type TestProducer } from '../support/pipeline-parties.js';
import { ORDER_SCHEMA } from '../support/pipeline-world.js';
import { waitFor } from '../support/test-transport.js';
import { scenarioAuditWorkerOptions } from '../support/scenario-audit-worker.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'pq',
  clientId: 'pipeline-suite2',
  topics: ['pq-req', 'pq-multi', 'pq-mixed', 'pq-classic'],
  metadataTopic: true,
  checkpointTopic: true,
  services: ({ topics, t }) => {
    const [, multi, mixed, classic] = topics as [string, string, string, string];
    return [
      { name: 'orders', send: [...topics, t.metadata], receive: [], xwing: true },
      { name: 'billing', send: [t.metadata], receive: [...topics], xwing: true },
      { name: 'ledger', send: [], receive: [multi], xwing: true },
      { name: 'archive', send: [], receive: [multi], xwing: true },
      { name: 'legacy', send: [], receive: [mixed, classic] },
      { name: 'audit', send: [], receive: [t.metadata] },
    ];
  },
});
const [req, multi, mixed, classic] = sc.topics as [string, string, string, string];
const { t, transport } = sc;

const policy = new SuitePolicy({
  topics: { [req]: 'require', [multi]: 'allow', [mixed]: 'allow' },
});
const N = 20;
const order = (i: number) => ({ id: `o-${i}`, cents: i, note: `n-${i}` });

let raw: TransportProducer;
let orders: TestProducer;
let billing: TestConsumer;
let ledger: TestConsumer;
let archive: TestConsumer;
let store: SqliteAuditStore;
let worker: AuditWorker;
/** Every message the producer had acknowledged, by topic. */
const acked = new Map<string, SentMessage[]>();
/** Every bad record injected, by topic (their values must be dead-lettered exactly once). */
const injected: { topic: string; value: Buffer; cls: string; suite: 1 | 2 }[] = [];

async function send(topic: string, from: number, count: number): Promise<void> {
  const sent = await orders.producer.send({
    topic,
    messages: Array.from({ length: count }, (_, i) => ({
      key: `k${i % 3}`,
      value: order(from + i),
    })),
  });
  acked.set(topic, [...(acked.get(topic) ?? []), ...sent]);
}

const deliveredOn = (c: TestConsumer, topic: string): string[] =>
  c.deliveries.filter((d) => d.topic === topic).map((d) => d.messageId);

beforeAll(async () => {
  raw = transport.producer();
  await raw.connect();
  const ordersEvents = await sc.emitter('orders', { flushIntervalMs: 200 });
  const billingEvents = await sc.emitter('billing', { flushIntervalMs: 200 });
  orders = await sc.producer('orders', {
    suitePolicy: policy,
    events: ordersEvents,
    valueSchemas: Object.fromEntries(sc.topics.map((x) => [x, ORDER_SCHEMA])),
  });
  billing = await sc.consumer('billing', {
    suitePolicy: policy,
    events: billingEvents,
    keepDeliveries: true,
  });
  ledger = await sc.consumer('ledger', {
    suitePolicy: policy,
    topics: [multi],
    keepDeliveries: true,
  });
  archive = await sc.consumer('archive', {
    suitePolicy: policy,
    topics: [multi],
    keepDeliveries: true,
  });
  store = new SqliteAuditStore(join(sc.world.dir, 'audit.db'), sc.world.crypto);
  worker = new AuditWorker(await scenarioAuditWorkerOptions(sc, store, `audit-${req}`));
  await worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await raw?.disconnect();
});

/** The dead-letter metadata of a dead-letter record (its last header of that name). */
function metaOf(r: ConsumedRecord): DeadLetterMetadata {
  const h = r.headers.filter((x) => x.key === DEAD_LETTER_HEADER).at(-1);
  const m = decodeDeadLetterMetadata(h!.value!);
  expect(m).not.toBeNull();
  return m!;
}

describe('suite 2 through the pipeline (real Kafka, registry)', () => {
  it('seals suite 2 per the policy and opens it: one recipient (require) and three (allow)', async () => {
    await send(req, 0, N);
    await send(multi, 100, N);
    await waitFor(
      () =>
        deliveredOn(billing, req).length >= N &&
        deliveredOn(billing, multi).length >= N &&
        deliveredOn(ledger, multi).length >= N &&
        deliveredOn(archive, multi).length >= N,
      'suite-2 deliveries to billing, ledger and archive',
      90_000,
    );
    for (const topic of [req, multi]) {
      const records = await readRaw(transport, topic, N);
      expect(records.map((r) => envelopeSuiteOf(r.value))).toEqual(Array(N).fill(2));
    }
    const [reqRecord] = await readRaw(transport, req, 1);
    const [multiRecord] = await readRaw(transport, multi, 1);
    // A slot is kid ‖ 1,216-byte box: the 3-recipient header is larger by two slots.
    expect(multiRecord!.value!.length - reqRecord!.value!.length).toBeGreaterThanOrEqual(
      2 * (16 + 1216),
    );
    const ids = (topic: string) =>
      acked
        .get(topic)!
        .map((s) => s.messageId)
        .sort();
    expect(deliveredOn(billing, req).sort()).toEqual(ids(req));
    for (const c of [billing, ledger, archive])
      expect(deliveredOn(c, multi).sort()).toEqual(ids(multi));
    const first = billing.deliveries.find((d) => d.messageId === acked.get(req)![0]!.messageId)!;
    expect(first.value).toEqual(order(0));
    expect(first.sender).toBe('orders');
  });

  it('allow falls back to suite 1 when a recipient has no X-Wing key; classical stays suite 1', async () => {
    await send(mixed, 200, 5);
    await send(classic, 300, 5);
    await waitFor(
      () => deliveredOn(billing, mixed).length >= 5 && deliveredOn(billing, classic).length >= 5,
      'suite-1 deliveries',
      60_000,
    );
    for (const topic of [mixed, classic]) {
      const records = await readRaw(transport, topic, 5);
      expect(records.map((r) => envelopeSuiteOf(r.value))).toEqual(Array(5).fill(1));
    }
  });

  it('a require topic refuses to seal to a recipient without an X-Wing key (nothing is written)', async () => {
    const strict = await sc.producer('orders', {
      suitePolicy: new SuitePolicy({ topics: { [mixed]: 'require' } }),
    });
    const err = await strict.producer
      .send({ topic: mixed, messages: [{ key: 'x', value: order(999) }] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).code).toBe('POLICY_RECIPIENT_NO_XWING_KEY');
    expect((err as PolicyError).message).toContain('legacy');
    // Still the 5 records of the previous test: the refused send wrote nothing.
    await send(mixed, 400, 1);
    const all = await readRaw(transport, mixed, 6);
    expect(all).toHaveLength(6);
    expect(all.map((r) => envelopeSuiteOf(r.value))).toEqual(Array(6).fill(1));
  });

  it('dead-letters a suite-1 record on the require topic and a tampered suite-2 record, with their original bytes; the consumer keeps running', async () => {
    // A correctly sealed suite-1 record for billing's X25519 key, written straight to the require topic.
    const registry = sc.world.registry();
    const schemaId = await registry.latestSchemaId(`${req}-value`);
    const draft = sc.world.draft('billing');
    const session = createSealingSession({
      provider: sc.world.crypto,
      clock: systemClock,
      envelopeSchemaId: orders.producer.envelopeSchemaId,
      namespace: orders.directory.namespace,
      topic: req,
      senderSigningSecretKey: orders.identity.signingKey().secretKey,
      recipients: [{ kid: draft.boxKid, publicKey: draft.boxPublicKey }],
      streamId: sc.world.crypto.randomBytes(16),
      lifetimeMs: 60_000,
      maxMessages: 10,
    });
    const downgraded = Buffer.from(
      session.seal({
        partition: 0,
        seq: 0,
        key: null,
        schemaFp: schemaFingerprint(sc.world.crypto, (await registry.getSchema(schemaId)).text),
        contentType: AVRO_CONTENT_TYPE,
        payload: await registry.encode(schemaId, order(500)),
      }).value,
    );
    session.close();
    expect(envelopeSuiteOf(downgraded)).toBe(1);
    // A suite-2 record with one bit of its X-Wing ciphertext flipped (the first slot's box).
    const [good] = await readRaw(transport, req, 1);
    const tampered = Buffer.from(good!.value!);
    const slotBox = tampered.indexOf(Buffer.from(sc.world.draft('billing').kemKid!)) + 16;
    expect(slotBox).toBeGreaterThan(16);
    tampered[slotBox + 100]! ^= 0x01;
    injected.push(
      { topic: req, value: downgraded, cls: 'CONTEXT', suite: 1 },
      { topic: req, value: tampered, cls: 'HEADER', suite: 2 },
    );
    for (const x of injected)
      await raw.send({ topic: x.topic, partition: 0, records: [{ key: null, value: x.value }] });
    // The consumer goes on: messages sent after the bad records are delivered.
    await send(req, 600, 5);
    await waitFor(
      () => deliveredOn(billing, req).length >= N + 5,
      'deliveries after the bad records',
      60_000,
    );

    const dlq = await readRaw(transport, t.dlq, injected.length, 60_000);
    expect(dlq).toHaveLength(injected.length);
    for (const x of injected) {
      const hits = dlq.filter((r) => r.value !== null && Buffer.compare(r.value, x.value) === 0);
      expect(hits).toHaveLength(1);
      const meta = metaOf(hits[0]!);
      expect(meta).toMatchObject({ class: x.cls, topic: x.topic, consumer: 'billing' });
      expect(meta.suite).toBe(x.suite === 2 ? 2 : undefined);
      expect(verifyDeadLetter(sc.world.crypto, meta, billing.identity.signingKey().publicKey)).toBe(
        true,
      );
    }
    // Ledger: every acknowledged message delivered exactly once; nothing injected delivered.
    for (const [topic, sent] of acked) {
      const got = deliveredOn(billing, topic);
      expect(got.sort()).toEqual(sent.map((s) => s.messageId).sort());
      expect(new Set(got).size).toBe(got.length);
    }
  });

  it('the audit worker logs the suite-2 events (sealed, session_opened, opened, dead_lettered) and the downgrade refusal', async () => {
    const reqIds = new Set(acked.get(req)!.map((s) => s.messageId));
    const classicIds = new Set(acked.get(classic)!.map((s) => s.messageId));
    await waitFor(
      async () =>
        (await store.query({ type: 'opened', limit: 10_000 })).filter((r) =>
          reqIds.has(r.event.messageId ?? ''),
        ).length >= reqIds.size &&
        (await store.query({ type: 'rejected', limit: 10_000 })).length >= injected.length,
      'suite-2 events in the audit log',
      90_000,
    );
    const events = async (type: string) =>
      (await store.query({ type, limit: 10_000 })).map((r) => r.event);
    const sealed = await events('sealed');
    const opened = await events('opened');
    for (const e of sealed.filter((x) => reqIds.has(x.messageId ?? '')))
      expect(e).toMatchObject({ actor: 'orders', topic: req, suite: 2 });
    for (const e of opened.filter((x) => reqIds.has(x.messageId ?? '')))
      expect(e).toMatchObject({ actor: 'billing', topic: req, suite: 2 });
    // Suite-1 events keep their old form: no suite field.
    const classicOpened = opened.filter((x) => classicIds.has(x.messageId ?? ''));
    expect(classicOpened.length).toBeGreaterThan(0);
    for (const e of classicOpened) expect(e).not.toHaveProperty('suite');
    expect((await events('session_opened')).some((e) => e.suite === 2 && e.topic === req)).toBe(
      true,
    );
    const rejected = (await events('rejected')).filter((e) => e.topic === req);
    expect(rejected.map((e) => [e.reason, e.detail, e.suite]).sort()).toEqual(
      [
        ['CONTEXT', 'SUITE_NOT_ALLOWED', undefined],
        ['HEADER', 'BOX_OPEN_FAILED', 2],
      ].sort(),
    );
  });
});
