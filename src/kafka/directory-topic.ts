/**
 * The key directory on a compacted Kafka topic (keys `head` and `record/<identity>/<signKid>`, JSON
 * values): a DirectoryTopicSource for src/keys (reader and publisher). One partition is expected — the
 * publisher writes records first and the head last in one batch, and a reader must see them in that
 * order. Readers never commit offsets: every readAll reads the topic from the start to its end offsets
 * through a fresh, unique consumer group (deleted afterwards).
 */
import type { ConnectionOptions } from 'node:tls';
import kafkajs from 'kafkajs';
import type { Kafka as KafkaClient, KafkaConfig } from 'kafkajs';
import { toHex } from '../keys/bytes.js';
import type {
  DirectoryDocument,
  DirectoryTopicSource,
} from '../keys/directory/directory-document.js';
import { documentEntries } from '../keys/directory/directory-document.js';
import { DirectoryError } from '../keys/directory/directory-error.js';
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
}

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

  close(): Promise<void> {
    return Promise.resolve();
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
