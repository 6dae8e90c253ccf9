/**
 * The producer's public types (re-exported by src/pipeline/sealed-producer.ts, docs/API.md) and the
 * records its parts pass each other.
 */
import type { SuitePolicy } from '../../keys/suite-policy.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import type { PaddingPolicy } from '../../envelope/padding.js';
import type { SealingSession } from '../../envelope/sealing-session.js';
import type {
  ProduceRequest,
  Transport,
  TransportHeader,
  TransportProducerOptions,
} from '../../kafka/transport.js';
import type { KeyDirectory, RecipientKey } from '../../keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../keys/identity.js';
import type { IdentitySource } from '../../keys/identity-source.js';
import type { SealpostTracing } from '../../observability/tracing.js';
import type { SchemaRegistryClient } from '../../registry/schema-registry-client.js';
import type { Clock } from '../../runtime/clock.js';
import type { MetadataSink, PipelineEvent } from '../metadata-sink.js';
import type { PipelineLogger } from '../pipeline-logger.js';
import type { PipelineMetrics } from '../pipeline-metrics.js';

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
   * POLICY_RECIPIENT_NOT_ALLOWED). Default: every identity the directory allows on the topic.
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
  /**
   * Results of the same send's messages the broker already acknowledged (a send split into several
   * produce requests failed after the first ones): not sent again; `resend` returns them with the rest.
   */
  readonly acknowledged?: readonly SentMessage[];
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
  /**
   * Envelope suite per topic (docs/SECURITY.md "Post-quantum sealing"): which topics are sealed with
   * X-Wing (suite 2). Default SuitePolicy.CLASSICAL: suite 1 everywhere.
   */
  readonly suitePolicy?: SuitePolicy;
  /**
   * Pinned id of the suite-2 envelope schema (schemas/envelope-xwing.avsc); default: registered under
   * `<envelopeSubject>-xwing` at connect when the suite policy may seal suite 2.
   */
  readonly suite2EnvelopeSchemaId?: number;
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
  /**
   * Bound of the estimated size of one produce request (records uncompressed): a larger send is split
   * into requests sent one after another. Default 921,600 (900 KiB, below Kafka's default
   * message.max.bytes of 1,048,588); an integer in [1,024, 2^31 - 1].
   */
  readonly maxRequestBytes?: number;
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
  /**
   * OpenTelemetry spans and the sender's trace context sealed into each body (`await loadTracing()`,
   * docs/TRACING.md). Default: none (bodies of version 1, docs/SPEC.md §2).
   */
  readonly tracing?: SealpostTracing;
}

/** The producer's tokenization hook (additive; see SealedProducerOptions.tokenizer). */
export interface ValueTokenizer {
  /** The schema to register for an application schema (annotated fields become token fields). */
  writerSchemaFor(schemaText: string): string;
  /** The value with its token fields (per the registered writer schema) replaced by tokens. */
  tokenize(writerSchemaText: string, value: unknown): unknown;
}

/** One message as the producer seals it (Avro-encoded already for `send`). */
export interface OutgoingPayload {
  readonly key: Buffer | null;
  readonly payload: Uint8Array;
  readonly headers?: readonly TransportHeader[];
  readonly entityVersion?: number;
}

/**
 * The messages to seal, as parallel arrays (no object per message): message j is the payload
 * `source.payloads[indices[j]]` (its input index), sealed for `partitions[j]`; for a re-seal, with the
 * message id `messageIds[j]` it keeps.
 */
export interface SealItems {
  /** Input indexes; absent: 0 … partitions.length − 1 (a first send, in input order). */
  readonly indices?: readonly number[];
  readonly partitions: readonly number[];
  readonly messageIds?: readonly Uint8Array[];
}

/**
 * What `resend` needs to seal a pending batch again; kept by the producer (a WeakMap keyed by the
 * batch), never in the error, and dropped with the batch.
 */
export interface PendingSource {
  readonly topic: string;
  readonly recipients?: readonly string[];
  readonly contentType: string;
  readonly schemaFp: Uint8Array;
  readonly schemaId: number | undefined;
  /** Input index → payload (the send's payloads, in input order). */
  readonly payloads: readonly OutgoingPayload[];
  /** Per request of the batch, the stream id its records were sealed in. */
  readonly requestStreams: readonly Uint8Array[];
  /** Per request of the batch, its `sealed` events: emitted once the broker acknowledged it. */
  readonly requestEvents: readonly (readonly PipelineEvent[])[];
}

export interface TopicSchema {
  readonly id: number;
  readonly fp: Uint8Array;
  readonly text: string;
}

export interface ActiveSession {
  readonly session: SealingSession;
  readonly recipients: readonly RecipientKey[];
  /** The envelope suite the session seals in (1: X25519 sealed boxes, 2: X-Wing). */
  readonly suite: 1 | 2;
  /** Serials of the sender's and recipients' directory records when the session opened. */
  readonly touched: string;
  epoch: number;
  /** `identity.revision` when the session opened: a reloaded identity may sign with another key. */
  readonly identityRevision: number;
}
