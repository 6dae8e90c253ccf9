/**
 * The directory topic over the Transport port, on the in-memory transport: the topic is created
 * compacted; a publication is read back records first, head last; a follower pushes each published
 * head to the KeyDirectory; an older directory re-injected on the topic is refused as a rollback; every
 * throwaway reader group is deleted afterwards (the ledger: the cluster's groups).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createInMemoryTransport,
  type InMemoryTransport,
} from '../../../src/kafka/in-memory-transport.js';
import { documentEntries } from '../../../src/keys/directory/directory-document.js';
import type { DirectoryError } from '../../../src/keys/directory/directory-error.js';
import { signDirectory } from '../../../src/keys/directory/directory-signer.js';
import type { DirectoryRecordDraft } from '../../../src/keys/directory/directory-signer.js';
import { KafkaDirectoryTopic } from '../../../src/keys/directory/directory-topic.js';
import { KeyDirectory } from '../../../src/keys/directory/key-directory.js';
import type { DirectoryAlert } from '../../../src/keys/directory/key-directory.js';
import type { KeysWorld } from '../../support/keys/fixtures.js';
import { makeWorld } from '../../support/keys/fixtures.js';

const TOPIC = 'sealpost.directory';

let w: KeysWorld;
let drafts: DirectoryRecordDraft[];
let transport: InMemoryTransport;
/** The reader group suffixes handed out (8 bytes each), in order. */
let suffixes: string[];
let topic: KafkaDirectoryTopic;

beforeEach(async () => {
  w = await makeWorld();
  drafts = [
    (await w.service('orders-api', ['orders'], [])).draft,
    (await w.service('billing', [], ['orders'])).draft,
  ];
  transport = createInMemoryTransport();
  suffixes = [];
  topic = new KafkaDirectoryTopic({
    transport,
    topic: TOPIC,
    randomBytes: (n) => {
      const bytes = w.crypto.randomBytes(n);
      suffixes.push(Buffer.from(bytes).toString('hex'));
      return bytes;
    },
    readTimeoutMs: 5000,
  });
});
afterEach(async () => {
  await topic.close();
  await w.cleanup();
});

const sign = (changes: DirectoryRecordDraft[], d?: KeyDirectory) =>
  signDirectory({
    crypto: w.crypto,
    authority: w.authority,
    clock: w.clock,
    headTtlMs: 3_600_000,
    changes,
    previous: d?.snapshot(),
  });

/** Every group a reader or follower used, with whether the cluster still holds it. */
function readerGroupsLeft(): string[] {
  return suffixes
    .flatMap((s) => [`sealpost-directory-reader-${s}`, `sealpost-directory-reader-follow-${s}`])
    .filter((g) => transport.cluster.generation(g) > 0);
}

describe('KafkaDirectoryTopic on the in-memory transport', () => {
  it('creates the topic compacted with one partition, once', async () => {
    await topic.ensureTopic();
    await topic.ensureTopic();
    const admin = transport.admin();
    expect((await admin.describeTopicConfig(TOPIC))['cleanup.policy']).toBe('compact');
    const [described] = await admin.describeTopics([TOPIC]);
    expect(described!.partitions).toHaveLength(1);
    expect((await admin.listTopics()).filter((t) => t === TOPIC)).toHaveLength(1);
  });

  it('reads back a publication, records first and head last, and deletes its reader group', async () => {
    await topic.ensureTopic();
    expect(await topic.readAll()).toEqual({ entries: [] });
    const v1 = sign(drafts);
    await topic.publish(v1);
    const read = await topic.readAll();
    expect(read.entries).toEqual(documentEntries(v1).entries);
    expect(read.entries.at(-1)!.key).toBe('head');
    expect(read.entries.slice(0, -1).every((e) => e.key.startsWith('record/'))).toBe(true);
    // One reader group was used (the empty topic needed none) and it is gone.
    expect(suffixes).toHaveLength(1);
    expect(readerGroupsLeft()).toEqual([]);
  });

  it('a follower pushes a published revocation; an older directory re-injected is refused as a rollback', async () => {
    await topic.ensureTopic();
    const v1 = sign(drafts);
    await topic.publish(v1);
    const alerts: DirectoryAlert[] = [];
    const d = await KeyDirectory.open({
      crypto: w.crypto,
      authorityPublicKey: w.authority.signingKey().publicKey,
      source: topic,
      clock: w.clock,
      onAlert: (a) => alerts.push(a),
    });
    const errors: string[] = [];
    const epochs: number[] = [];
    d.onEpochChange((e) => epochs.push(e));
    // The poll is an hour away: only the follower can bring the changes in.
    d.startAutoRefresh(3_600_000, (err) => errors.push((err as DirectoryError).code));
    try {
      expect(await d.whenFollowing()).toBe(true);
      w.clock.advance(1000);
      const v2 = sign([{ ...drafts[0]!, status: 'revoked', retiredAtMs: w.clock.nowMs() }], d);
      await topic.publish(v2);
      await vi.waitFor(() => expect(epochs).toEqual([2]), { timeout: 5000, interval: 5 });
      expect(d.senderKey(drafts[0]!.signKid)?.status).toBe('revoked');

      // Someone with write access re-publishes the whole directory from before the revocation.
      const raw = transport.producer();
      await raw.connect();
      await raw.send({
        topic: TOPIC,
        partition: 0,
        records: documentEntries(v1).entries.map((e) => ({
          key: Buffer.from(e.key),
          value: Buffer.from(JSON.stringify(e.value)),
        })),
      });
      await raw.disconnect();
      await vi.waitFor(() => expect(errors).toContain('DIRECTORY_ROLLBACK'), {
        timeout: 5000,
        interval: 5,
      });
      expect(alerts).toContainEqual(
        expect.objectContaining({ code: 'DIRECTORY_ROLLBACK', heldEpoch: 2, offeredEpoch: 1 }),
      );
      expect(d.epoch).toBe(2);
      expect(d.senderKey(drafts[0]!.signKid)?.status).toBe('revoked');
      // A full re-read ends on the re-injected head too: refused the same way, epoch 2 kept.
      await expect(d.refresh()).rejects.toMatchObject({ code: 'DIRECTORY_ROLLBACK' });
      expect(d.epoch).toBe(2);
    } finally {
      await d.close();
    }
    // The follower's group and every reader's group are deleted.
    expect(suffixes.length).toBeGreaterThanOrEqual(2);
    expect(readerGroupsLeft()).toEqual([]);
  });

  it('a transport that is gone makes reads and publications a retriable DIRECTORY_SOURCE_UNAVAILABLE', async () => {
    await topic.ensureTopic();
    transport.kill();
    const unavailable = { code: 'DIRECTORY_SOURCE_UNAVAILABLE', retriable: true };
    await expect(topic.readAll()).rejects.toMatchObject(unavailable);
    await expect(topic.publish(sign(drafts))).rejects.toMatchObject(unavailable);
  });
});
