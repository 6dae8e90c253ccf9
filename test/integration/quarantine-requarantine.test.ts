/**
 * #21.5 on the real stack: a record from a sender the consumer's directory does not list yet is
 * dead-lettered (HEADER) and quarantined; released before the directory is fixed, it is dead-lettered
 * again. The new entry is linked to the released one (same record digest, same group): attempt 2,
 * flagged in `quarantine list`, and `release --reason HEADER` skips it instead of cycling it. After the
 * fix, releasing it by id delivers the message exactly once.
 *
 * Invariant (ledger): the record sent once is quarantined twice (one chain of entries), handed to the
 * application once, and the bulk release publishes nothing while its cause is not fixed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterWorker } from '../../src/dlq/dead-letter-worker.js';
import { SqliteQuarantineStore } from '../../src/dlq/sqlite-quarantine-store.js';
import { FileDirectorySource } from '../../src/keys/directory/directory-document.js';
import { KeyDirectory } from '../../src/keys/directory/key-directory.js';
import {
  generateIdentityFile,
  loadIdentity,
  publicGenerations,
} from '../../src/keys/identity-file.js';
import { SealedProducer } from '../../src/pipeline/sealed-producer.js';
import { systemClock } from '../../src/runtime/clock.js';
import { operatorCliEnv } from '../support/release-operator.js';
import { runCli } from '../support/run-cli.js';
import { startConsumer } from '../support/pipeline-parties.js';
import {
  makePipelineWorld,
  ORDER_SCHEMA,
  pipelineTopics,
  type PipelineWorld,
} from '../support/pipeline-world.js';
import {
  createTopics,
  freshTopic,
  testLogger,
  testTransport,
  waitFor,
} from '../support/test-transport.js';

const transport = testTransport('quarantine-requarantine');
const topic = freshTopic('q-requar');
const t = pipelineTopics('q-requar');
let world: PipelineWorld;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  world = await makePipelineWorld([
    { name: 'orders', send: [topic], receive: [] },
    { name: 'billing', send: [], receive: [topic] },
    { name: 'audit', send: [], receive: [t.metadata] },
    { name: 'dead-letter-worker', send: [], receive: [] },
    { name: 'ops', send: [], receive: [] },
  ]);
  await createTopics(transport, [
    { topic, numPartitions: 2 },
    { topic: t.dlq },
    { topic: t.state, compacted: true },
  ]);
});
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await world.cleanup();
});

describe('a released record whose cause was not fixed (real stack)', () => {
  it('comes back linked (attempt 2, flagged), is skipped by a bulk release, and is delivered once after the fix', async () => {
    const directoryFile = join(world.dir, 'directory.json');
    writeFileSync(directoryFile, JSON.stringify(world.document()));
    const billingDirectory = await KeyDirectory.open({
      crypto: world.crypto,
      clock: systemClock,
      authorityPublicKey: new Uint8Array(
        Buffer.from(world.document().authority.publicKey, 'base64'),
      ),
      source: new FileDirectorySource(directoryFile),
    });
    const billing = await startConsumer(world, transport, 'billing', {
      groupId: `billing-${topic}`,
      topics: [topic],
      stateTopic: t.state,
      deadLetterTopic: t.dlq,
      directory: billingDirectory,
      unknownSenderWaitMs: 1500,
      keepDeliveries: true,
    });
    closers.push(() => billing.consumer.close());

    const file = await generateIdentityFile('refunds', 'service', {
      crypto: world.crypto,
      kms: world.kms,
      clock: systemClock,
    });
    const g = publicGenerations(file).find((x) => x.state === 'active')!;
    const now = systemClock.nowMs();
    await world.change([
      {
        identity: 'refunds',
        status: 'active',
        boxKid: g.boxKid,
        boxPublicKey: g.boxPublicKey,
        signKid: g.signKid,
        signPublicKey: g.signPublicKey,
        validFromMs: now - 60_000,
        validUntilMs: now + 86_400_000,
        retiredAtMs: null,
        sendTopics: [topic],
        receiveTopics: [],
      },
      // The operator that signs releases (docs/SPEC.md §11).
      { ...world.draft('ops'), releaseTopics: [topic] },
    ]);
    const refunds = await loadIdentity(file, { crypto: world.crypto, kms: world.kms });
    closers.push(() => Promise.resolve(refunds.close()));
    const producer = new SealedProducer({
      transport,
      registry: world.registry(),
      crypto: world.crypto,
      clock: systemClock,
      identity: refunds,
      directory: await world.directory(),
      valueSchemas: { [topic]: ORDER_SCHEMA },
    });
    await producer.connect();
    closers.push(() => producer.close());
    const [sent] = await producer.send({
      topic,
      messages: [{ key: 'refund-1', value: { id: 'r-1', cents: -500, note: 'refund' } }],
    });

    const dbPath = join(world.dir, 'quarantine.db');
    const store = new SqliteQuarantineStore(dbPath);
    closers.push(() => store.close());
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
      groupId: `dlq-${topic}`,
      registry: new Registry(),
      logger: testLogger,
    });
    await worker.start();
    closers.push(() => worker.stop());
    await waitFor(
      async () => (await store.list({ status: 'quarantined' })).length === 1,
      'the dead letter in quarantine',
      60_000,
    );
    const first = (await store.list({}))[0]!;
    expect(first).toMatchObject({ reason: 'HEADER', attempt: 1 });

    // Released before the directory is fixed: the consumer refuses it again.
    const env = await operatorCliEnv(world, 'ops', dbPath);
    const early = await runCli(['quarantine', 'release', '--reason', 'HEADER', '--json'], env);
    expect(early.code, early.err).toBe(0);
    await waitFor(
      async () => (await store.list({ status: 'quarantined' })).length === 1,
      'the released record back in quarantine',
      60_000,
    );
    const back = (await store.list({ status: 'quarantined' }))[0]!;
    expect(back).toMatchObject({
      reason: 'HEADER',
      sourceTopic: topic,
      valueHash: first.valueHash,
      attempt: 2,
      requarantinedFrom: first.id,
    });
    expect(back.sourceOffset).not.toBe(first.sourceOffset);
    const list = await runCli(['quarantine', 'list'], env);
    expect(list.out).toContain(`requarantined from ${first.id}`);

    // A bulk release by reason leaves it alone: nothing is published.
    const cycle = await runCli(['quarantine', 'release', '--reason', 'HEADER', '--json'], env);
    expect(cycle.code, cycle.err).toBe(0);
    expect(JSON.parse(cycle.out)).toEqual([
      { id: back.id, outcome: 'skipped', requarantinedFrom: first.id, attempt: 2 },
    ]);
    expect((await store.get(back.id))!.status).toBe('quarantined');

    // Fixed: released by id, delivered once.
    writeFileSync(directoryFile, JSON.stringify(world.document()));
    await billingDirectory.refresh();
    const fixed = await runCli(['quarantine', 'release', String(back.id), '--json'], env);
    expect(fixed.code, fixed.err).toBe(0);
    await waitFor(() => billing.total() >= 1, 'the released record to be delivered', 60_000);
    expect(billing.delivered.get(sent!.messageId)).toBe(1);
    expect((await store.list({})).map((x) => x.status)).toEqual(['released', 'released']);
  });
});
