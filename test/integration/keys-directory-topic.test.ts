/**
 * The key directory on a real compacted Kafka topic: publish, read with validation, refresh after a
 * revocation; an old record re-injected and a tombstone over the revocation are refused and reported.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKafkajsTransport } from '../../src/kafka/kafkajs-transport.js';
import { KafkaDirectoryTopic } from '../../src/keys/directory/directory-topic.js';
import { recordKeyOf } from '../../src/keys/directory/directory-record.js';
import type { RefusedEntry } from '../../src/keys/directory/directory-snapshot.js';
import type { DirectoryError } from '../../src/keys/directory/directory-error.js';
import { KeyDirectory } from '../../src/keys/directory/key-directory.js';
import type { DirectoryAlert } from '../../src/keys/directory/key-directory.js';
import { writeIdentityFile } from '../../src/keys/identity-file.js';
import { publishDirectory, revokeIdentity } from '../../src/keys/operations.js';
import type { DirectoryLocation } from '../../src/keys/operations.js';
import { DirectoryPolicy } from '../../src/keys/policy.js';
import { getEndpoints } from '../support/endpoints.js';
import type { KeysWorld } from '../support/keys/fixtures.js';
import { makeWorld } from '../support/keys/fixtures.js';
import { testLogger, testTransport } from '../support/test-transport.js';
import type { Transport } from '../../src/kafka/transport.js';

/** A transport to a port nothing listens on, failing fast (no retries). */
function deadTransport(connectionTimeout: number): Transport {
  return createKafkajsTransport({
    brokers: ['127.0.0.1:1'],
    clientId: 'directory-dead',
    logger: testLogger,
    nowMs: () => Date.now(),
    kafkaConfig: { retry: { retries: 0 }, connectionTimeout },
  });
}

let w: KeysWorld;
let topic: KafkaDirectoryTopic;
let topicName: string;
let brokers: string[];

beforeAll(async () => {
  w = await makeWorld();
  brokers = getEndpoints().kafkaBrokers;
  topicName = `test-directory-${randomBytes(6).toString('hex')}`;
  topic = new KafkaDirectoryTopic({
    transport: testTransport('directory-topic'),
    topic: topicName,
    randomBytes: (n) => new Uint8Array(randomBytes(n)),
  });
  await topic.ensureTopic();
});
afterAll(async () => {
  await topic.close();
  const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topicName] }).catch(() => undefined);
  await admin.disconnect();
  await w.cleanup();
});

describe('directory on a compacted Kafka topic', () => {
  it('publishes, validates, refreshes, and refuses re-injected old records and tombstones', async () => {
    const authorityFile = join(w.dir, 'authority.json');
    await writeIdentityFile(authorityFile, w.authorityFile, { overwrite: false });
    const producer = await w.service('producer', ['orders'], []);
    const consumer = await w.service('consumer', [], ['orders']);
    const producerPath = join(w.dir, 'producer.json');
    const consumerPath = join(w.dir, 'consumer.json');
    await writeIdentityFile(producerPath, producer.file, { overwrite: false });
    await writeIdentityFile(consumerPath, consumer.file, { overwrite: false });
    const location: DirectoryLocation = { kind: 'topic', topic };
    const common = {
      authorityFile,
      kms: w.kms,
      crypto: w.crypto,
      clock: w.clock,
      location,
      headTtlMs: 3_600_000,
    };

    expect((await topic.readAll()).entries).toEqual([]);
    const grants = [
      { identityFile: producerPath, sendTopics: ['orders'], receiveTopics: [] },
      { identityFile: consumerPath, sendTopics: [], receiveTopics: ['orders'] },
    ];
    await publishDirectory({ ...common, grants });
    const firstRaw = await topic.readAll();
    expect(firstRaw.entries.map((e) => e.key)).toHaveLength(3);

    const refused: RefusedEntry[] = [];
    const directory = await KeyDirectory.open({
      crypto: w.crypto,
      authorityPublicKey: w.authority.signingKey().publicKey,
      source: topic,
      clock: w.clock,
      onRefused: (r) => refused.push(...r),
    });
    const policy = new DirectoryPolicy(directory, { clock: w.clock });
    expect(directory.epoch).toBe(1);
    expect(policy.allowedRecipients('orders').map((r) => r.identity)).toEqual(['consumer']);
    expect(() => policy.assertMaySend('producer', 'orders')).not.toThrow();

    // Revocation published on the topic; the service refreshes.
    w.clock.advance(60_000);
    await revokeIdentity({ ...common, identity: 'producer' });
    expect(await directory.refresh()).toBe(2);
    expect(directory.senderKey(producer.draft.signKid)?.status).toBe('revoked');

    // An attacker with write access re-injects the old (active) record, then a tombstone over it.
    const key = recordKeyOf(producer.draft);
    const oldValue = firstRaw.entries.find((e) => e.key === key)!.value;
    const kafka = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING });
    const raw = kafka.producer();
    await raw.connect();
    await raw.send({ topic: topicName, messages: [{ key, value: JSON.stringify(oldValue) }] });
    expect(await directory.refresh()).toBe(2);
    expect(directory.senderKey(producer.draft.signKid)?.status).toBe('revoked');
    expect(refused).toContainEqual({ key, code: 'DIRECTORY_ROLLBACK' });

    await raw.send({
      topic: topicName,
      messages: [
        { key, value: null },
        { key: 'record/forged/00', value: '{"not":"signed"}' },
      ],
    });
    await raw.disconnect();
    await directory.refresh();
    expect(directory.senderKey(producer.draft.signKid)?.status).toBe('revoked');
    expect(refused).toContainEqual({ key, code: 'DIRECTORY_TOMBSTONE' });
    expect(refused).toContainEqual({ key: 'record/forged/00', code: 'DIRECTORY_MALFORMED' });
    expect(() => policy.assertMaySend('producer', 'orders')).toThrow(
      expect.objectContaining({ code: 'POLICY_SENDER_REVOKED' }) as Error,
    );
  });

  it('a follower pushes each published head at once; an older head re-injected on the topic is refused with an alert', async () => {
    const followedName = `test-directory-follow-${randomBytes(6).toString('hex')}`;
    const followed = new KafkaDirectoryTopic({
      transport: testTransport('directory-follow'),
      topic: followedName,
      randomBytes: (n) => new Uint8Array(randomBytes(n)),
    });
    await followed.ensureTopic();
    const authorityFile = join(w.dir, 'authority-follow.json');
    await writeIdentityFile(authorityFile, w.authorityFile, { overwrite: false });
    const sender = await w.service('sender', ['orders'], []);
    const senderPath = join(w.dir, 'sender.json');
    await writeIdentityFile(senderPath, sender.file, { overwrite: false });
    const common = {
      authorityFile,
      kms: w.kms,
      crypto: w.crypto,
      clock: w.clock,
      location: { kind: 'topic', topic: followed } as DirectoryLocation,
      headTtlMs: 3_600_000,
    };
    await publishDirectory({
      ...common,
      grants: [{ identityFile: senderPath, sendTopics: ['orders'], receiveTopics: [] }],
    });
    const firstRaw = await followed.readAll();
    const alerts: DirectoryAlert[] = [];
    const directory = await KeyDirectory.open({
      crypto: w.crypto,
      authorityPublicKey: w.authority.signingKey().publicKey,
      source: followed,
      clock: w.clock,
      onAlert: (a) => alerts.push(a),
    });
    const errors: string[] = [];
    const epochs: number[] = [];
    directory.onEpochChange((e) => epochs.push(e));
    // The poll is an hour away: only the follower can bring the changes in this test.
    directory.startAutoRefresh(3_600_000, (err) => errors.push((err as DirectoryError).code));
    try {
      expect(await directory.whenFollowing()).toBe(true);
      w.clock.advance(60_000);
      await revokeIdentity({ ...common, identity: 'sender' });
      await vi.waitFor(() => expect(epochs).toEqual([2]), { timeout: 30_000, interval: 20 });
      expect(directory.senderKey(sender.draft.signKid)?.status).toBe('revoked');

      // Someone with write access re-publishes the whole directory from before the revocation.
      const kafka = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING });
      const raw = kafka.producer();
      await raw.connect();
      await raw.send({
        topic: followedName,
        messages: firstRaw.entries.map((e) => ({ key: e.key, value: JSON.stringify(e.value) })),
      });
      await raw.disconnect();
      await vi.waitFor(() => expect(errors).toContain('DIRECTORY_ROLLBACK'), {
        timeout: 30_000,
        interval: 20,
      });
      expect(alerts).toContainEqual(
        expect.objectContaining({ code: 'DIRECTORY_ROLLBACK', heldEpoch: 2, offeredEpoch: 1 }),
      );
      expect(directory.epoch).toBe(2);
      expect(directory.senderKey(sender.draft.signKid)?.status).toBe('revoked');
    } finally {
      await directory.close();
      const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [followedName] }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  it('a follower that cannot reach the broker reports DIRECTORY_SOURCE_UNAVAILABLE and starts again', async () => {
    const dead = new KafkaDirectoryTopic({
      transport: deadTransport(300),
      topic: 'nothing',
      randomBytes: (n) => new Uint8Array(randomBytes(n)),
      followRestartMs: 50,
    });
    const errors: DirectoryError[] = [];
    const following = dead.follow({ onSnapshot: () => undefined, onError: (e) => errors.push(e) });
    try {
      // Two reports: the first start failed, and so did the restart after it.
      await vi.waitFor(() => expect(errors.length).toBeGreaterThanOrEqual(2), {
        timeout: 20_000,
        interval: 20,
      });
      expect(errors.every((e) => e.code === 'DIRECTORY_SOURCE_UNAVAILABLE' && e.retriable)).toBe(
        true,
      );
    } finally {
      await following.stop();
    }
  });

  it('an unreachable broker is a retriable DIRECTORY_SOURCE_UNAVAILABLE', async () => {
    const dead = new KafkaDirectoryTopic({
      transport: deadTransport(500),
      topic: 'nothing',
      randomBytes: (n) => new Uint8Array(randomBytes(n)),
    });
    await expect(dead.readAll()).rejects.toMatchObject({
      code: 'DIRECTORY_SOURCE_UNAVAILABLE',
      retriable: true,
    });
  });
});
