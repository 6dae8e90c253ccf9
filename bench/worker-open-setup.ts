/**
 * What bench/worker-open.ts and its worker threads (bench/worker-open-thread.ts) share: the record,
 * its writer schema, the opener's options, the per-thread CPU clock, and the layout of a batch posted
 * to a worker and of the results it posts back. Session mode, suite 1, one recipient (docs/SPEC.md
 * §4–§5); the Avro record of bench/envelope.ts, 1,017 bytes in Confluent framing.
 */
import { EnvelopeOpener, type SenderRecord } from '../src/envelope/index.js';
import type { CryptoProvider } from '../src/crypto/provider.js';
import { systemClock } from '../src/runtime/clock.js';
import { ORDER_SCHEMA } from './order-schema.js';

export const TOPIC = 'orders.v1';
export const SCHEMA_ID = 42;
export const ENVELOPE_SCHEMA_ID = 7;
export const CONTENT_TYPE = 'application/vnd.order+avro';

/** The record of bench/envelope.ts (1,017 bytes in Confluent framing). */
export { ORDER_SCHEMA };

/**
 * The public half of what a worker needs to open (cloned into it). The recipient's secret key is
 * not here: it is moved into the worker as a transferred ArrayBuffer (see KeyTransfer).
 */
export interface OpenerPublicSetup {
  readonly namespace: Uint8Array;
  readonly senderKid: Uint8Array;
  readonly senderIdentity: string;
  readonly senderSigningPublicKey: Uint8Array;
  readonly recipientKid: Uint8Array;
  readonly recipientPublicKey: Uint8Array;
}

/** The opener every thread uses: the bench's sender resolver and policy (as bench/envelope.ts). */
export function newOpener(
  provider: CryptoProvider,
  setup: OpenerPublicSetup,
  recipientSecretKey: Uint8Array,
): EnvelopeOpener {
  const sender: SenderRecord = {
    identity: setup.senderIdentity,
    signingPublicKey: setup.senderSigningPublicKey,
    status: 'active',
    validFromMs: 0,
    validUntilMs: Number.MAX_SAFE_INTEGER,
    maySendOnTopic: true,
  };
  return new EnvelopeOpener({
    provider,
    clock: systemClock,
    resolver: {
      resolveSender: (k) => (Buffer.compare(k, setup.senderKid) === 0 ? sender : undefined),
      mayReceive: () => true,
      epoch: () => 1,
    },
    policy: { skewMs: 300_000, horizonMs: 7 * 86_400_000, maxSessionLifetimeMs: 86_400_000 },
    limits: {
      envelopeSchemaId: ENVELOPE_SCHEMA_ID,
      namespace: setup.namespace,
      maxCiphertextBytes: 1 << 20,
    },
    recipientKeys: [
      {
        kid: setup.recipientKid,
        publicKey: setup.recipientPublicKey,
        secretKey: recipientSecretKey,
      },
    ],
  });
}

/**
 * A batch posted to a worker: one ArrayBuffer holding an index of `count` records (Int32 keyStart,
 * keyLen, valueStart, valueLen, relative to the span; keyLen −1 = no key) followed by the span of the
 * fetched buffer that holds them (copied out of it: the fetch buffer stays the Kafka client's).
 */
export interface BatchMessage {
  readonly type: 'batch';
  readonly id: number;
  readonly count: number;
  readonly partition: number;
  readonly bytes: ArrayBuffer;
  /**
   * Also compare the writer schema's fingerprint and decode the payload (Avro) in the worker: the
   * decoded values come back in `values` (structured clone) instead of the plaintext bytes.
   */
  readonly decode: boolean;
}
export const INDEX_INTS = 4;

/**
 * Results of a batch: `count` fixed-size rows (RESULT_ROW bytes each) followed by the opened
 * payloads, in one ArrayBuffer; strings (sender identity, replay key, content type, ids in hex,
 * error codes) interned per batch in `strings`. The receiver zeroes `bytes` once it is done with it.
 */
export interface ResultMessage {
  readonly type: 'result';
  readonly id: number;
  readonly count: number;
  readonly bytes: ArrayBuffer;
  readonly strings: readonly string[];
  /** The decoded payloads, by row, when the batch asked for `decode`. */
  readonly values?: readonly unknown[];
}

/** Row layout (byte offsets) of a ResultMessage. */
export const ROW = {
  status: 0, // u8: STATUS_*
  suite: 1, // u8
  identity: 2, // u16 string index
  replayKey: 4, // u16
  contentType: 6, // u16
  seq: 8, // f64
  createdAtMs: 16, // f64
  entityVersion: 24, // u32
  payloadOffset: 28, // u32 from the start of bytes
  payloadLength: 32, // u32
  senderKid: 36, // u16 string index (hex)
  streamId: 38, // u16
  sessionId: 40, // u16
  recipientCount: 42, // u16
  messageId: 44, // 16 bytes
  schemaFp: 60, // 16 bytes
} as const;
export const RESULT_ROW = 80;
export const STATUS_DELIVERED = 0;
export const STATUS_DUPLICATE = 1;
export const STATUS_NOT_ADDRESSED = 2;
export const STATUS_THROTTLED = 3;
/** The opener threw; the row's `contentType` field holds the error code's string index. */
export const STATUS_REFUSED = 4;
