/**
 * Follows the directory topic over the Transport port (docs/OPERATIONS.md "Revocation"): one
 * throwaway consumer group reads the topic from its beginning and, each time a new head has been read
 * and the reader is at the end of the partition (so a publication's records, written before its head,
 * are all in), hands everything read so far to the handler. A follower that fails reports it and
 * starts again after a delay, re-reading from the beginning with a new group.
 */
import type { Transport, TransportConsumer } from '../../kafka/transport.js';
import type { DirectoryFollowHandler, DirectoryFollowing } from './directory-document.js';
import { HEAD_KEY } from './directory-record.js';
import type { RawDirectoryEntry, RawDirectorySnapshot } from './directory-snapshot.js';
import { keyOf, parseValue, readerGroupId, unavailable } from './directory-topic-values.js';

/** A follower gives up (and reports) past this many distinct entries: a flood, not a directory. */
const MAX_FOLLOWED_ENTRIES = 200_000;

/** What a follower needs. */
export interface DirectoryTopicFollowerOptions {
  readonly transport: Transport;
  readonly topic: string;
  /** Source of the unique consumer-group suffix. */
  readonly randomBytes: (n: number) => Uint8Array;
  /** A follower that failed starts again after this long. */
  readonly restartMs: number;
}

/** What a follower has read: each distinct value per key once (in first-read order), the last head. */
export class FollowedEntries {
  readonly #records = new Map<string, Map<string, unknown>>();
  #head: RawDirectoryEntry | undefined;
  #count = 0;
  /** A head was read since the last snapshot. */
  newHead = false;

  /** Adds one record; false when the follower holds too many entries to go on. */
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

/** One follower: a consumer on the directory topic, restarted after a failure until stopped. */
export class DirectoryTopicFollower implements DirectoryFollowing {
  readonly caughtUp: Promise<void>;
  readonly #o: DirectoryTopicFollowerOptions;
  readonly #handler: DirectoryFollowHandler;
  readonly #entries = new FollowedEntries();
  #markCaughtUp: () => void = () => undefined;
  #consumer: TransportConsumer | undefined;
  #groupId: string | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: DirectoryTopicFollowerOptions, handler: DirectoryFollowHandler) {
    this.#o = options;
    this.#handler = handler;
    this.caughtUp = new Promise((resolve) => (this.#markCaughtUp = resolve));
    void this.#start();
  }

  async #start(): Promise<void> {
    if (this.#stopped) return;
    const topic = this.#o.topic;
    // Under the readers' group prefix, which `sealpost acl apply` grants (docs/OPERATIONS.md "Revocation").
    const groupId = readerGroupId('follow-', this.#o.randomBytes);
    const consumer = this.#o.transport.consumer({ groupId, maxWaitTimeMs: 1000 });
    this.#consumer = consumer;
    this.#groupId = groupId;
    consumer.onCrash((crash) => {
      // The client restarts itself after a retriable crash; anything else is ours to restart.
      if (crash.willRestart) return;
      this.#fail('the directory follower crashed', crash.error);
    });
    try {
      const admin = this.#o.transport.admin();
      let empty: boolean;
      try {
        await admin.connect();
        const offsets = await admin.fetchTopicOffsets(topic);
        empty = offsets.every((o) => BigInt(o.high) <= BigInt(o.low));
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
      if (empty) {
        // Nothing to catch up with: following starts once the group is joined.
        consumer.onAssignment(() => this.#markCaughtUp());
      }
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        eachBatch: (batch, control) => {
          for (const record of batch.records) {
            if (!this.#entries.add(keyOf(record), record.value)) {
              this.#fail('the directory topic holds too many distinct entries to follow');
              return Promise.resolve();
            }
            control.resolveOffset(record.offset);
          }
          const last = batch.records.at(-1);
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
      }, this.#o.restartMs);
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
    const admin = this.#o.transport.admin();
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
