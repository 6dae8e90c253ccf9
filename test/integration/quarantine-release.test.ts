/**
 * The quarantine round trip on the real stack: a record from a sender the consumer's directory does
 * not list yet is dead-lettered (HEADER) and quarantined by the dead-letter worker; once the
 * directory is fixed, `quarantine release` publishes the identical sealed bytes in a release signed by
 * the operator (docs/SPEC.md §11) and the consumer delivers the message exactly once — a second
 * release publishes nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
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
import { counterValue, ORDER_SCHEMA } from '../support/pipeline-world.js';
import { testLogger, waitFor, waitForCommitted } from '../support/test-transport.js';
import { useScenario, withAuditAndDeadLetterWorker } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'q-release',
  clientId: 'quarantine-release',
  partitions: 2,
  // `ops` signs the releases (docs/SPEC.md §11).
  services: (names, defaults) => [
    ...withAuditAndDeadLetterWorker(names, defaults),
    { name: 'ops', send: [], receive: [] },
  ],
});
const { topic, t, transport } = sc;

describe('quarantine release after a directory fix (real stack)', () => {
  it('delivers a released record exactly once', async () => {
    // The consumer reads the directory from a file that still lacks the newcomer.
    const directoryFile = join(sc.world.dir, 'directory.json');
    writeFileSync(directoryFile, JSON.stringify(sc.world.document()));
    const billingDirectory = await KeyDirectory.open({
      crypto: sc.world.crypto,
      clock: systemClock,
      authorityPublicKey: new Uint8Array(
        Buffer.from(sc.world.document().authority.publicKey, 'base64'),
      ),
      source: new FileDirectorySource(directoryFile),
    });
    const billing = await sc.consumer('billing', {
      directory: billingDirectory,
      unknownSenderWaitMs: 1500,
      keepDeliveries: true,
    });

    // A new sender, already signed into the authority's directory — but not into billing's file yet.
    const file = await generateIdentityFile('refunds', 'service', {
      crypto: sc.world.crypto,
      kms: sc.world.kms,
      clock: systemClock,
    });
    const g = publicGenerations(file).find((x) => x.state === 'active')!;
    const now = systemClock.nowMs();
    await sc.world.change([
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
      { ...sc.world.draft('ops'), releaseTopics: [topic] },
    ]);
    const refunds = await loadIdentity(file, { crypto: sc.world.crypto, kms: sc.world.kms });
    sc.defer(() => Promise.resolve(refunds.close()));
    const producer = new SealedProducer({
      transport,
      registry: sc.world.registry(),
      crypto: sc.world.crypto,
      clock: systemClock,
      identity: refunds,
      directory: await sc.world.directory(),
      valueSchemas: { [topic]: ORDER_SCHEMA },
    });
    await producer.connect();
    sc.defer(() => producer.close());
    const [sent] = await producer.send({
      topic,
      messages: [{ key: 'refund-1', value: { id: 'r-1', cents: -500, note: 'refund' } }],
    });
    await waitFor(
      async () => (await counterValue(billing.promRegistry, 'sealpost_dead_lettered_total')) >= 1,
      'the unknown sender to be dead-lettered',
      60_000,
    );
    expect(billing.total()).toBe(0);

    // The dead-letter worker quarantines it.
    const dbPath = join(sc.world.dir, 'quarantine.db');
    const store = new SqliteQuarantineStore(dbPath);
    const worker = new DeadLetterWorker({
      transport,
      store,
      crypto: sc.world.crypto,
      clock: systemClock,
      signingKeysOf: sc.signingKeysOf,
      deadLetterTopic: t.dlq,
      groupId: `dlq-${topic}`,
      registry: new Registry(),
      logger: testLogger,
    });
    await worker.start();
    sc.defer(() => worker.stop());
    await waitFor(
      async () => (await store.list({})).length === 1,
      'the dead letter in quarantine',
      30_000,
    );
    const entry = (await store.list({}))[0]!;
    expect(entry).toMatchObject({
      reason: 'HEADER',
      sourceTopic: topic,
      sourcePartition: sent!.partition,
      sourceOffset: sent!.offset,
      signatureVerified: true,
    });

    // Fix the directory, then release by reason through the CLI.
    writeFileSync(directoryFile, JSON.stringify(sc.world.document()));
    await billingDirectory.refresh();
    const env = await operatorCliEnv(sc.world, 'ops', dbPath);
    const first = await runCli(['quarantine', 'release', '--reason', 'HEADER', '--json'], env);
    expect(first.code).toBe(0);
    await waitFor(() => billing.total() >= 1, 'the released record to be delivered', 60_000);
    expect(billing.deliveries[0]).toMatchObject({
      sender: 'refunds',
      messageId: sent!.messageId,
      value: { id: 'r-1' },
    });

    // Releasing again publishes nothing; the message stays delivered once.
    const second = await runCli(['quarantine', 'release', String(entry.id), '--json'], env);
    expect(second.code).toBe(0);
    expect(second.out).toContain('already-released');
    // The second release wrote nothing (the CLI has exited: anything it produced was acknowledged):
    // the topic still ends after the one released record, and the consumer committed past it.
    const admin = transport.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const end = Object.fromEntries(ends.map((e) => [e.partition, BigInt(e.high)]));
    await waitForCommitted(transport, `billing-${topic}`, topic, end);
    expect(billing.total()).toBe(1);
    expect(billing.delivered.get(sent!.messageId)).toBe(1);
  });
});
