/**
 * A quarantine release is never STALE (issue #14 item 8, docs/SPEC.md §11), on the real stack.
 *
 * Before the fix a release re-published the original bytes: a record whose seq had fallen more than a
 * replay window (1,024) behind its stream, or whose session was older than the horizon, was STALE
 * again at the consumer — dead-lettered a second time, never handed out. Now `quarantine release`
 * wraps it in a release signed by an operator key that the directory grants `release`, and the named
 * group accepts it once.
 *
 * Invariants, from the ledgers (the handler's deliveries per message id, the consumer's rejection
 * counters by code, the dead-letter counter): each released record is handed out exactly once; a
 * replayed release is DUPLICATE; an expired release, a release by a key without the grant and a
 * forged release are refused with their typed code and dead-lettered, handing nothing out; the
 * original bytes re-injected without a release are STALE as before.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterWorker } from '../../src/dlq/dead-letter-worker.js';
import { ReleaseSigner } from '../../src/dlq/release-signer.js';
import type { QuarantineEntry } from '../../src/dlq/quarantine-store.js';
import { SqliteQuarantineStore } from '../../src/dlq/sqlite-quarantine-store.js';
import { encodeRelease } from '../../src/envelope/release-envelope.js';
import type { TransportProducer } from '../../src/kafka/transport.js';
import { FileDirectorySource } from '../../src/keys/directory/directory-document.js';
import { KeyDirectory } from '../../src/keys/directory/key-directory.js';
import { systemClock } from '../../src/runtime/clock.js';
import {
  readRaw,
  startConsumer,
  startProducer,
  type TestConsumer,
} from '../support/pipeline-parties.js';
import {
  counterValue,
  makePipelineWorld,
  ORDER_SCHEMA,
  pipelineTopics,
  type PipelineWorld,
} from '../support/pipeline-world.js';
import { operatorCliEnv } from '../support/release-operator.js';
import { runCli } from '../support/run-cli.js';
import {
  createTopics,
  freshTopic,
  testLogger,
  testTransport,
  waitFor,
} from '../support/test-transport.js';

const transport = testTransport('quarantine-release-stale');
const late = freshTopic('q-rel-window');
const old = freshTopic('q-rel-horizon');
const t = pipelineTopics('q-rel-stale');
const HORIZON_MS = 4000;
let world: PipelineWorld;
let raw: TransportProducer;
let store: SqliteQuarantineStore;
const closers: (() => Promise<void>)[] = [];

const order = (i: number) => ({ key: 'same-key', value: { id: `o-${i}`, cents: i, note: 'n' } });

beforeAll(async () => {
  world = await makePipelineWorld([
    // Left out of the first directory: its first record is dead-lettered (unknown sender).
    { name: 'orders', send: [late, old], receive: [], unlisted: true },
    { name: 'billing', send: [], receive: [late, old] },
    { name: 'ops', send: [], receive: [] },
    { name: 'rogue', send: [], receive: [] },
    { name: 'dead-letter-worker', send: [], receive: [] },
  ]);
  await createTopics(transport, [
    { topic: late, numPartitions: 1 },
    { topic: old, numPartitions: 1 },
    { topic: t.dlq },
    { topic: t.state, compacted: true },
  ]);
  raw = transport.producer();
  await raw.connect();
  closers.push(() => raw.disconnect());
  store = new SqliteQuarantineStore(join(world.dir, 'quarantine.db'));
  const worker = new DeadLetterWorker({
    transport,
    store,
    crypto: world.crypto,
    clock: systemClock,
    signingKeysOf: (id) =>
      world
        .document()
        .records.filter((r) => r.identity === id)
        .map((r) => new Uint8Array(Buffer.from(r.sign.publicKey, 'base64'))),
    deadLetterTopic: t.dlq,
    groupId: `dlq-${late}`,
    registry: new Registry(),
    logger: testLogger,
  });
  await worker.start();
  closers.push(async () => {
    await worker.stop();
    await store.close();
  });
});
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await world?.cleanup();
});

/** The CLI's environment: the operator identity `name`, the world's KMS and directory (as files). */
const cliEnv = (name: string) => operatorCliEnv(world, name, join(world.dir, 'quarantine.db'));

async function quarantined(topic: string, n: number): Promise<QuarantineEntry[]> {
  await waitFor(
    async () => (await store.list({ sourceTopic: topic, limit: 100 })).length >= n,
    `${n} dead letters of ${topic} in quarantine`,
    60_000,
  );
  return await store.list({ sourceTopic: topic, limit: 100 });
}

const rejected = (c: TestConsumer, code: string) =>
  counterValue(c.promRegistry, 'sealpost_rejected_total', { code });

let billing: TestConsumer;
let releasedValue: Buffer;
let lateEntry: QuarantineEntry;

describe('a quarantine release (real stack)', () => {
  it('hands out a record quarantined before more than a replay window of newer records of its stream', async () => {
    // billing reads a directory file that does not list orders yet.
    const directoryFile = join(world.dir, 'billing-directory.json');
    writeFileSync(directoryFile, JSON.stringify(world.document()));
    const billingDirectory = await KeyDirectory.open({
      crypto: world.crypto,
      clock: systemClock,
      authorityPublicKey: new Uint8Array(
        Buffer.from(world.document().authority.publicKey, 'base64'),
      ),
      source: new FileDirectorySource(directoryFile),
    });
    closers.push(() => Promise.resolve(billingDirectory.stopAutoRefresh()));
    billing = await startConsumer(world, transport, 'billing', {
      groupId: `billing-${late}`,
      topics: [late],
      stateTopic: t.state,
      deadLetterTopic: t.dlq,
      directory: billingDirectory,
      unknownSenderWaitMs: 1500,
    });
    closers.push(() => billing.consumer.close());
    // The authority lists orders and grants ops `release` (rogue gets nothing).
    await world.change([
      world.draft('orders'),
      { ...world.draft('ops'), releaseTopics: [late, old] },
    ]);
    const orders = await startProducer(world, transport, 'orders', {
      valueSchemas: { [late]: ORDER_SCHEMA, [old]: ORDER_SCHEMA },
    });
    closers.push(() => orders.producer.close());

    const [first] = await orders.producer.send({ topic: late, messages: [order(0)] });
    await waitFor(
      async () => (await rejected(billing, 'UNKNOWN_SENDER')) >= 1,
      'the first record dead-lettered (unknown sender)',
      60_000,
    );
    // billing learns orders; then more than a window of newer records of the same stream go by.
    writeFileSync(directoryFile, JSON.stringify(world.document()));
    await billingDirectory.refresh();
    const newer = 1100;
    let lastSeq = -1;
    for (let i = 1; i <= newer; i += 275) {
      const sent = await orders.producer.send({
        topic: late,
        messages: Array.from({ length: 275 }, (_, j) => order(i + j)),
      });
      lastSeq = Math.max(lastSeq, ...sent.map((x) => x.seq));
    }
    // The first record's seq is behind the window of its stream (SPEC §6: ≤ highest − 1024).
    expect(first!.seq).toBeLessThanOrEqual(lastSeq - 1024);
    await waitFor(() => billing.total() >= newer, `${newer} newer records handed out`, 120_000);
    lateEntry = (await quarantined(late, 1))[0]!;
    expect(lateEntry).toMatchObject({ reason: 'HEADER', sourceOffset: first!.offset });

    const env = await cliEnv('ops');
    const r = await runCli(['quarantine', 'release', String(lateEntry.id), '--json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject([
      { id: lateEntry.id, outcome: 'released', group: `billing-${late}` },
    ]);
    // Kept for the next cases: the release as it is on the topic (after the original and the newer ones).
    const all = await readRaw(transport, late, newer + 2);
    releasedValue = all[all.length - 1]!.value!;
    expect(releasedValue[0]).toBe(0x01);
    await waitFor(
      () => billing.delivered.get(first!.messageId) === 1,
      'the released record handed out',
      60_000,
    );
    expect(billing.total()).toBe(newer + 1);
    expect(await rejected(billing, 'SEQ_TOO_OLD')).toBe(0);
    expect(await counterValue(billing.promRegistry, 'sealpost_dead_lettered_total')).toBe(1);
  });

  it('a replayed release is DUPLICATE; the original bytes without a release are STALE', async () => {
    const dupBefore = await counterValue(billing.promRegistry, 'sealpost_duplicates_total');
    await raw.send({
      topic: late,
      partition: 0,
      records: [{ key: Buffer.from(lateEntry.key!), value: releasedValue, headers: [] }],
    });
    await waitFor(
      async () =>
        (await counterValue(billing.promRegistry, 'sealpost_duplicates_total')) > dupBefore,
      'the replayed release counted as a duplicate',
      60_000,
    );
    await raw.send({
      topic: late,
      partition: 0,
      records: [
        { key: Buffer.from(lateEntry.key!), value: Buffer.from(lateEntry.value!), headers: [] },
      ],
    });
    await waitFor(
      async () => (await rejected(billing, 'SEQ_TOO_OLD')) >= 1,
      'the bare original refused as SEQ_TOO_OLD',
      60_000,
    );
    expect(billing.total()).toBe(1101);
    expect(await counterValue(billing.promRegistry, 'sealpost_dead_lettered_total')).toBe(2);
  });

  it('refuses an expired, an ungranted and a forged release with typed codes and dead-letters them', async () => {
    const ops = await world.identity('ops');
    const rogue = await world.identity('rogue');
    const directory = await world.directory();
    const target = { topic: late, partition: 0, group: `billing-${late}`, entryId: lateEntry.id };
    const inner = new Uint8Array(lateEntry.value!);
    // Valid for 1 ms: expired by the time it is written.
    const expired = new ReleaseSigner({
      crypto: world.crypto,
      clock: systemClock,
      identity: ops,
      directory,
      validForMs: 1,
    }).sign(inner, target);
    const issued = systemClock.nowMs();
    await waitFor(() => systemClock.nowMs() > issued + 2, 'the 1 ms release to expire', 1000);
    // The issuer refuses a key without the grant at once (typed) …
    expect(() =>
      new ReleaseSigner({
        crypto: world.crypto,
        clock: systemClock,
        identity: rogue,
        directory,
      }).sign(inner, target),
    ).toThrow(expect.objectContaining({ code: 'QUARANTINE_NOT_GRANTED' }) as Error);
    // … and the CLI says so with the code and a failing exit.
    // The bare original, dead-lettered again above, is back in quarantine.
    await waitFor(
      async () =>
        (await store.list({ sourceTopic: late, status: 'quarantined', limit: 100 })).length === 1,
      'the bare original back in quarantine',
      60_000,
    );
    const again = await store.list({ sourceTopic: late, status: 'quarantined', limit: 100 });
    const cli = await runCli(
      ['quarantine', 'release', String(again[0]!.id), '--json'],
      await cliEnv('rogue'),
    );
    expect(cli.code).not.toBe(0);
    expect(JSON.parse(cli.out)).toMatchObject([
      { id: again[0]!.id, outcome: 'refused', code: 'QUARANTINE_NOT_GRANTED' },
    ]);
    // A release signed by rogue anyway, bypassing the issuer's check.
    const now = systemClock.nowMs();
    const ungranted = encodeRelease(
      {
        operatorKid: rogue.signingKey().kid,
        namespace: directory.namespace,
        issuedAtMs: now,
        expiresAtMs: now + 3_600_000,
        ...target,
        inner,
      },
      (tbs) => world.crypto.signDetached(tbs, rogue.signingKey().secretKey),
    );
    // A genuine release with its signature broken.
    const forged = Buffer.from(releasedValue);
    forged[forged.length - 1]! ^= 0x01;
    const deadBefore = await counterValue(billing.promRegistry, 'sealpost_dead_lettered_total');
    await raw.send({
      topic: late,
      partition: 0,
      records: [expired, ungranted, forged].map((value) => ({
        key: Buffer.from(lateEntry.key!),
        value: Buffer.from(value),
        headers: [],
      })),
    });
    await waitFor(
      async () =>
        (await counterValue(billing.promRegistry, 'sealpost_dead_lettered_total')) >=
        deadBefore + 3,
      'three refused releases dead-lettered',
      60_000,
    );
    expect(await rejected(billing, 'RELEASE_EXPIRED')).toBe(1);
    expect(await rejected(billing, 'RELEASE_NOT_GRANTED')).toBe(1);
    expect(await rejected(billing, 'RELEASE_BAD_SIGNATURE')).toBe(1);
    expect(billing.total()).toBe(1101);
  });

  it('hands out a record quarantined because its session was older than the horizon', async () => {
    const orders = await startProducer(world, transport, 'orders', {
      valueSchemas: { [old]: ORDER_SCHEMA },
    });
    closers.push(() => orders.producer.close());
    const [sent] = await orders.producer.send({ topic: old, messages: [order(9)] });
    // The consumer starts only once the record is older than its horizon.
    await waitFor(
      () => systemClock.nowMs() > sent!.createdAtMs + HORIZON_MS + 500,
      'the record to age past the horizon',
      HORIZON_MS + 10_000,
    );
    const aged = await startConsumer(world, transport, 'billing', {
      groupId: `billing-${old}`,
      topics: [old],
      stateTopic: t.state,
      deadLetterTopic: t.dlq,
      openPolicy: { horizonMs: HORIZON_MS },
    });
    closers.push(() => aged.consumer.close());
    await waitFor(
      async () => (await rejected(aged, 'HEADER_EXPIRED')) >= 1,
      'the aged record refused as HEADER_EXPIRED',
      60_000,
    );
    const [entry] = await quarantined(old, 1);
    expect(entry).toMatchObject({ reason: 'STALE', consumerGroup: `billing-${old}` });
    const r = await runCli(
      ['quarantine', 'release', String(entry!.id), '--json'],
      await cliEnv('ops'),
    );
    expect(r.code).toBe(0);
    await waitFor(
      () => aged.delivered.get(sent!.messageId) === 1,
      'the released record handed out',
      60_000,
    );
    expect(aged.total()).toBe(1);
    expect(await counterValue(aged.promRegistry, 'sealpost_dead_lettered_total')).toBe(1);
  });
});
