/**
 * SealedProducer: application objects in, sealed envelopes on the topic (protocol.md §Sealing).
 * Per message: Avro through the registry (Confluent framing) → partition chosen with the default
 * partitioner → seq of the (stream, partition) → sealed in the session of (topic, recipient set) →
 * sent to that explicit partition, acks=all. A retry re-sends the exact sealed bytes; only a `resend`
 * of records that fell more than half a replay window behind re-seals them (docs/SPEC.md §4.3).
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { hash256, schemaFingerprint } from '../envelope/derive.js';
import { STREAM_ID_BYTES } from '../envelope/constants.js';
import type { PaddingPolicy } from '../envelope/padding.js';
import { createSealingSession, type SealingSession } from '../envelope/sealing-session.js';
import { REPLAY_WINDOW_BITS } from '../envelope/replay-window.js';
import { SequenceCounter } from '../envelope/sequence-counter.js';
import type {
  ProduceRequest,
  Transport,
  TransportHeader,
  TransportProducer,
  TransportProducerOptions,
} from '../kafka/transport.js';
import type { KeyDirectory, RecipientKey } from '../keys/directory/key-directory.js';
import type { LoadedIdentity } from '../keys/identity.js';
import { IdentityReloader, type IdentitySource } from '../keys/identity-source.js';
import { DirectoryPolicy, newestActiveRecord, PolicyError } from '../keys/policy.js';
import { RegistryError } from '../registry/registry-error.js';
import type { SchemaRegistryClient } from '../registry/schema-registry-client.js';
import type { Clock } from '../runtime/clock.js';
import { registerEnvelopeSchema, DEFAULT_ENVELOPE_SUBJECT } from './envelope-schema.js';
import type { MetadataSink, PipelineEvent } from './metadata-sink.js';
import { AVRO_CONTENT_TYPE, rawContentFingerprint } from './payload-content.js';
import { PipelineError } from './pipeline-error.js';
import { describeError, silentLogger, type PipelineLogger } from './pipeline-logger.js';
import type { PipelineMetrics } from './pipeline-metrics.js';

/** A Kafka record key as the application gives it. */
export type RecordKey = Buffer | Uint8Array | string | null;

/** One message to send: `value` is an object of the topic's Avro schema. */
export interface OutgoingMessage {
  readonly key: RecordKey;
  readonly value: unknown;
  /** Clear, unauthenticated Kafka headers: never put anything sensitive here. */
  readonly headers?: readonly TransportHeader[];
  /** For compacted topics: a version that must grow per key (0 = unused, the default). */
  readonly entityVersion?: number;
}

/** One raw (non-Avro) payload to send with `sendRaw`. */
export interface OutgoingRawMessage {
  readonly key: RecordKey;
  readonly payload: Uint8Array;
  readonly headers?: readonly TransportHeader[];
}

/** What `send` and `sendRaw` accept besides the messages. */
export interface SendTarget {
  readonly topic: string;
  /**
   * Seal only for these identities (each must be allowed to receive on the topic, else PolicyError
   * RECIPIENT_NOT_ALLOWED). Default: every identity the directory allows on the topic.
   */
  readonly recipients?: readonly string[];
}

/** The coordinates and ids of one sent message. */
export interface SentMessage {
  /** The message's position in the `messages` given to `send`/`sendRaw` (results come in this order). */
  readonly index: number;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** 32 hex characters. */
  readonly messageId: string;
  readonly createdAtMs: number;
  readonly seq: number;
}

/** Sealed records waiting for an acknowledgement (carried by SEND_FAILED errors for `resend`). */
export interface SealedBatch {
  readonly requests: readonly ProduceRequest[];
  /** Per request, its messages in order. */
  readonly messages: readonly (readonly Omit<SentMessage, 'offset'>[])[];
}

/**
 * A SEND_FAILED error: the sealed records are kept so `resend(err.pending)` re-sends them (unchanged,
 * or sealed again under a fresh stream when they fell behind the replay window, see `resend`).
 */
export class SendFailedError extends PipelineError {
  readonly pending: SealedBatch;
  constructor(pending: SealedBatch, cause: unknown) {
    super(
      'SEND_FAILED',
      'the broker did not acknowledge the sealed records; pass err.pending to resend()',
      { retriable: true, cause },
    );
    this.pending = pending;
  }
}

/** Options of {@link SealedProducer}. */
export interface SealedProducerOptions {
  readonly transport: Transport;
  readonly registry: SchemaRegistryClient;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  /** This service's identity (its active signing key signs the sessions). */
  readonly identity: LoadedIdentity;
  readonly directory: KeyDirectory;
  /**
   * Where the identity's keys are loaded again after `keys rotate` + `directory publish`
   * (docs/OPERATIONS.md, sender rotation), e.g. `identityFileSource(path, { crypto, kms })`. When the
   * directory lists a newer active signing key for this identity than the one held (or marks the held
   * one retiring), the producer reloads through it before opening the next session. Without it (or
   * if the reload does not bring that key) sending fails with SENDER_KEY_RETIRED before anything is
   * sealed: consumers refuse sessions signed by a retiring key once its overlap has passed.
   */
  readonly identitySource?: IdentitySource;
  /** Reloads closer together than this reuse the last result (default 5,000 ms). */
  readonly identityReloadIntervalMs?: number;
  /** Topic → Avro schema text, registered under `<topic>-value` at first use. Default: the subject's latest version. */
  readonly valueSchemas?: Readonly<Record<string, string>>;
  /** Pinned envelope schema id; default: registered from schemas/envelope.avsc under `envelopeSubject` at connect. */
  readonly envelopeSchemaId?: number;
  readonly envelopeSubject?: string;
  /** Ed25519 signature inside every message (defeats key-compromise impersonation). Default false. */
  readonly signEveryMessage?: boolean;
  /** Rotate the session after this many messages. Default 10,000 (1 = a fresh key per message). */
  readonly maxMessagesPerSession?: number;
  /** Rotate the session after this age. Default 3,600,000 (1 h). */
  readonly maxSessionAgeMs?: number;
  /** Padding policy (default padmé). */
  readonly padding?: PaddingPolicy;
  /** Largest ciphertext to produce (consumers refuse larger). Default 1 MiB + 64 KiB. */
  readonly maxCiphertextBytes?: number;
  /** Attempts to get the exact sealed bytes acknowledged before SEND_FAILED. Default 5. */
  readonly maxSendAttempts?: number;
  /** First retry delay (doubles per attempt). Default 200 ms. */
  readonly retryDelayMs?: number;
  readonly producerOptions?: TransportProducerOptions;
  readonly metrics?: PipelineMetrics;
  readonly logger?: PipelineLogger;
  /** Where `sealed` and `session_opened` events go (none by default). */
  readonly events?: MetadataSink;
  /** Directory clock skew tolerance for the policy (default 60 s). */
  readonly skewMs?: number;
  /**
   * Field tokenization hook (src/tokenize FieldTokenizer implements it): `valueSchemas` texts are
   * registered as `writerSchemaFor(text)` and every value is passed through `tokenize` before it is
   * encoded and sealed. Without it, a topic whose writer schema declares token fields is refused.
   */
  readonly tokenizer?: ValueTokenizer;
}

/** The producer's tokenization hook (additive; see SealedProducerOptions.tokenizer). */
export interface ValueTokenizer {
  /** The schema to register for an application schema (annotated fields become token fields). */
  writerSchemaFor(schemaText: string): string;
  /** The value with its token fields (per the registered writer schema) replaced by tokens. */
  tokenize(writerSchemaText: string, value: unknown): unknown;
}

/** One message as the producer seals it (Avro-encoded already for `send`). */
interface OutgoingPayload {
  readonly key: Buffer | null;
  readonly payload: Uint8Array;
  readonly headers?: readonly TransportHeader[];
  readonly entityVersion?: number;
}

/** One message to seal: its input index, partition and, for a re-seal, the message id it keeps. */
interface SealItem {
  readonly index: number;
  readonly partition: number;
  readonly payload: OutgoingPayload;
  readonly messageId?: Uint8Array;
}

/**
 * What `resend` needs to seal a pending batch again; kept by the producer (a WeakMap keyed by the
 * batch), never in the error, and dropped with the batch.
 */
interface PendingSource {
  readonly topic: string;
  readonly recipients?: readonly string[];
  readonly contentType: string;
  readonly schemaFp: Uint8Array;
  readonly schemaId: number | undefined;
  /** Input index → payload. */
  readonly payloads: ReadonlyMap<number, OutgoingPayload>;
  /** Per request of the batch, the stream id its records were sealed in. */
  readonly requestStreams: readonly Uint8Array[];
  /** Per request of the batch, its `sealed` events: emitted once the broker acknowledged it. */
  readonly requestEvents: readonly (readonly PipelineEvent[])[];
}

interface TopicSchema {
  readonly id: number;
  readonly fp: Uint8Array;
  readonly text: string;
}

interface ActiveSession {
  readonly session: SealingSession;
  readonly recipients: readonly RecipientKey[];
  /** Serials of the sender's and recipients' directory records when the session opened. */
  readonly touched: string;
  epoch: number;
  /** `identity.revision` when the session opened: a reloaded identity may sign with another key. */
  readonly identityRevision: number;
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

function toKeyBuffer(key: RecordKey): Buffer | null {
  if (key === null) return null;
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  if (Buffer.isBuffer(key)) return key;
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  throw new PipelineError(
    'MESSAGE_INVALID',
    'a record key must be a Buffer, Uint8Array, string or null',
  );
}

const hex = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** See the module comment. One instance per process and cluster is enough; it is safe for concurrent sends. */
export class SealedProducer {
  readonly #o: SealedProducerOptions;
  readonly #producer: TransportProducer;
  readonly #policy: DirectoryPolicy;
  readonly #logger: PipelineLogger;
  readonly #streams = new Map<string, SequenceCounter>();
  readonly #sessions = new Map<string, ActiveSession>();
  readonly #schemas = new Map<string, Promise<TopicSchema>>();
  readonly #rawFps = new Map<string, Uint8Array>();
  readonly #reloader: IdentityReloader | undefined;
  readonly #pendingSources = new WeakMap<SealedBatch, PendingSource>();
  /** `${directory epoch}/${identity revision}` of the last signing-key check that found it current. */
  #signingKeyCheckedAt = '';
  #envelopeSchemaId: number | undefined;
  #unsubscribe: (() => void) | undefined;
  #state: 'new' | 'connected' | 'closed' = 'new';

  constructor(options: SealedProducerOptions) {
    const max = options.maxMessagesPerSession ?? 10_000;
    if (!Number.isInteger(max) || max < 1 || max > 0xffff_ffff)
      throw new PipelineError(
        'MESSAGE_INVALID',
        'maxMessagesPerSession must be an integer in [1, 2^32)',
      );
    this.#o = options;
    this.#producer = options.transport.producer(options.producerOptions);
    this.#policy = new DirectoryPolicy(options.directory, {
      clock: options.clock,
      ...(options.skewMs === undefined ? {} : { skewMs: options.skewMs }),
    });
    this.#logger = options.logger ?? silentLogger;
    this.#reloader =
      options.identitySource === undefined
        ? undefined
        : new IdentityReloader({
            identity: options.identity,
            source: options.identitySource,
            clock: options.clock,
            ...(options.identityReloadIntervalMs === undefined
              ? {}
              : { minIntervalMs: options.identityReloadIntervalMs }),
          });
  }

  /** The pinned envelope schema id (after connect). */
  get envelopeSchemaId(): number {
    if (this.#envelopeSchemaId === undefined)
      throw new PipelineError('PIPELINE_NOT_READY', 'connect() first');
    return this.#envelopeSchemaId;
  }

  /** Connects to the cluster and registers (or pins) the envelope schema. */
  async connect(): Promise<void> {
    if (this.#state === 'closed')
      throw new PipelineError('PIPELINE_CLOSED', 'the producer is closed');
    this.#envelopeSchemaId =
      this.#o.envelopeSchemaId ??
      (await registerEnvelopeSchema(
        this.#o.registry,
        this.#o.envelopeSubject ?? DEFAULT_ENVELOPE_SUBJECT,
      ));
    await this.#producer.connect();
    this.#state = 'connected';
    // A directory change touching the sender or a recipient ends their sessions now (keys zeroed),
    // not only at the next send.
    this.#unsubscribe = this.#o.directory.onEpochChange(() => this.#endTouchedSessions());
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
    const schema = await this.#topicSchema(target.topic);
    const payloads: {
      key: Buffer | null;
      payload: Uint8Array;
      headers?: readonly TransportHeader[];
      entityVersion?: number;
    }[] = [];
    for (const m of target.messages) {
      const key = toKeyBuffer(m.key);
      const value =
        this.#o.tokenizer === undefined
          ? m.value
          : this.#o.tokenizer.tokenize(schema.text, m.value);
      const payload = await this.#o.registry.encode(schema.id, value);
      payloads.push({
        key,
        payload,
        ...(m.headers === undefined ? {} : { headers: m.headers }),
        ...(m.entityVersion === undefined ? {} : { entityVersion: m.entityVersion }),
      });
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
    let fp = this.#rawFps.get(target.contentType);
    if (fp === undefined) {
      fp = rawContentFingerprint(this.#o.crypto, target.contentType);
      this.#rawFps.set(target.contentType, fp);
    }
    const payloads = target.messages.map((m) => ({
      key: toKeyBuffer(m.key),
      payload: m.payload,
      ...(m.headers === undefined ? {} : { headers: m.headers }),
    }));
    return this.#sealAndSend(target, target.contentType, fp, undefined, payloads);
  }

  /**
   * Re-sends the records of a SEND_FAILED error; results in the original send's order. Records still
   * within half a replay window (docs/SPEC.md §6) of their stream's newest seq on the partition are
   * re-sent as the exact sealed bytes. Records further behind would be refused as STALE (SEQ_TOO_OLD)
   * once newer records of the stream were accepted, so they are sealed again under a fresh stream of
   * their own (new seq, session and createdAt; the same message id, partition, key and payload).
   * Only this producer can re-seal its own pending records; a batch from another instance is re-sent
   * as it is.
   */
  async resend(pending: SealedBatch): Promise<SentMessage[]> {
    this.#assertConnected();
    const source = this.#pendingSources.get(pending);
    if (source === undefined) return this.#deliver(pending, undefined);
    const current = this.#streams.get(source.topic);
    const keep: number[] = [];
    const reseal: number[] = [];
    pending.requests.forEach((request, i) => {
      const metas = pending.messages[i] ?? [];
      const lowest = metas.reduce((a, m) => Math.min(a, m.seq), Number.MAX_SAFE_INTEGER);
      const stream = source.requestStreams[i];
      const behind =
        current !== undefined &&
        stream !== undefined &&
        this.#o.crypto.equalConstantTime(stream, current.streamId) &&
        current.peek(request.partition) - lowest > REPLAY_WINDOW_BITS / 2;
      (behind ? reseal : keep).push(i);
    });
    if (reseal.length === 0) return this.#deliver(pending, source);
    await this.#ensureSigningKeyCurrent();
    const items: SealItem[] = [];
    for (const i of reseal) {
      for (const m of pending.messages[i] ?? []) {
        const payload = source.payloads.get(m.index);
        if (payload === undefined)
          throw new PipelineError('MESSAGE_INVALID', 'not a pending batch of this producer');
        items.push({
          index: m.index,
          partition: m.partition,
          payload,
          messageId: Buffer.from(m.messageId, 'hex'),
        });
      }
    }
    const fresh = new SequenceCounter(this.#o.crypto.randomBytes(STREAM_ID_BYTES));
    const resealed = this.#seal(source, items, fresh, true);
    this.#logger.info(
      { topic: source.topic, records: items.length },
      'pending records fell behind their replay window: sealed again under a fresh stream',
    );
    return this.#deliver(
      {
        requests: [...keep.map((i) => pending.requests[i]!), ...resealed.requests],
        messages: [...keep.map((i) => pending.messages[i]!), ...resealed.messages],
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

  async #sealAndSend(
    target: SendTarget,
    contentType: string,
    schemaFp: Uint8Array,
    schemaId: number | undefined,
    payloads: readonly OutgoingPayload[],
  ): Promise<SentMessage[]> {
    const { topic } = target;
    const items: SealItem[] = [];
    for (let i = 0; i < payloads.length; i++) {
      const payload = payloads[i]!;
      items.push({
        index: i,
        payload,
        partition: await this.#producer.partitionFor(topic, payload.key),
      });
    }
    await this.#ensureSigningKeyCurrent();
    const stream = this.#streamFor(topic);
    const source: PendingSource = {
      topic,
      ...(target.recipients === undefined ? {} : { recipients: target.recipients }),
      contentType,
      schemaFp,
      schemaId,
      payloads: new Map(items.map((x) => [x.index, x.payload])),
      requestStreams: [],
      requestEvents: [],
    };
    const { requests, messages, events } = this.#seal(source, items, stream, false);
    return this.#deliver(
      { requests, messages },
      { ...source, requestStreams: requests.map(() => stream.streamId), requestEvents: events },
    );
  }

  /**
   * Seals `items` (synchronously: concurrent sends cannot interleave inside a session) into one
   * produce request per partition. `oneOff`: in a session of its own, closed at the end (a re-seal
   * under a fresh stream), not the cached session of the topic.
   */
  #seal(
    source: PendingSource,
    items: readonly SealItem[],
    stream: SequenceCounter,
    oneOff: boolean,
  ): SealedBatch & { readonly events: readonly (readonly PipelineEvent[])[] } {
    const { topic, contentType, schemaFp, schemaId } = source;
    const next = (): ActiveSession =>
      oneOff
        ? this.#openSession(topic, this.#recipientsFor(topic, source.recipients), stream)
        : this.#sessionFor(topic, source.recipients);
    let session = next();
    const byPartition = new Map<
      number,
      {
        records: { key: Buffer | null; value: Buffer; headers?: readonly TransportHeader[] }[];
        messages: Omit<SentMessage, 'offset'>[];
        events: PipelineEvent[];
      }
    >();
    const metrics = this.#o.metrics;
    const events = this.#o.events;
    try {
      for (const item of items) {
        const p = item.payload;
        const partition = item.partition;
        const started = process.hrtime.bigint();
        if (!session.session.isUsable()) {
          if (oneOff) session.session.close();
          session = next();
        }
        const seq = stream.next(partition);
        const sealed = session.session.seal({
          partition,
          seq,
          key: p.key,
          schemaFp,
          contentType,
          payload: p.payload,
          ...(p.entityVersion === undefined ? {} : { entityVersion: p.entityVersion }),
          ...(item.messageId === undefined ? {} : { messageId: item.messageId }),
        });
        metrics?.sealSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        let group = byPartition.get(partition);
        if (group === undefined) {
          group = { records: [], messages: [], events: [] };
          byPartition.set(partition, group);
        }
        const value = Buffer.from(
          sealed.value.buffer,
          sealed.value.byteOffset,
          sealed.value.byteLength,
        );
        group.records.push({
          key: p.key,
          value,
          ...(p.headers === undefined ? {} : { headers: p.headers }),
        });
        group.messages.push({
          index: item.index,
          topic,
          partition,
          messageId: hex(sealed.messageId),
          createdAtMs: sealed.createdAtMs,
          seq,
        });
        if (events !== undefined)
          group.events.push({
            type: 'sealed',
            messageId: hex(sealed.messageId),
            recipients: session.recipients.map((r) => r.identity),
            topic,
            partition,
            ...(schemaId === undefined ? {} : { schemaId }),
            ciphertextDigest: hex(hash256(this.#o.crypto, sealed.value)),
            sizeBytes: sealed.value.length,
          });
      }
    } finally {
      if (oneOff) session.session.close();
    }
    const requests: ProduceRequest[] = [];
    const messages: Omit<SentMessage, 'offset'>[][] = [];
    const batchEvents: PipelineEvent[][] = [];
    for (const [partition, g] of byPartition) {
      requests.push({ topic, partition, records: g.records });
      messages.push(g.messages);
      batchEvents.push(g.events);
    }
    return { requests, messages, events: batchEvents };
  }

  async #deliver(pending: SealedBatch, source: PendingSource | undefined): Promise<SentMessage[]> {
    const attempts = this.#o.maxSendAttempts ?? 5;
    let delay = this.#o.retryDelayMs ?? 200;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const acks = await this.#producer.sendBatch(pending.requests);
        const out: SentMessage[] = [];
        acks.forEach((ack, i) => {
          const base = BigInt(ack.baseOffset);
          (pending.messages[i] ?? []).forEach((m, j) =>
            out.push({ ...m, offset: (base + BigInt(j)).toString() }),
          );
        });
        for (const r of pending.requests)
          this.#o.metrics?.sealed.inc({ topic: r.topic }, r.records.length);
        // `sealed` events only for what the broker acknowledged (never for a send that failed).
        const events = this.#o.events;
        if (events !== undefined && source !== undefined)
          for (const group of source.requestEvents) for (const e of group) events.emit(e);
        // Requests are grouped by partition; the caller pairs result i with message i.
        return out.sort((a, b) => a.index - b.index);
      } catch (err) {
        lastError = err;
        const retriable =
          typeof err === 'object' &&
          err !== null &&
          (err as { retriable?: unknown }).retriable === true;
        this.#logger.warn({ err: describeError(err), attempt }, 'sealed records not acknowledged');
        if (!retriable || attempt === attempts) break;
        await sleep(delay);
        delay = Math.min(delay * 2, 10_000);
      }
    }
    // What a later resend needs to seal them again stays here, never in the error.
    if (source !== undefined) this.#pendingSources.set(pending, source);
    throw new SendFailedError(pending, lastError);
  }

  /**
   * Why the held signing key must not sign a new session, or undefined when it may: the directory
   * marks it retiring or revoked, or lists a newer active key for this identity (after `keys rotate` +
   * `directory publish`, consumers refuse sessions created after retiredAt + skew, docs/SPEC.md
   * §Rejections SENDER_RETIRED). A key the directory does not list yet (rotated, not yet published) is
   * left to the policy.
   */
  #signingKeyProblem(): { code: 'SENDER_KEY_RETIRED' | 'SENDER_REVOKED'; why: string } | undefined {
    const dir = this.#o.directory;
    const identity = this.#o.identity;
    const stamp = `${dir.epoch}/${identity.revision}`;
    if (stamp === this.#signingKeyCheckedAt) return undefined;
    const kid = identity.signingKey().kid;
    const held = dir.senderKey(kid);
    if (held === undefined || held.identity !== identity.name) {
      this.#signingKeyCheckedAt = stamp;
      return undefined;
    }
    if (held.status === 'revoked')
      return { code: 'SENDER_REVOKED', why: 'the directory lists the signing key as revoked' };
    if (held.status === 'retiring')
      return { code: 'SENDER_KEY_RETIRED', why: 'the directory lists the signing key as retiring' };
    const newest = newestActiveRecord(dir.records(), identity.name, this.#o.clock.nowMs());
    if (newest !== undefined && !this.#o.crypto.equalConstantTime(newest.signKid, kid))
      return {
        code: 'SENDER_KEY_RETIRED',
        why: 'the directory lists a newer active signing key for this identity',
      };
    this.#signingKeyCheckedAt = stamp;
    return undefined;
  }

  /** Throws the signing-key problem, if any, as a typed error (before anything is sealed). */
  #assertSigningKeyCurrent(): void {
    const problem = this.#signingKeyProblem();
    if (problem === undefined) return;
    const name = this.#o.identity.name;
    if (problem.code === 'SENDER_REVOKED')
      throw new PolicyError('SENDER_REVOKED', `identity ${name}: ${problem.why}`);
    throw new PipelineError(
      'SENDER_KEY_RETIRED',
      `identity ${name}: ${problem.why} and the producer holds no newer key; pass identitySource ` +
        'so it reloads the rotated identity file, or restart it with that file',
      { retriable: true },
    );
  }

  /** Reloads the identity through `identitySource` when its signing key is no longer current. */
  async #ensureSigningKeyCurrent(): Promise<void> {
    if (this.#signingKeyProblem() === undefined) return;
    if (this.#reloader !== undefined) {
      try {
        const { addedBoxKids } = await this.#reloader.reload();
        if (addedBoxKids.length > 0)
          this.#logger.info(
            { identity: this.#o.identity.name, added: addedBoxKids.length },
            'identity reloaded after a key rotation',
          );
      } catch (err) {
        throw new PipelineError(
          'SENDER_KEY_RETIRED',
          `identity ${this.#o.identity.name}: the signing key is no longer current and reloading ` +
            'the identity failed',
          { retriable: true, cause: err },
        );
      }
    }
    this.#assertSigningKeyCurrent();
  }

  #endTouchedSessions(): void {
    for (const [k, s] of this.#sessions) {
      let keep: boolean;
      try {
        keep = this.#touched(s.recipients) === s.touched;
      } catch {
        keep = false;
      }
      if (keep) continue;
      s.session.close();
      this.#sessions.delete(k);
    }
  }

  #streamFor(topic: string): SequenceCounter {
    let s = this.#streams.get(topic);
    if (s === undefined) {
      s = new SequenceCounter(this.#o.crypto.randomBytes(STREAM_ID_BYTES));
      this.#streams.set(topic, s);
    }
    return s;
  }

  /** The serials of the directory records of the sender and these recipients (what a change would touch). */
  #touched(recipients: readonly RecipientKey[]): string {
    const names = new Set([this.#o.identity.name, ...recipients.map((r) => r.identity)]);
    return this.#o.directory
      .records()
      .filter((r) => names.has(r.identity))
      .map((r) => `${r.identity}/${hex(r.signKid)}/${r.serial}`)
      .sort()
      .join(',');
  }

  /**
   * The usable session of (topic, recipient set), opening a new one when there is none, it is
   * exhausted or expired, or a directory change touched the sender or a recipient.
   */
  #sessionFor(topic: string, explicit: readonly string[] | undefined): ActiveSession {
    const dir = this.#o.directory;
    const recipients = this.#recipientsFor(topic, explicit);
    const setKey = `${topic}\n${recipients.map((r) => hex(r.kid)).join(',')}`;
    const current = this.#sessions.get(setKey);
    if (current !== undefined) {
      let usable =
        current.session.isUsable() && current.identityRevision === this.#o.identity.revision;
      if (usable && current.epoch !== dir.epoch) {
        usable = this.#touched(recipients) === current.touched;
        if (usable) current.epoch = dir.epoch;
      }
      if (usable) return current;
      current.session.close();
      this.#sessions.delete(setKey);
    }
    const active = this.#openSession(topic, recipients, this.#streamFor(topic));
    this.#sessions.set(setKey, active);
    return active;
  }

  /** The recipients to seal to on `topic` now (the directory fresh, the sender allowed). */
  #recipientsFor(topic: string, explicit: readonly string[] | undefined): readonly RecipientKey[] {
    this.#o.directory.assertFresh();
    this.#policy.assertMaySend(this.#o.identity.name, topic);
    const recipients =
      explicit === undefined
        ? this.#policy.allowedRecipients(topic)
        : this.#policy.recipientsFor(topic, explicit);
    if (recipients.length === 0)
      throw new PipelineError('NO_RECIPIENTS', `no identity may receive on ${topic}`);
    return recipients;
  }

  /** A new sealing session of `stream` for `recipients`, signed by the current signing key. */
  #openSession(
    topic: string,
    recipients: readonly RecipientKey[],
    stream: SequenceCounter,
  ): ActiveSession {
    const dir = this.#o.directory;
    this.#assertSigningKeyCurrent();
    const signing = this.#o.identity.signingKey();
    const session = createSealingSession({
      provider: this.#o.crypto,
      clock: this.#o.clock,
      envelopeSchemaId: this.envelopeSchemaId,
      namespace: dir.namespace,
      topic,
      senderSigningSecretKey: signing.secretKey,
      recipients: recipients.map((r) => ({ kid: r.kid, publicKey: r.publicKey })),
      streamId: stream.streamId,
      lifetimeMs: this.#o.maxSessionAgeMs ?? 3_600_000,
      maxMessages: this.#o.maxMessagesPerSession ?? 10_000,
      ...(this.#o.signEveryMessage === undefined
        ? {}
        : { signEveryMessage: this.#o.signEveryMessage }),
      ...(this.#o.padding === undefined ? {} : { padding: this.#o.padding }),
      maxCiphertextBytes: this.#o.maxCiphertextBytes ?? 1_048_576 + 65_536,
    });
    const active: ActiveSession = {
      session,
      recipients,
      touched: this.#touched(recipients),
      epoch: dir.epoch,
      identityRevision: this.#o.identity.revision,
    };
    this.#o.metrics?.sessionsOpened.inc({ side: 'producer' });
    this.#o.events?.emit({
      type: 'session_opened',
      topic,
      recipients: recipients.map((r) => r.identity),
    });
    this.#logger.debug({ topic, recipients: recipients.length }, 'sealing session opened');
    return active;
  }

  async #topicSchema(topic: string): Promise<TopicSchema> {
    let pending = this.#schemas.get(topic);
    if (pending === undefined) {
      pending = this.#loadTopicSchema(topic);
      this.#schemas.set(topic, pending);
      // A transient failure must not be cached.
      pending.catch(() => this.#schemas.delete(topic));
    }
    return pending;
  }

  async #loadTopicSchema(topic: string): Promise<TopicSchema> {
    const registry = this.#o.registry;
    const given = this.#o.valueSchemas?.[topic];
    const text =
      given === undefined || this.#o.tokenizer === undefined
        ? given
        : this.#o.tokenizer.writerSchemaFor(given);
    let id: number;
    if (text !== undefined) {
      id = await registry.register(`${topic}-value`, text);
    } else {
      try {
        id = await registry.latestSchemaId(`${topic}-value`);
      } catch (err) {
        if (err instanceof RegistryError && err.code === 'SUBJECT_NOT_FOUND') {
          throw new PipelineError(
            'VALUE_SCHEMA_UNKNOWN',
            `no schema for ${topic}: pass valueSchemas or register ${topic}-value`,
          );
        }
        throw err;
      }
    }
    const schema = await registry.getSchema(id);
    // Token fields hold strings: without the tokenizer their cleartext would be accepted and sealed.
    if (this.#o.tokenizer === undefined && /"sealpost\.(token|tokenize)"/.test(schema.text)) {
      throw new PipelineError(
        'VALUE_SCHEMA_UNKNOWN',
        `the schema of ${topic} declares token fields: pass a tokenizer`,
      );
    }
    return { id, fp: schemaFingerprint(this.#o.crypto, schema.text), text: schema.text };
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
    for (const s of this.#sessions.values()) s.session.close();
    this.#sessions.clear();
    if (wasConnected) await this.#producer.disconnect();
  }
}
