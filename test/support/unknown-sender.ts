/**
 * The quarantine tests' common start (docs/SPEC.md §11, docs/CONSOLE.md): `billing` reads the key
 * directory from a file that does not list the sender `refunds` yet, so what `refunds` seals is
 * dead-lettered (HEADER); `refunds` is already signed into the authority's directory (sending on the
 * scenario's topic) beside `ops`, who may release on it; a dead-letter worker quarantines the dead
 * letters into a SQLite store. The scenario must list an `ops` service (releases are signed by it).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
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
import type { TestConsumer } from './pipeline-parties.js';
import { ORDER_SCHEMA } from './pipeline-world.js';
import type { Scenario } from './scenario.js';
import { testLogger } from './test-transport.js';

export interface UnknownSender {
  /** The consumer whose directory file lacks `refunds` (keeps its deliveries). */
  readonly billing: TestConsumer;
  /** A connected sealed producer signing as `refunds` (Order schema on the scenario's topic). */
  readonly producer: SealedProducer;
  /** The fix: writes the current directory into billing's file and refreshes billing's directory. */
  readonly fixDirectory: () => Promise<void>;
}

/** Starts billing on a stale directory file and a producer for the not-yet-listed `refunds`. */
export async function unknownSender(sc: Scenario): Promise<UnknownSender> {
  const { world, topic } = sc;
  const directoryFile = join(world.dir, 'directory.json');
  writeFileSync(directoryFile, JSON.stringify(world.document()));
  const billingDirectory = await KeyDirectory.open({
    crypto: world.crypto,
    clock: systemClock,
    authorityPublicKey: new Uint8Array(Buffer.from(world.document().authority.publicKey, 'base64')),
    source: new FileDirectorySource(directoryFile),
  });
  const billing = await sc.consumer('billing', {
    directory: billingDirectory,
    unknownSenderWaitMs: 1500,
    keepDeliveries: true,
  });

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
  sc.defer(() => Promise.resolve(refunds.close()));
  const producer = new SealedProducer({
    transport: sc.transport,
    registry: world.registry(),
    crypto: world.crypto,
    clock: systemClock,
    identity: refunds,
    directory: await world.directory(),
    valueSchemas: { [topic]: ORDER_SCHEMA },
  });
  await producer.connect();
  sc.defer(() => producer.close());
  return {
    billing,
    producer,
    fixDirectory: async () => {
      writeFileSync(directoryFile, JSON.stringify(world.document()));
      await billingDirectory.refresh();
    },
  };
}

/**
 * A started dead-letter worker on the scenario's dead-letter topic, quarantining into
 * `<world dir>/quarantine.db`; the worker is stopped, then the store closed, at teardown.
 */
export async function startQuarantine(
  sc: Scenario,
): Promise<{ readonly dbPath: string; readonly store: SqliteQuarantineStore }> {
  const dbPath = join(sc.world.dir, 'quarantine.db');
  const store = new SqliteQuarantineStore(dbPath);
  sc.defer(() => store.close());
  const worker = new DeadLetterWorker({
    transport: sc.transport,
    store,
    crypto: sc.world.crypto,
    clock: systemClock,
    signingKeysOf: sc.signingKeysOf,
    deadLetterTopic: sc.t.dlq,
    groupId: `dlq-${sc.topic}`,
    registry: new Registry(),
    logger: testLogger,
  });
  await worker.start();
  sc.defer(() => worker.stop());
  return { dbPath, store };
}
