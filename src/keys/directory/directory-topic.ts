/**
 * The key directory on a compacted Kafka topic (keys `head` and `record/<identity>/<signKid>`, JSON
 * values): a DirectoryTopicSource (reader, follower and publisher) over the Transport port, so it runs
 * on whichever Kafka client adapter the caller built. One partition is expected — the publisher writes
 * records first and the head last in one batch, and a reader must see them in that order. Readers
 * never commit offsets: every readAll reads the topic from the start to its end offsets through a
 * fresh, unique consumer group (deleted afterwards); a follower (directory-topic-follower.ts) keeps one
 * such group open and pushes every new head as soon as it is read (docs/OPERATIONS.md "Revocation").
 */
import type { ProduceRequest, Transport } from '../../kafka/transport.js';
import type {
  DirectoryDocument,
  DirectoryFollowHandler,
  DirectoryFollowing,
  DirectoryTopicSource,
} from './directory-document.js';
import { documentEntries } from './directory-document.js';
import type { RawDirectoryEntry, RawDirectorySnapshot } from './directory-snapshot.js';
import { DirectoryTopicFollower } from './directory-topic-follower.js';
import { entryOf, readerGroupId, unavailable } from './directory-topic-values.js';

/** Options of {@link KafkaDirectoryTopic}. */
export interface KafkaDirectoryTopicOptions {
  /** The Kafka client (e.g. `createKafkajsTransport(...)`); the caller owns it. */
  readonly transport: Transport;
  readonly topic: string;
  /** Give up a read after this long (default 30 000 ms): DIRECTORY_SOURCE_UNAVAILABLE. */
  readonly readTimeoutMs?: number;
  /** Source of the unique consumer-group suffix (the injected random source). */
  readonly randomBytes: (n: number) => Uint8Array;
  /** A follower that failed starts again after this long (default 5 000 ms). */
  readonly followRestartMs?: number;
}

/** Reader/publisher of the directory topic. */
export class KafkaDirectoryTopic implements DirectoryTopicSource {
  readonly #o: KafkaDirectoryTopicOptions;
  readonly #transport: Transport;

  constructor(options: KafkaDirectoryTopicOptions) {
    this.#o = options;
    this.#transport = options.transport;
  }

  /** Creates the topic (1 partition, cleanup.policy=compact) unless it exists. */
  async ensureTopic(replicationFactor = 1): Promise<void> {
    const admin = this.#transport.admin();
    try {
      await admin.connect();
      const existing = await admin.listTopics();
      if (existing.includes(this.#o.topic)) return;
      await admin.createTopics([
        { topic: this.#o.topic, numPartitions: 1, replicationFactor, compacted: true },
      ]);
    } catch (err) {
      throw unavailable('create the directory topic', err);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Writes every record, then the head, with acks=all in one batch. */
  async publish(doc: DirectoryDocument): Promise<void> {
    const topic = this.#o.topic;
    const producer = this.#transport.producer({ idempotent: true, compression: 'none' });
    try {
      await producer.connect();
      // documentEntries lists the records first and the head last; each goes to its key's partition
      // (the one partition of a directory topic), consecutive ones of a partition in one request.
      const requests: {
        topic: string;
        partition: number;
        records: ProduceRequest['records'][number][];
      }[] = [];
      for (const e of documentEntries(doc).entries) {
        const key = Buffer.from(e.key, 'utf8');
        const partition = await producer.partitionFor(topic, key);
        const record = { key, value: Buffer.from(JSON.stringify(e.value), 'utf8') };
        const last = requests.at(-1);
        if (last?.partition === partition) last.records.push(record);
        else requests.push({ topic, partition, records: [record] });
      }
      await producer.sendBatch(requests);
    } catch (err) {
      throw unavailable('publish the directory', err);
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  }

  /** Reads the topic from the beginning to the end offsets taken at the start of the call. */
  async readAll(): Promise<RawDirectorySnapshot> {
    const topic = this.#o.topic;
    const admin = this.#transport.admin();
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
    const groupId = readerGroupId('', this.#o.randomBytes);
    const consumer = this.#transport.consumer({ groupId });
    const entries: RawDirectoryEntry[] = [];
    const remaining = new Set(ends.keys());
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), this.#o.readTimeoutMs ?? 30_000);
        timer.unref();
        consumer.onCrash((crash) => {
          if (!crash.willRestart)
            reject(crash.error instanceof Error ? crash.error : new Error('the reader crashed'));
        });
        void (async () => {
          await consumer.connect();
          await consumer.subscribe({ topics: [topic], fromBeginning: true });
          await consumer.run({
            eachBatch: (batch, control) => {
              const end = ends.get(batch.partition);
              for (const record of batch.records) {
                control.resolveOffset(record.offset);
                if (end === undefined) continue;
                const offset = BigInt(record.offset);
                if (offset < end) entries.push(entryOf(record));
                if (offset + 1n >= end && remaining.delete(batch.partition) && remaining.size === 0)
                  resolve();
              }
              return Promise.resolve();
            },
          });
        })().catch(reject);
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
   * partition. A follower that fails reports it and starts again after `followRestartMs`.
   */
  follow(handler: DirectoryFollowHandler): DirectoryFollowing {
    return new DirectoryTopicFollower(
      {
        transport: this.#transport,
        topic: this.#o.topic,
        randomBytes: this.#o.randomBytes,
        restartMs: this.#o.followRestartMs ?? 5000,
      },
      handler,
    );
  }

  /** Nothing to close: the transport belongs to the caller. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
