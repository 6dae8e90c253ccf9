/**
 * Rotating a running producer's key (docs/OPERATIONS.md, key lifecycle step 4, issue #21 item 2): with
 * the producer sending under load, `keys rotate orders` + `directory publish` exactly as the CLI runs
 * them (src/keys/operations.ts), then the producer keeps opening sessions well past the retirement
 * overlap (the consumer's skew, shortened here to 1 s so that "past the overlap" is reached quickly).
 * Invariant, from the ledger: every message the producer acknowledged is handed to the consumer, and
 * nothing is dead-lettered (a session signed by the retiring key after the overlap is refused as
 * HEADER/SENDER_RETIRED).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { FileDirectorySource } from '../../src/keys/directory/directory-document.js';
import { KeyDirectory } from '../../src/keys/directory/key-directory.js';
import { identityFileSource } from '../../src/keys/identity-source.js';
import type { LoadedIdentity } from '../../src/keys/identity.js';
import { LocalKms } from '../../src/keys/kms/local-kms.js';
import {
  authorityPublicKey,
  createIdentity,
  initAuthority,
  openIdentity,
  publishDirectory,
  rotateIdentity,
  type DirectoryGrant,
  type DirectoryLocation,
} from '../../src/keys/operations.js';
import { PipelineMetrics } from '../../src/pipeline/pipeline-metrics.js';
import { SealedConsumer, type SealedDelivery } from '../../src/pipeline/sealed-consumer.js';
import { SealedProducer } from '../../src/pipeline/sealed-producer.js';
import { SchemaRegistryClient } from '../../src/registry/schema-registry-client.js';
import { systemClock } from '../../src/runtime/clock.js';
import { getEndpoints } from '../support/endpoints.js';
import { counterValue, ORDER_SCHEMA, pipelineTopics } from '../support/pipeline-world.js';
import { createTopics, freshTopic, testTransport, waitFor } from '../support/test-transport.js';
import { Registry } from 'prom-client';

const SKEW_MS = 1000;
const transport = testTransport('producer-sender-rotation');
const topic = freshTopic('sender-rotation');
const t = pipelineTopics('sender-rotation');
const clock = systemClock;
let crypto: CryptoProvider;
let dir: string;
let kms: LocalKms;
const toClose: (() => unknown)[] = [];

beforeAll(async () => {
  crypto = await createCryptoProvider();
  dir = await mkdtemp(join(tmpdir(), 'sealpost-sender-rotation-'));
  kms = await LocalKms.open({ path: join(dir, 'kek.json'), crypto, clock, create: true });
  await createTopics(transport, [
    { topic, numPartitions: 3 },
    { topic: t.dlq },
    { topic: t.state, compacted: true },
  ]);
});

afterAll(async () => {
  for (const c of toClose.reverse()) await c();
  await kms?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('a producer whose key is rotated while it runs', () => {
  it('loads its new key and nothing it sends after the overlap is dead-lettered', async () => {
    const paths = {
      authority: join(dir, 'authority.json'),
      orders: join(dir, 'orders.json'),
      billing: join(dir, 'billing.json'),
      directory: join(dir, 'directory.json'),
    };
    const ops = { crypto, clock, kms };
    const location: DirectoryLocation = { kind: 'file', path: paths.directory };
    const grants: DirectoryGrant[] = [
      { identityFile: paths.orders, sendTopics: [topic], receiveTopics: [] },
      { identityFile: paths.billing, sendTopics: [], receiveTopics: [topic] },
    ];
    const publish = () =>
      publishDirectory({ authorityFile: paths.authority, location, grants, ...ops });
    await initAuthority({ path: paths.authority, ...ops });
    await createIdentity({ path: paths.orders, name: 'orders', ...ops });
    await createIdentity({ path: paths.billing, name: 'billing', ...ops });
    await publish();
    const pinned = (await authorityPublicKey(paths.authority, crypto)).publicKey;
    const openDirectory = async (): Promise<KeyDirectory> => {
      const d = await KeyDirectory.open({
        crypto,
        clock,
        authorityPublicKey: pinned,
        source: new FileDirectorySource(paths.directory),
      });
      toClose.push(() => d.stopAutoRefresh());
      return d;
    };
    const identity = async (path: string): Promise<LoadedIdentity> => {
      const id = await openIdentity({ path, kms, crypto });
      toClose.push(() => id.close());
      return id;
    };
    const registry = new SchemaRegistryClient({
      url: getEndpoints().schemaRegistryUrl,
      fetch: globalThis.fetch,
      requestTimeoutMs: 3000,
    });

    // The consumer: its skew (the retirement overlap) shortened to 1 s.
    const consumerProm = new Registry();
    const consumerDirectory = await openDirectory();
    const consumer = new SealedConsumer({
      transport,
      groupId: `billing-${topic}`,
      topics: [topic],
      registry,
      crypto,
      clock,
      identity: await identity(paths.billing),
      directory: consumerDirectory,
      kms,
      stateTopic: t.state,
      deadLetterTopic: t.dlq,
      fromBeginning: true,
      openPolicy: { skewMs: SKEW_MS },
      metrics: new PipelineMetrics(consumerProm),
      consumerOptions: { retryInitialDelayMs: 100, retryMaxDelayMs: 2000 },
    });
    toClose.push(() => consumer.close());
    const received = new Map<string, SealedDelivery>();
    await consumer.run({
      eachMessage: (d) => {
        received.set(d.messageId, d);
        return Promise.resolve();
      },
    });

    const acked = new Set<string>();
    // The producer: small sessions, so it opens new ones all the time; reloads through the identity file.
    const producerProm = new Registry();
    const producerMetrics = new PipelineMetrics(producerProm);
    const producerDirectory = await openDirectory();
    const orders = await identity(paths.orders);
    const kidBefore = Buffer.from(orders.signingKey().kid).toString('hex');
    const producer = new SealedProducer({
      transport,
      registry,
      crypto,
      clock,
      identity: orders,
      directory: producerDirectory,
      identitySource: identityFileSource(paths.orders, { crypto, kms }),
      valueSchemas: { [topic]: ORDER_SCHEMA },
      maxMessagesPerSession: 25,
      metrics: producerMetrics,
    });
    await producer.connect();
    toClose.push(() => producer.close());

    // A second producer of the same identity without an identitySource: after the rotation it must
    // refuse to seal (SENDER_KEY_RETIRED) rather than send what consumers will refuse.
    const staticDirectory = await openDirectory();
    const staticProm = new Registry();
    const staticProducer = new SealedProducer({
      transport,
      registry,
      crypto,
      clock,
      identity: await identity(paths.orders),
      directory: staticDirectory,
      valueSchemas: { [topic]: ORDER_SCHEMA },
      metrics: new PipelineMetrics(staticProm),
    });
    await staticProducer.connect();
    toClose.push(() => staticProducer.close());
    const one = { key: 'static', value: { id: 'static', cents: 0, note: 'n' } };
    const [first] = await staticProducer.send({ topic, messages: [one] });
    acked.add(first!.messageId);

    // The load: batches of 10 until told to stop; the ledger keeps every acknowledged message id.
    const failures: unknown[] = [];
    let stop = false;
    let n = 0;
    const load = (async () => {
      while (!stop) {
        const messages = Array.from({ length: 10 }, () => {
          const i = n++;
          return { key: `k${i % 17}`, value: { id: `o-${i}`, cents: i, note: 'rotation' } };
        });
        try {
          for (const s of await producer.send({ topic, messages })) acked.add(s.messageId);
        } catch (err) {
          failures.push(err);
        }
      }
    })();
    const sessionsOpened = () =>
      counterValue(producerProm, 'sealpost_sessions_opened_total', { side: 'producer' });

    try {
      await waitFor(() => acked.size >= 200, '200 acknowledged before the rotation', 60_000);

      // Exactly as `sealpost keys rotate orders` + `sealpost directory publish` do it; then the
      // directory refresh reaches both services (the consumer's first, as its background refresh would
      // before it sees the new key: otherwise UNKNOWN_SENDER waits for it).
      const rotatedAtMs = clock.nowMs();
      await rotateIdentity({ path: paths.orders, ...ops });
      await publish();
      await consumerDirectory.refresh();
      await producerDirectory.refresh();
      await staticDirectory.refresh();
      const refused = await staticProducer
        .send({ topic, messages: [one] })
        .catch((err: unknown) => err);
      expect(refused).toMatchObject({ code: 'SENDER_KEY_RETIRED', retriable: true });
      expect(await counterValue(staticProm, 'sealpost_sealed_total')).toBe(1);

      // Past the overlap, and the producer opens new sessions there under load.
      await waitFor(
        () => clock.nowMs() > rotatedAtMs + SKEW_MS + 500,
        'the retirement overlap to pass',
        10_000,
      );
      const sessionsAtOverlap = await sessionsOpened();
      const ackedAtOverlap = acked.size;
      await waitFor(
        async () =>
          (await sessionsOpened()) >= sessionsAtOverlap + 4 && acked.size >= ackedAtOverlap + 200,
        'four sessions and 200 acknowledged messages after the overlap',
        60_000,
      );
    } finally {
      stop = true;
      await load;
    }

    // Every acknowledged message reaches the handler or (the failure) the dead-letter topic.
    const deadLettered = () => counterValue(consumerProm, 'sealpost_dead_lettered_total');
    await waitFor(
      async () => received.size + (await deadLettered()) >= acked.size,
      'every acknowledged message handed out or dead-lettered',
      120_000,
    );
    expect(failures).toEqual([]);
    expect(await deadLettered()).toBe(0);
    const missing = [...acked].filter((id) => !received.has(id));
    expect(missing).toEqual([]);
    // The producer moved to its new key in place (the one the directory lists as active).
    expect(Buffer.from(orders.signingKey().kid).toString('hex')).not.toBe(kidBefore);
    expect(orders.generations().map((g) => g.state)).toEqual(['active', 'retiring']);
  });
});
