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
import { ORDER_SCHEMA } from '../support/pipeline-world.js';
import { testLogger, waitFor } from '../support/test-transport.js';
import { useScenario, withAuditAndDeadLetterWorker } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'q-requar',
  clientId: 'quarantine-requarantine',
  partitions: 2,
  // `ops` signs the releases (docs/SPEC.md §11).
  services: (names, defaults) => [
    ...withAuditAndDeadLetterWorker(names, defaults),
    { name: 'ops', send: [], receive: [] },
  ],
});
const { topic, t, transport } = sc;

describe('a released record whose cause was not fixed (real stack)', () => {
  it('comes back linked (attempt 2, flagged), is skipped by a bulk release, and is delivered once after the fix', async () => {
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

    const dbPath = join(sc.world.dir, 'quarantine.db');
    const store = new SqliteQuarantineStore(dbPath);
    sc.defer(() => store.close());
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
      async () => (await store.list({ status: 'quarantined' })).length === 1,
      'the dead letter in quarantine',
      60_000,
    );
    const first = (await store.list({}))[0]!;
    expect(first).toMatchObject({ reason: 'HEADER', attempt: 1 });

    // Released before the directory is fixed: the consumer refuses it again.
    const env = await operatorCliEnv(sc.world, 'ops', dbPath);
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
    writeFileSync(directoryFile, JSON.stringify(sc.world.document()));
    await billingDirectory.refresh();
    const fixed = await runCli(['quarantine', 'release', String(back.id), '--json'], env);
    expect(fixed.code, fixed.err).toBe(0);
    await waitFor(() => billing.total() >= 1, 'the released record to be delivered', 60_000);
    expect(billing.delivered.get(sent!.messageId)).toBe(1);
    expect((await store.list({})).map((x) => x.status)).toEqual(['released', 'released']);
  });
});
