import { Counter, Gauge, type Registry } from 'prom-client';
import type { CryptoProvider } from '../crypto/provider.js';
import { SealpostError, type ErrorCodeTable } from '../errors.js';
import { validateMetadataEvent, type MetadataEvent } from '../events/metadata-event.js';
import type { Transport, TransportProducer } from '../kafka/transport.js';
import type { KeyDirectory } from '../keys/directory/key-directory.js';
import type { LoadedIdentity } from '../keys/identity.js';
import type { Kms } from '../keys/kms/kms.js';
import {
  decodeMetadataEventBatch,
  METADATA_EVENTS_CONTENT_TYPE,
} from '../pipeline/metadata-event-emitter.js';
import { DeadLetterWriter } from '../pipeline/dead-letter-writer.js';
import { PipelineMetrics } from '../pipeline/pipeline-metrics.js';
import type { PipelineLogger } from '../pipeline/pipeline-logger.js';
import { SealedConsumer, type SealedConsumerOptions } from '../pipeline/sealed-consumer.js';
import type { SchemaRegistryClient } from '../registry/schema-registry-client.js';
import type { Clock } from '../runtime/clock.js';
import type { AuditCheckpoint } from './audit-checkpoint.js';
import type { AuditLogStores } from './audit-log-stores.js';
import { AuditRecorder } from './audit-recorder.js';
import { AuditTlog, auditLogOrigin, type AuditLogId } from './audit-tlog.js';
import { ed25519NoteSigner } from './signed-note.js';
import type { AuditStore } from './audit-store.js';
import { RawRecordTap } from './raw-record-tap.js';

export interface AuditWorkerOptions {
  readonly transport: Transport;
  readonly registry: SchemaRegistryClient;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  /** The `audit` identity: opens the sealed events and signs checkpoints. */
  readonly identity: LoadedIdentity;
  readonly directory: KeyDirectory;
  readonly kms: Kms;
  /**
   * The logs, one per metadata-topic partition (docs/AUDIT.md). Every worker of the group must open
   * the same ones (a SQLite directory on one host, or a shared database).
   */
  readonly logs: AuditLogStores;
  /** Names the cluster in each log's origin (SEALPOST_CLUSTER_NAME); default `kafka`. */
  readonly cluster?: string;
  readonly metadataTopic: string;
  readonly checkpointTopic: string;
  readonly stateTopic: string;
  readonly deadLetterTopic: string;
  /** Default `sealpost-audit`. */
  readonly groupId?: string;
  readonly checkpointEveryEntries?: number;
  readonly checkpointEveryMs?: number;
  readonly sessionTimeoutMs?: number;
  readonly promRegistry: Registry;
  readonly logger: PipelineLogger;
  /** Extra SealedConsumer options (tests shorten backoffs). */
  readonly consumer?: Partial<SealedConsumerOptions>;
}

/** The audit worker's own failures (store and checkpoint errors have their own classes). */
export const AUDIT_WORKER_ERROR_CODES = {
  AUDIT_RECORD_UNAVAILABLE: 'yes',
} as const satisfies ErrorCodeTable;
export type AuditWorkerErrorCode = keyof typeof AUDIT_WORKER_ERROR_CODES;

export class AuditWorkerError extends SealpostError {
  declare readonly code: AuditWorkerErrorCode;
  constructor(code: AuditWorkerErrorCode, message: string) {
    super(code, message, { retriable: true });
  }
}

/**
 * Key of the binary JSON checkpoints workers published before per-partition logs (docs/AUDIT.md,
 * "Migration"); readers skip them. Checkpoints are now C2SP notes keyed by their log's origin.
 */
export const CHECKPOINT_RECORD_KEY = 'audit-checkpoint';

/** One log this member writes: its store, recorder and origin. */
interface LogWriter {
  readonly log: AuditLogId;
  readonly origin: string;
  readonly store: AuditStore;
  readonly recorder: AuditRecorder;
}

/**
 * The audit worker: consumes the metadata topic as the `audit` identity with a SealedConsumer (events
 * that fail verification go to the dead-letter topic like any sealed record) and keeps one log per
 * metadata-topic partition (docs/AUDIT.md): the events of partition p are appended to log p only —
 * one transaction per delivered batch, before the consumer commits the offset — and each log signs a
 * checkpoint at least every 1,000 entries or 60 s, stores it, and publishes it to the checkpoint topic
 * as a C2SP tlog-checkpoint note keyed by the log's origin, so a copy lives outside the store.
 * Redelivered events (same eventId) are not appended twice. Several workers in one group each write
 * the logs of the partitions assigned to them; a log taken over is continued from its store.
 *
 * An event whose `actor` is not the verified sender of its batch, or that is not a well-formed event,
 * is not appended: the valid events of its batch are, and the record is dead-lettered with its
 * original bytes (class PAYLOAD, sealed detail AUDIT_EVENT_INVALID; a batch that is not a JSON array:
 * AUDIT_BATCH_MALFORMED) before its offset is committed, so it can be inspected and released from
 * quarantine. Each refused event is also counted (`sealpost_audit_invalid_events_total`).
 */
export class AuditWorker {
  readonly #o: AuditWorkerOptions;
  readonly #cluster: string;
  /** The logs this member has written since it started, by metadata partition. */
  readonly #logs = new Map<number, LogWriter>();
  /** Logs being opened (a store open is asynchronous), so each is opened once. */
  readonly #opening = new Map<number, Promise<LogWriter>>();
  readonly #consumer: SealedConsumer;
  readonly #producer: TransportProducer;
  readonly #appended: Counter;
  readonly #invalid: Counter;
  readonly #tap = new RawRecordTap();
  readonly #deadLetters: DeadLetterWriter;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #lastError: string | undefined;
  #lastPublishedMs = 0;

  constructor(options: AuditWorkerOptions) {
    this.#o = options;
    this.#producer = options.transport.producer();
    this.#cluster = options.cluster ?? 'kafka';
    // Fails at construction on a cluster or topic name that cannot be an origin.
    auditLogOrigin({ cluster: this.#cluster, topic: options.metadataTopic, partition: 0 });
    const reg = options.promRegistry;
    this.#appended = new Counter({
      name: 'sealpost_audit_events_appended_total',
      help: 'Events appended to the audit log',
      registers: [reg],
    });
    this.#invalid = new Counter({
      name: 'sealpost_audit_invalid_events_total',
      help: 'Events refused by the audit worker (malformed, or actor not the verified sender)',
      registers: [reg],
    });
    const logs = (): LogWriter[] => [...this.#logs.values()];
    new Gauge({
      name: 'sealpost_audit_log_entries',
      help: 'Entries in the audit logs this worker has written (sum over its logs)',
      registers: [reg],
      collect() {
        this.set(logs().reduce((n, w) => n + w.recorder.entryCount, 0));
      },
    });
    new Gauge({
      name: 'sealpost_audit_last_checkpoint_count',
      help: "Entry count covered by the latest signed checkpoint (sum over this worker's logs)",
      registers: [reg],
      collect() {
        this.set(logs().reduce((n, w) => n + w.recorder.lastCheckpointCount, 0));
      },
    });
    const lastPublishedMs = (): number => this.#lastPublishedMs;
    new Gauge({
      name: 'sealpost_audit_last_checkpoint_timestamp_seconds',
      help: 'Signing time of the latest checkpoint published to the checkpoint topic (0 before the first)',
      registers: [reg],
      collect() {
        this.set(lastPublishedMs() / 1000);
      },
    });
    new Gauge({
      name: 'sealpost_audit_last_stored_checkpoint_timestamp_seconds',
      help: 'Signing time of the latest checkpoint stored beside the log (published or not)',
      registers: [reg],
      collect() {
        this.set(Math.max(0, ...logs().map((w) => w.recorder.lastCheckpointMs)) / 1000);
      },
    });
    const groupId = options.groupId ?? 'sealpost-audit';
    this.#deadLetters = new DeadLetterWriter({
      producer: this.#producer,
      topic: options.deadLetterTopic,
      crypto: options.crypto,
      clock: options.clock,
      identity: options.identity,
      directory: options.directory,
      group: groupId,
      detailRecipients: options.consumer?.deadLetterDetailRecipients ?? [
        'audit',
        'dead-letter-worker',
      ],
    });
    this.#consumer = new SealedConsumer({
      transport: this.#tap.wrap(options.transport),
      groupId,
      topics: [options.metadataTopic],
      registry: options.registry,
      crypto: options.crypto,
      clock: options.clock,
      identity: options.identity,
      directory: options.directory,
      kms: options.kms,
      stateTopic: options.stateTopic,
      deadLetterTopic: options.deadLetterTopic,
      rawContentTypes: [METADATA_EVENTS_CONTENT_TYPE],
      fromBeginning: true,
      metrics: new PipelineMetrics(reg),
      logger: options.logger,
      ...(options.sessionTimeoutMs === undefined
        ? {}
        : { consumerOptions: { sessionTimeoutMs: options.sessionTimeoutMs } }),
      ...options.consumer,
    });
  }

  async start(): Promise<void> {
    await this.#producer.connect();
    this.#running = true;
    await this.#consumer.run<Uint8Array>({
      eachMessage: async (delivery) => {
        let raw: unknown[];
        try {
          raw = decodeMetadataEventBatch(delivery.value);
        } catch {
          this.#invalid.inc();
          this.#o.logger.warn(
            { code: 'AUDIT_BATCH_MALFORMED', sender: delivery.sender },
            'metadata batch is not a JSON array; dead-lettered',
          );
          await this.#deadLetter(delivery, 'AUDIT_BATCH_MALFORMED');
          return;
        }
        const events: MetadataEvent[] = [];
        for (const e of raw) {
          if (
            validateMetadataEvent(e).length > 0 ||
            (e as MetadataEvent).actor !== delivery.sender
          ) {
            this.#invalid.inc();
            continue;
          }
          events.push(e as MetadataEvent);
        }
        // Throwing here (store or checkpoint publish failed) makes the consumer retry the record
        // later without committing its offset. Partition p's events go to log p only.
        const appended = await (await this.#writer(delivery.partition)).recorder.record(events);
        this.#appended.inc(appended);
        if (raw.length !== events.length) {
          this.#o.logger.warn(
            {
              code: 'AUDIT_EVENT_INVALID',
              sender: delivery.sender,
              refused: raw.length - events.length,
            },
            'events refused; their record dead-lettered',
          );
          // After the valid events are stored: a retry appends nothing twice (same eventIds).
          await this.#deadLetter(delivery, 'AUDIT_EVENT_INVALID');
        }
      },
    });
    this.#timer = setInterval(() => {
      Promise.all(writersOf(this.#logs).map((w) => w.recorder.tick())).then(
        () => (this.#lastError = undefined),
        (err: unknown) => {
          this.#lastError = (err as { code?: string }).code ?? 'CHECKPOINT_PUBLISH_FAILED';
          this.#o.logger.warn({ code: this.#lastError }, 'checkpoint not published; will retry');
        },
      );
    }, 1000);
    this.#timer.unref();
  }

  /** The writer of partition `partition`'s log, opened from its store on first use. */
  #writer(partition: number): Promise<LogWriter> {
    const known = this.#logs.get(partition);
    if (known !== undefined) return Promise.resolve(known);
    let opening = this.#opening.get(partition);
    if (opening === undefined) {
      opening = this.#openWriter(partition).finally(() => this.#opening.delete(partition));
      this.#opening.set(partition, opening);
    }
    return opening;
  }

  async #openWriter(partition: number): Promise<LogWriter> {
    const o = this.#o;
    const log: AuditLogId = { cluster: this.#cluster, topic: o.metadataTopic, partition };
    const origin = auditLogOrigin(log);
    const store = await o.logs.open(log);
    const producer = this.#producer;
    const checkpointKey = Buffer.from(origin);
    // The key in force at each checkpoint: after a rotation the new one (docs/AUDIT.md).
    const signer = () => ed25519NoteSigner(o.crypto, origin, o.identity.signingKey().secretKey);
    const tlog = new AuditTlog({
      crypto: o.crypto,
      entries: (fromIndex) => store.entries(fromIndex),
      origin,
      signer,
    });
    const recorder = new AuditRecorder({
      tlog,
      store,
      crypto: o.crypto,
      clock: o.clock,
      signer: {
        get kid() {
          return o.identity.signingKey().kid;
        },
        get secretKey() {
          return o.identity.signingKey().secretKey;
        },
      },
      publisher: {
        publish: async (c: AuditCheckpoint, note?: string) => {
          if (note === undefined) return;
          // Keyed by the log's origin: one partition of the checkpoint topic holds each log's notes
          // in order, and compaction (if chosen) keeps each log's newest.
          await producer.send({
            topic: o.checkpointTopic,
            partition: await producer.partitionFor(o.checkpointTopic, checkpointKey),
            records: [{ key: checkpointKey, value: Buffer.from(note) }],
          });
          // Only a checkpoint the broker acknowledged moves the published-checkpoint gauge.
          this.#lastPublishedMs = Math.max(this.#lastPublishedMs, c.timeMs);
        },
      },
      onForeignAppend: ({ expected, found }) =>
        o.logger.warn(
          { log: origin, expected, found },
          'another member appended to this log since our last append; its checkpoints re-read',
        ),
      ...(o.checkpointEveryEntries === undefined
        ? {}
        : { checkpointEveryEntries: o.checkpointEveryEntries }),
      ...(o.checkpointEveryMs === undefined ? {} : { checkpointEveryMs: o.checkpointEveryMs }),
    });
    const writer: LogWriter = { log, origin, store, recorder };
    this.#logs.set(partition, writer);
    return writer;
  }

  /**
   * Writes the record of `delivery`, as fetched, to the dead-letter topic. Throws (the consumer then
   * retries the record, fetching it again) when the write fails or the fetched record is not at hand.
   */
  async #deadLetter(
    delivery: { readonly topic: string; readonly partition: number; readonly offset: string },
    detail: 'AUDIT_BATCH_MALFORMED' | 'AUDIT_EVENT_INVALID',
  ): Promise<void> {
    const record = this.#tap.take(delivery.topic, delivery.partition, delivery.offset);
    if (record === undefined)
      throw new AuditWorkerError(
        'AUDIT_RECORD_UNAVAILABLE',
        `the fetched record ${delivery.partition}/${delivery.offset} is not at hand; retried`,
      );
    await this.#deadLetters.write(record, 'PAYLOAD', detail, 1);
  }

  /** Calls `listener` when the consumer gave up restarting (the process should exit non-zero). */
  onFailed(listener: (error: unknown) => void): void {
    this.#consumer.onFailed(listener);
  }

  /**
   * Signs and publishes a checkpoint of the current head of every log this worker has written (e.g.
   * before a planned stop), in partition order.
   */
  checkpointNow(): Promise<AuditCheckpoint[]> {
    return Promise.all(
      [...this.#logs.values()]
        .sort((a, b) => a.log.partition - b.log.partition)
        .map((w) => w.recorder.checkpointNow()),
    );
  }

  /** The origins of the logs this worker has written, by metadata partition. */
  logOrigins(): Map<number, string> {
    return new Map([...this.#logs].map(([p, w]) => [p, w.origin]));
  }

  health(): { ok: boolean; detail: Record<string, unknown> } {
    const refused = this.#consumer.refusedPartitions();
    const consumer = this.#consumer.health();
    return {
      ok: this.#running && refused.length === 0 && consumer.ok,
      detail: {
        running: this.#running,
        consumer: consumer.state,
        logs: [...this.#logs.keys()].sort((a, b) => a - b),
        entries: writersOf(this.#logs).reduce((n, w) => n + w.recorder.entryCount, 0),
        lastCheckpointCount: writersOf(this.#logs).reduce(
          (n, w) => n + w.recorder.lastCheckpointCount,
          0,
        ),
        refusedPartitions: refused.length,
        ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
      },
    };
  }

  /** Graceful stop: the delivery in hand finishes, a final checkpoint is published, all closes. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#consumer.close();
    // A log still being opened is closed with the others (an open that failed has nothing to close).
    await Promise.allSettled(this.#opening.values());
    try {
      for (const w of writersOf(this.#logs))
        if ((await w.store.head()).count > w.recorder.lastCheckpointCount)
          await w.recorder.checkpointNow();
    } finally {
      await this.#producer.disconnect();
      for (const w of writersOf(this.#logs)) await w.store.close();
      await this.#o.logs.close();
    }
  }
}

function writersOf(map: ReadonlyMap<number, LogWriter>): LogWriter[] {
  return [...map.values()];
}
