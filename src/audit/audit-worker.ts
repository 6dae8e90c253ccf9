import { Counter, Gauge, type Registry } from 'prom-client';
import type { CryptoProvider } from '../crypto/provider.js';
import { SealpostError } from '../errors.js';
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
import { checkpointToJson, type AuditCheckpoint } from './audit-checkpoint.js';
import { AuditRecorder } from './audit-recorder.js';
import { AuditTlog, defaultAuditOrigin } from './audit-tlog.js';
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
  readonly store: AuditStore;
  readonly metadataTopic: string;
  readonly checkpointTopic: string;
  readonly stateTopic: string;
  readonly deadLetterTopic: string;
  /** Default `sealpost-audit`. */
  readonly groupId?: string;
  readonly checkpointEveryEntries?: number;
  readonly checkpointEveryMs?: number;
  /**
   * Origin line of the log's C2SP checkpoints and name of their signing key (docs/AUDIT.md).
   * Default `sealpost/audit/<metadataTopic>`: one log per worker's metadata topic.
   */
  readonly auditOrigin?: string;
  readonly sessionTimeoutMs?: number;
  readonly promRegistry: Registry;
  readonly logger: PipelineLogger;
  /** Extra SealedConsumer options (tests shorten backoffs). */
  readonly consumer?: Partial<SealedConsumerOptions>;
}

/** The audit worker's own failures (store and checkpoint errors have their own classes). */
export class AuditWorkerError extends SealpostError {
  declare readonly code: 'AUDIT_RECORD_UNAVAILABLE';
  constructor(code: 'AUDIT_RECORD_UNAVAILABLE', message: string) {
    super(code, message, { retriable: true });
  }
}

/** Key of every record on the checkpoint topic (compaction keeps the latest; retention may keep all). */
export const CHECKPOINT_RECORD_KEY = 'audit-checkpoint';

/**
 * The audit worker: consumes the metadata topic as the `audit` identity with a SealedConsumer (events
 * that fail verification go to the dead-letter topic like any sealed record), appends every event to
 * the store — one transaction per delivered batch, before the consumer commits the offset — and signs
 * a checkpoint at least every 1,000 entries or 60 s, stores it, and publishes it to the checkpoint
 * topic so a copy lives outside the store — beside it, in the same send, a C2SP tlog-checkpoint note
 * of the same size keyed by the log's origin (docs/AUDIT.md). Redelivered events (same eventId) are
 * not appended twice.
 *
 * An event whose `actor` is not the verified sender of its batch, or that is not a well-formed event,
 * is not appended: the valid events of its batch are, and the record is dead-lettered with its
 * original bytes (class PAYLOAD, sealed detail AUDIT_EVENT_INVALID; a batch that is not a JSON array:
 * AUDIT_BATCH_MALFORMED) before its offset is committed, so it can be inspected and released from
 * quarantine. Each refused event is also counted (`sealpost_audit_invalid_events_total`).
 */
export class AuditWorker {
  readonly #o: AuditWorkerOptions;
  readonly #recorder: AuditRecorder;
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
    const producer = this.#producer;
    const signing = options.identity.signingKey();
    const origin = options.auditOrigin ?? defaultAuditOrigin(options.metadataTopic);
    const tlog = new AuditTlog({
      crypto: options.crypto,
      entries: (fromIndex) => options.store.entries(fromIndex),
      origin,
      signer: ed25519NoteSigner(options.crypto, origin, signing.secretKey),
    });
    this.#recorder = new AuditRecorder({
      tlog,
      store: options.store,
      crypto: options.crypto,
      clock: options.clock,
      signer: { kid: signing.kid, secretKey: signing.secretKey },
      publisher: {
        publish: async (c: AuditCheckpoint, note?: string) => {
          await producer.send({
            topic: options.checkpointTopic,
            partition: 0,
            records: [
              {
                key: Buffer.from(CHECKPOINT_RECORD_KEY),
                value: Buffer.from(JSON.stringify(checkpointToJson(c))),
              },
              // The same tree size as a C2SP checkpoint note, keyed by the log's origin.
              ...(note === undefined
                ? []
                : [{ key: Buffer.from(origin), value: Buffer.from(note) }]),
            ],
          });
          // Only a checkpoint the broker acknowledged moves the published-checkpoint gauge.
          this.#lastPublishedMs = Math.max(this.#lastPublishedMs, c.timeMs);
        },
      },
      ...(options.checkpointEveryEntries === undefined
        ? {}
        : { checkpointEveryEntries: options.checkpointEveryEntries }),
      ...(options.checkpointEveryMs === undefined
        ? {}
        : { checkpointEveryMs: options.checkpointEveryMs }),
    });
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
    const store = options.store;
    const recorder = this.#recorder;
    new Gauge({
      name: 'sealpost_audit_log_entries',
      help: 'Entries in the audit log',
      registers: [reg],
      async collect() {
        this.set((await store.head()).count);
      },
    });
    new Gauge({
      name: 'sealpost_audit_last_checkpoint_count',
      help: 'Entry count covered by the latest signed checkpoint',
      registers: [reg],
      collect() {
        this.set(recorder.lastCheckpointCount);
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
        this.set(recorder.lastCheckpointMs / 1000);
      },
    });
    const groupId = options.groupId ?? 'sealpost-audit';
    this.#deadLetters = new DeadLetterWriter({
      producer,
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
    await this.#recorder.open();
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
        // later without committing its offset.
        const appended = await this.#recorder.record(events);
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
      this.#recorder.tick().then(
        () => (this.#lastError = undefined),
        (err: unknown) => {
          this.#lastError = (err as { code?: string }).code ?? 'CHECKPOINT_PUBLISH_FAILED';
          this.#o.logger.warn({ code: this.#lastError }, 'checkpoint not published; will retry');
        },
      );
    }, 1000);
    this.#timer.unref();
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

  /** Signs and publishes a checkpoint of the current head now (e.g. before a planned stop). */
  checkpointNow(): Promise<AuditCheckpoint> {
    return this.#recorder.checkpointNow();
  }

  health(): { ok: boolean; detail: Record<string, unknown> } {
    const refused = this.#consumer.refusedPartitions();
    const consumer = this.#consumer.health();
    return {
      ok: this.#running && refused.length === 0 && consumer.ok,
      detail: {
        running: this.#running,
        consumer: consumer.state,
        entries: this.#recorder.entryCount,
        lastCheckpointCount: this.#recorder.lastCheckpointCount,
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
    try {
      if ((await this.#o.store.head()).count > this.#recorder.lastCheckpointCount)
        await this.#recorder.checkpointNow();
    } finally {
      await this.#producer.disconnect();
      await this.#o.store.close();
    }
  }
}
