/**
 * The key directory on a compacted Kafka topic (keys `head` and `record/<identity>/<signKid>`, JSON
 * values): a DirectoryTopicSource for src/keys (reader, follower and publisher). One partition is
 * expected — the publisher writes records first and the head last in one batch, and a reader must see
 * them in that order. Readers never commit offsets: every readAll reads the topic from the start to
 * its end offsets through a fresh, unique consumer group (deleted afterwards); a follower keeps one
 * such group open and pushes every new head as soon as it is read (docs/OPERATIONS.md "Revocation").
 */
import type { ConnectionOptions } from 'node:tls';
import kafkajs from 'kafkajs';
import type { Consumer, Kafka as KafkaClient, KafkaConfig } from 'kafkajs';
import { toHex } from '../keys/bytes.js';
import type {
  DirectoryDocument,
  DirectoryFollowHandler,
  DirectoryFollowing,
  DirectoryTopicSource,
} from '../keys/directory/directory-document.js';
import { documentEntries } from '../keys/directory/directory-document.js';
import { DirectoryError } from '../keys/directory/directory-error.js';
import { HEAD_KEY } from '../keys/directory/directory-record.js';
import type {
  RawDirectoryEntry,
  RawDirectorySnapshot,
} from '../keys/directory/directory-snapshot.js';

const { Kafka, logLevel } = kafkajs;

export interface KafkaDirectoryTopicOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly clientId?: string;
  /** TLS / mTLS options passed to kafkajs (`{ ca, cert, key }`). */
  readonly ssl?: boolean | ConnectionOptions;
  /** Give up a read after this long (default 30 000 ms): DIRECTORY_SOURCE_UNAVAILABLE. */
  readonly readTimeoutMs?: number;
  /** Source of the unique consumer-group suffix (the injected random source). */
  readonly randomBytes: (n: number) => Uint8Array;
  /** Raw kafkajs client options (override the above). */
  readonly kafkaConfig?: Partial<KafkaConfig>;
  /** A follower that failed starts again after this long (default 5 000 ms). */
  readonly followRestartMs?: number;
}

/** A follower gives up (and reports) past this many distinct entries: a flood, not a directory. */
const MAX_FOLLOWED_ENTRIES = 200_000;

/** Reader/publisher of the directory topic. */
export class KafkaDirectoryTopic implements DirectoryTopicSource {
  readonly #kafka: KafkaClient;
  readonly #options: KafkaDirectoryTopicOptions;

  constructor(options: KafkaDirectoryTopicOptions) {
    this.#options = options;
    this.#kafka = new Kafka({
      clientId: options.clientId ?? 'sealpost-directory',
      brokers: [...options.brokers],
      ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
      logLevel: logLevel.NOTHING,
      ...options.kafkaConfig,
    });
  }

  /** Creates the topic (1 partition, cleanup.policy=compact) unless it exists. */
  async ensureTopic(replicationFactor = 1): Promise<void> {
    const admin = this.#kafka.admin();
    try {
      await admin.connect();
      const existing = await admin.listTopics();
      if (existing.includes(this.#options.topic)) return;
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: this.#options.topic,
            numPartitions: 1,
            replicationFactor,
            configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
          },
        ],
      });
    } catch (err) {
      throw unavailable('create the directory topic', err);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Writes every record, then the head, with acks=all in one batch. */
  async publish(doc: DirectoryDocument): Promise<void> {
    const producer = this.#kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    try {
      await producer.connect();
      // documentEntries lists the records first and the head last.
      const messages = documentEntries(doc).entries.map((e) => ({
        key: e.key,
        value: JSON.stringify(e.value),
      }));
      await producer.send({ topic: this.#options.topic, acks: -1, messages });
    } catch (err) {
      throw unavailable('publish the directory', err);
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  }

  /** Reads the topic from the beginning to the end offsets taken at the start of the call. */
  async readAll(): Promise<RawDirectorySnapshot> {
    const topic = this.#options.topic;
    const admin = this.#kafka.admin();
    let ends: Map<number, bigint>;
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(topic);
      ends = new Map(
        offsets
          .filter((o) => BigInt(o.high) > BigInt(o.low))
          .map((o) => [o.partition, BigInt(o.high)]),
      );
    } catch (err) {
      await admin.disconnect().catch(() => undefined);
      throw unavailable('read the directory topic offsets', err);
    }
    if (ends.size === 0) {
      await admin.disconnect().catch(() => undefined);
      return { entries: [] };
    }
    const groupId = `sealpost-directory-reader-${toHex(this.#options.randomBytes(8))}`;
    const consumer = this.#kafka.consumer({ groupId, allowAutoTopicCreation: false });
    const entries: RawDirectoryEntry[] = [];
    const remaining = new Set(ends.keys());
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error('timed out')),
          this.#options.readTimeoutMs ?? 30_000,
        );
        timer.unref();
        consumer
          .run({
            autoCommit: false,
            eachMessage: ({ partition, message }) => {
              const end = ends.get(partition);
              if (end === undefined) return Promise.resolve();
              const offset = BigInt(message.offset);
              if (offset < end) {
                entries.push({
                  key: message.key?.toString('utf8') ?? '',
                  value: parseValue(message.value),
                });
              }
              if (offset + 1n >= end && remaining.delete(partition) && remaining.size === 0)
                resolve();
              return Promise.resolve();
            },
          })
          .catch(reject);
      });
    } catch (err) {
      throw unavailable('read the directory topic', err);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
    return { entries };
  }

  /**
   * Follows the topic from its beginning with a unique consumer group: `handler.onSnapshot` gets
   * everything read so far each time a new head has been read and the reader is at the end of the
   * partition (so a publication's records, written before its head, are all in). A follower that fails
   * reports it and starts again after `followRestartMs`, re-reading from the beginning.
   */
  follow(handler: DirectoryFollowHandler): DirectoryFollowing {
    return new TopicFollower(this.#kafka, this.#options, handler);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** What a follower has read: each distinct value per key once (in first-read order), the last head. */
class FollowedEntries {
  readonly #records = new Map<string, Map<string, unknown>>();
  #head: RawDirectoryEntry | undefined;
  #count = 0;
  /** A head was read since the last snapshot. */
  newHead = false;

  /** Adds one message; false when the follower holds too many entries to go on. */
  add(key: string, value: Buffer | null): boolean {
    if (key === HEAD_KEY && value !== null) {
      this.#head = { key, value: parseValue(value) };
      this.newHead = true;
      return true;
    }
    const text = value === null ? '\u0000tombstone' : value.toString('utf8');
    let versions = this.#records.get(key);
    if (versions === undefined) {
      versions = new Map();
      this.#records.set(key, versions);
    }
    if (!versions.has(text)) {
      versions.set(text, value === null ? null : parseValue(value));
      this.#count += 1;
    }
    return this.#count <= MAX_FOLLOWED_ENTRIES;
  }

  snapshot(): RawDirectorySnapshot {
    const entries: RawDirectoryEntry[] = [];
    for (const [key, versions] of this.#records)
      for (const value of versions.values()) entries.push({ key, value });
    if (this.#head !== undefined) entries.push(this.#head);
    this.newHead = false;
    return { entries };
  }
}

/** One follower: a kafkajs consumer on the directory topic, restarted after a failure until stopped. */
class TopicFollower implements DirectoryFollowing {
  readonly caughtUp: Promise<void>;
  readonly #kafka: KafkaClient;
  readonly #options: KafkaDirectoryTopicOptions;
  readonly #handler: DirectoryFollowHandler;
  readonly #entries = new FollowedEntries();
  #markCaughtUp: () => void = () => undefined;
  #consumer: Consumer | undefined;
  #groupId: string | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    kafka: KafkaClient,
    options: KafkaDirectoryTopicOptions,
    handler: DirectoryFollowHandler,
  ) {
    this.#kafka = kafka;
    this.#options = options;
    this.#handler = handler;
    this.caughtUp = new Promise((resolve) => (this.#markCaughtUp = resolve));
    void this.#start();
  }

  async #start(): Promise<void> {
    if (this.#stopped) return;
    const topic = this.#options.topic;
    // Under the readers' group prefix, which `sealpost acl apply` grants (docs/OPERATIONS.md "Revocation").
    const groupId = `sealpost-directory-reader-follow-${toHex(this.#options.randomBytes(8))}`;
    const consumer = this.#kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 1000,
    });
    this.#consumer = consumer;
    this.#groupId = groupId;
    consumer.on(consumer.events.CRASH, (e) => {
      // kafkajs restarts itself after a retriable crash; anything else is ours to restart.
      if (e.payload.restart) return;
      this.#fail('the directory follower crashed', e.payload.error);
    });
    try {
      const admin = this.#kafka.admin();
      let empty: boolean;
      try {
        await admin.connect();
        const offsets = await admin.fetchTopicOffsets(topic);
        empty = offsets.every((o) => BigInt(o.high) <= BigInt(o.low));
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      if (empty) {
        // Nothing to catch up with: following starts once the group is joined.
        consumer.on(consumer.events.GROUP_JOIN, () => this.#markCaughtUp());
      }
      await consumer.run({
        autoCommit: false,
        eachBatch: ({ batch }) => {
          for (const message of batch.messages) {
            if (!this.#entries.add(message.key?.toString('utf8') ?? '', message.value)) {
              this.#fail('the directory topic holds too many distinct entries to follow');
              return Promise.resolve();
            }
          }
          const last = batch.messages.at(-1);
          const atEnd =
            last === undefined || BigInt(last.offset) + 1n >= BigInt(batch.highWatermark);
          if (atEnd) {
            this.#markCaughtUp();
            if (this.#entries.newHead) this.#handler.onSnapshot(this.#entries.snapshot());
          }
          return Promise.resolve();
        },
      });
    } catch (err) {
      this.#fail('could not follow the directory topic', err);
    }
  }

  /** Reports, drops the consumer and (unless stopped) starts again after the restart delay. */
  #fail(what: string, cause?: unknown): void {
    if (this.#stopped) return;
    this.#handler.onError(unavailable(what.replace(/^could not /, ''), cause ?? new Error(what)));
    void this.#dropConsumer();
    if (this.#restartTimer === undefined) {
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = undefined;
        void this.#start();
      }, this.#options.followRestartMs ?? 5000);
      this.#restartTimer.unref();
    }
  }

  async #dropConsumer(): Promise<void> {
    const consumer = this.#consumer;
    const groupId = this.#groupId;
    this.#consumer = undefined;
    this.#groupId = undefined;
    if (consumer === undefined || groupId === undefined) return;
    await consumer.disconnect().catch(() => undefined);
    const admin = this.#kafka.admin();
    try {
      await admin.connect();
      await admin.deleteGroups([groupId]);
    } catch {
      // An empty group without offsets is removed by the broker anyway.
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    await this.#dropConsumer();
  }
}

/** A JSON value, null for a tombstone, or the raw text (refused as malformed by validation). */
function parseValue(value: Buffer | null): unknown {
  if (value === null) return null;
  const text = value.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function unavailable(what: string, err: unknown): DirectoryError {
  const name = err instanceof Error ? err.name : 'error';
  return new DirectoryError('DIRECTORY_SOURCE_UNAVAILABLE', `could not ${what} (${name})`, {
    cause: err,
  });
}
