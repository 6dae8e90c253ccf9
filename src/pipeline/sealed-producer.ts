/**
 * SealedProducer: application objects in, sealed envelopes on the topic (docs/SPEC.md §4).
 * Per message: Avro through the registry (Confluent framing) → partition chosen with the default
 * partitioner → seq of the (stream, partition) → sealed in the session of (topic, recipient set) →
 * sent to that explicit partition, acks=all. A send larger than `maxRequestBytes` goes out as several
 * produce requests, one after another. A retry re-sends the exact sealed bytes; only a `resend` of
 * records that fell more than half a replay window behind re-seals them (docs/SPEC.md §4.3).
 *
 * The parts, one job each, in src/pipeline/producer/: settings (defaults resolved once), the signing-key
 * guard (sender rotation), the session pool (sessions and streams), the batch sealer, the batch
 * delivery (request chunks, their order per topic, retries, results, `sealed` events), the
 * late-resend split and the topic schemas.
 */
import { STREAM_ID_BYTES } from '../envelope/constants.js';
import { SequenceCounter } from '../envelope/sequence-counter.js';
import type { TransportProducer } from '../kafka/transport.js';
import { IdentityReloader } from '../keys/identity-source.js';
import { NO_TRACING, type SealpostTracing } from '../observability/tracing.js';
import { DirectoryPolicy } from '../keys/policy.js';
import { SuitePolicy } from '../keys/suite-policy.js';
import { registerEnvelopeSchema, DEFAULT_ENVELOPE_SUBJECT } from './envelope-schema.js';
import { resolveSuite2SchemaId } from './suite-schemas.js';
import { AVRO_CONTENT_TYPE } from './payload-content.js';
import { PipelineError } from './pipeline-error.js';
import { BatchDelivery } from './producer/batch-delivery.js';
import { BatchSealer } from './producer/batch-sealer.js';
import { splitLateRequests } from './producer/late-resend.js';
import { resolveProducerSettings, type ProducerSettings } from './producer/producer-settings.js';
import type {
  OutgoingMessage,
  OutgoingPayload,
  OutgoingRawMessage,
  PendingSource,
  SealedBatch,
  SealedProducerOptions,
  SendTarget,
  SentMessage,
} from './producer/producer-types.js';
import { toKeyBuffer } from './producer/record-key.js';
import { SessionPool } from './producer/session-pool.js';
import { SigningKeyGuard } from './producer/signing-key-guard.js';
import { TopicSchemas } from './producer/topic-schemas.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export type {
  OutgoingMessage,
  OutgoingRawMessage,
  RecordKey,
  SealedBatch,
  SealedProducerOptions,
  SendTarget,
  SentMessage,
  ValueTokenizer,
} from './producer/producer-types.js';
export { SendFailedError } from './producer/send-failed-error.js';

/** See the module comment. One instance per process and cluster is enough; it is safe for concurrent sends. */
export class SealedProducer {
  readonly #o: SealedProducerOptions;
  readonly #settings: ProducerSettings;
  readonly #producer: TransportProducer;
  readonly #guard: SigningKeyGuard;
  readonly #sessions: SessionPool;
  readonly #sealer: BatchSealer;
  readonly #delivery: BatchDelivery;
  readonly #schemas: TopicSchemas;
  readonly #tracing: SealpostTracing;
  #envelopeSchemaId: number | undefined;
  #suite2SchemaId: number | undefined;
  readonly #suites: SuitePolicy;
  #unsubscribe: (() => void) | undefined;
  #state: 'new' | 'connected' | 'closed' = 'new';

  constructor(options: SealedProducerOptions) {
    const settings = resolveProducerSettings(options);
    this.#o = options;
    this.#settings = settings;
    this.#tracing = options.tracing ?? NO_TRACING;
    this.#suites = options.suitePolicy ?? SuitePolicy.CLASSICAL;
    this.#producer = options.transport.producer(options.producerOptions);
    this.#guard = new SigningKeyGuard({
      identity: options.identity,
      directory: options.directory,
      crypto: options.crypto,
      clock: options.clock,
      logger: settings.logger,
      ...(options.identitySource === undefined
        ? {}
        : {
            reloader: new IdentityReloader({
              identity: options.identity,
              source: options.identitySource,
              clock: options.clock,
              ...(options.identityReloadIntervalMs === undefined
                ? {}
                : { minIntervalMs: options.identityReloadIntervalMs }),
            }),
          }),
    });
    this.#sessions = new SessionPool({
      crypto: options.crypto,
      clock: options.clock,
      identity: options.identity,
      directory: options.directory,
      policy: new DirectoryPolicy(options.directory, {
        clock: options.clock,
        ...(options.skewMs === undefined ? {} : { skewMs: options.skewMs }),
      }),
      suites: this.#suites,
      guard: this.#guard,
      settings,
      sealing: {
        ...(options.signEveryMessage === undefined
          ? {}
          : { signEveryMessage: options.signEveryMessage }),
        ...(options.padding === undefined ? {} : { padding: options.padding }),
      },
      envelopeSchemaId: (suite) =>
        suite === 2 ? this.#suite2EnvelopeSchemaId() : this.envelopeSchemaId,
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(options.events === undefined ? {} : { events: options.events }),
    });
    this.#sealer = new BatchSealer({
      crypto: options.crypto,
      sessions: this.#sessions,
      reportsEvents: options.events !== undefined,
      tracing: this.#tracing,
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    });
    this.#delivery = new BatchDelivery({
      producer: this.#producer,
      settings,
      tracing: this.#tracing,
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(options.events === undefined ? {} : { events: options.events }),
    });
    this.#schemas = new TopicSchemas({
      registry: options.registry,
      crypto: options.crypto,
      ...(options.valueSchemas === undefined ? {} : { valueSchemas: options.valueSchemas }),
      ...(options.tokenizer === undefined ? {} : { tokenizer: options.tokenizer }),
    });
  }

  /** The pinned envelope schema id (after connect). */
  get envelopeSchemaId(): number {
    if (this.#envelopeSchemaId === undefined)
      throw new PipelineError('PIPELINE_NOT_READY', 'connect() first');
    return this.#envelopeSchemaId;
  }

  /** The pinned suite-2 envelope schema id (after connect, when the suite policy may seal suite 2). */
  #suite2EnvelopeSchemaId(): number {
    if (this.#suite2SchemaId === undefined)
      throw new PipelineError('PIPELINE_NOT_READY', 'connect() first');
    return this.#suite2SchemaId;
  }

  /** Connects to the cluster and registers (or pins) the envelope schema. */
  async connect(): Promise<void> {
    if (this.#state === 'closed')
      throw new PipelineError('PIPELINE_CLOSED', 'the producer is closed');
    this.#envelopeSchemaId =
      this.#o.envelopeSchemaId ??
      (await registerEnvelopeSchema(
        this.#o.registry,
        this.#settings.envelopeSubject ?? DEFAULT_ENVELOPE_SUBJECT,
      ));
    this.#suite2SchemaId = await resolveSuite2SchemaId({
      suites: this.#suites,
      pinned: this.#o.suite2EnvelopeSchemaId,
      registry: this.#o.registry,
      envelopeSubject: this.#settings.envelopeSubject ?? DEFAULT_ENVELOPE_SUBJECT,
    });
    await this.#producer.connect();
    this.#state = 'connected';
    // A directory change touching the sender or a recipient ends their sessions now (keys zeroed),
    // not only at the next send.
    this.#unsubscribe = this.#o.directory.onEpochChange(() => this.#sessions.endTouched());
  }

  /**
   * Encodes, seals and sends `messages` to `topic`; resolves once every record is acknowledged, with
   * one result per message in the order given (result i is message i, `index` i).
   */
  async send(
    target: SendTarget & { readonly messages: readonly OutgoingMessage[] },
  ): Promise<SentMessage[]> {
    this.#assertConnected();
    if (target.messages.length === 0) return [];
    const schema = await this.#schemas.forTopic(target.topic);
    const tokenizer = this.#o.tokenizer;
    const encode = await this.#o.registry.encoder(schema.id);
    const payloads: OutgoingPayload[] = [];
    for (const m of target.messages) {
      const key = toKeyBuffer(m.key);
      const value = tokenizer === undefined ? m.value : tokenizer.tokenize(schema.text, m.value);
      // One object of one shape per message; the optional fields only when set (no spreads).
      const payload: Mutable<OutgoingPayload> = {
        key,
        payload: encode(value),
      };
      if (m.headers !== undefined) payload.headers = m.headers;
      if (m.entityVersion !== undefined) payload.entityVersion = m.entityVersion;
      payloads.push(payload);
    }
    return this.#sealAndSend(target, AVRO_CONTENT_TYPE, schema.fp, schema.id, payloads);
  }

  /**
   * Seals and sends raw payloads of `contentType` (not Avro; the consumer delivers them as bytes with
   * `rawContentTypes`). Used for the metadata-event batches.
   */
  async sendRaw(
    target: SendTarget & {
      readonly contentType: string;
      readonly messages: readonly OutgoingRawMessage[];
    },
  ): Promise<SentMessage[]> {
    this.#assertConnected();
    if (
      target.contentType === AVRO_CONTENT_TYPE ||
      target.contentType.length === 0 ||
      target.contentType.length > 255
    ) {
      throw new PipelineError(
        'MESSAGE_INVALID',
        'sendRaw needs a non-Avro content type of 1..255 characters',
      );
    }
    const fp = this.#schemas.rawFingerprint(target.contentType);
    const payloads = target.messages.map((m) => ({
      key: toKeyBuffer(m.key),
      payload: m.payload,
      ...(m.headers === undefined ? {} : { headers: m.headers }),
    }));
    return this.#sealAndSend(target, target.contentType, fp, undefined, payloads);
  }

  /**
   * Re-sends the records of a SEND_FAILED error; results in the original send's order, those
   * acknowledged before the failure (`pending.acknowledged`) included, not sent again. Records still
   * within half a replay window (docs/SPEC.md §6) of their stream's newest seq on the partition are
   * re-sent as the exact sealed bytes. Records further behind would be refused as STALE (SEQ_TOO_OLD)
   * once newer records of the stream were accepted, so they are sealed again under a fresh stream of
   * their own (new seq, session and createdAt; the same message id, partition, key and payload).
   * Only this producer can re-seal its own pending records; a batch from another instance is re-sent
   * as it is.
   */
  async resend(pending: SealedBatch): Promise<SentMessage[]> {
    this.#assertConnected();
    const topic = pending.requests[0]?.topic ?? '';
    const records = pending.messages.reduce((n, m) => n + m.length, 0);
    return this.#tracing.send(topic, records, () => this.#resend(pending));
  }

  async #resend(pending: SealedBatch): Promise<SentMessage[]> {
    const source = this.#delivery.sourceOf(pending);
    if (source === undefined) return this.#delivery.deliver(pending, undefined);
    const { keep, reseal } = splitLateRequests(
      this.#o.crypto,
      pending,
      source,
      this.#sessions.existingStream(source.topic),
    );
    if (reseal.length === 0) return this.#delivery.deliver(pending, source);
    await this.#guard.ensureCurrent();
    const indices: number[] = [];
    const partitions: number[] = [];
    const messageIds: Uint8Array[] = [];
    for (const i of reseal) {
      for (const m of pending.messages[i] ?? []) {
        if (source.payloads[m.index] === undefined)
          throw new PipelineError('MESSAGE_INVALID', 'not a pending batch of this producer');
        indices.push(m.index);
        partitions.push(m.partition);
        messageIds.push(Buffer.from(m.messageId, 'hex'));
      }
    }
    const fresh = new SequenceCounter(this.#o.crypto.randomBytes(STREAM_ID_BYTES));
    const resealed = this.#sealer.seal(source, { indices, partitions, messageIds }, fresh, true);
    this.#settings.logger.info(
      { topic: source.topic, records: indices.length },
      'pending records fell behind their replay window: sealed again under a fresh stream',
    );
    return this.#delivery.deliver(
      {
        requests: [...keep.map((i) => pending.requests[i]!), ...resealed.requests],
        messages: [...keep.map((i) => pending.messages[i]!), ...resealed.messages],
        ...(pending.acknowledged === undefined ? {} : { acknowledged: pending.acknowledged }),
      },
      {
        ...source,
        requestStreams: [
          ...keep.map((i) => source.requestStreams[i]!),
          ...resealed.requests.map(() => fresh.streamId),
        ],
        requestEvents: [...keep.map((i) => source.requestEvents[i] ?? []), ...resealed.events],
      },
    );
  }

  /** One send span (docs/TRACING.md) around sealing and delivering a batch. */
  #sealAndSend(
    target: SendTarget,
    contentType: string,
    schemaFp: Uint8Array,
    schemaId: number | undefined,
    payloads: readonly OutgoingPayload[],
  ): Promise<SentMessage[]> {
    return this.#tracing.send(target.topic, payloads.length, () =>
      this.#sealAndDeliver(target, contentType, schemaFp, schemaId, payloads),
    );
  }

  async #sealAndDeliver(
    target: SendTarget,
    contentType: string,
    schemaFp: Uint8Array,
    schemaId: number | undefined,
    payloads: readonly OutgoingPayload[],
  ): Promise<SentMessage[]> {
    const { topic } = target;
    const partitions: number[] = [];
    for (let i = 0; i < payloads.length; i++)
      partitions.push(await this.#producer.partitionFor(topic, payloads[i]!.key));
    await this.#guard.ensureCurrent();
    const stream = this.#sessions.streamFor(topic);
    const source: PendingSource = {
      topic,
      ...(target.recipients === undefined ? {} : { recipients: target.recipients }),
      contentType,
      schemaFp,
      schemaId,
      payloads,
      requestStreams: [],
      requestEvents: [],
    };
    // Synchronous from here to the send: concurrent sends cannot interleave inside a session.
    const { requests, messages, events } = this.#sealer.seal(source, { partitions }, stream, false);
    return this.#delivery.deliver(
      { requests, messages },
      { ...source, requestStreams: requests.map(() => stream.streamId), requestEvents: events },
    );
  }

  #assertConnected(): void {
    if (this.#state === 'closed')
      throw new PipelineError('PIPELINE_CLOSED', 'the producer is closed');
    if (this.#state !== 'connected')
      throw new PipelineError('PIPELINE_NOT_READY', 'connect() first');
  }

  /** Closes every session (zeroing its keys) and disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasConnected = this.#state === 'connected';
    this.#state = 'closed';
    this.#unsubscribe?.();
    this.#sessions.closeAll();
    if (wasConnected) await this.#producer.disconnect();
  }
}
