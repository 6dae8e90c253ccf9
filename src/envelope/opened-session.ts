/**
 * A session header that opened and verified (docs/SPEC.md §5 step 5), holding the message key and our
 * MAC key, and opening the session's messages (§Opening 6–8) over preallocated scratch.
 */
import type { OpenedBodyScratch } from './opened-body-scratch.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { Clock } from '../runtime/clock.js';
import {
  type BodyTraceContext,
  carveOpenedBody,
  type ContentTypeMemo,
  emptyParsedBody,
  type ParsedBody,
  parseBodyInto,
} from './body.js';
import { equalBytes, equalConstantTime } from './bytes.js';
import { AEAD_TAG_BYTES, type EnvelopeSuite, SIGNATURE_BYTES, TAG_BYTES } from './constants.js';
import type { DecodedEnvelope } from './envelope-codec.js';
import { EnvelopeError, EnvelopeUsageError } from './errors.js';
import { LABELS } from './labels.js';
import { MessageTranscripts } from './message-transcripts.js';
import { unpaddedLength } from './padding.js';
import { replayKeyPrefix, type ReplayWindow } from './replay-window.js';

/** Where a record was read from: the opener binds the message to these, never to header claims. */
export interface RecordContext {
  readonly topic: string;
  readonly partition: number;
  /** The Kafka record key, or null. */
  readonly key: Uint8Array | null;
}

/** Time rules of opening (docs/SPEC.md §Time). */
export interface OpenPolicy {
  /** Tolerated clock skew between producers and us. */
  readonly skewMs: number;
  /** Retention + grace: headers created before now − horizon are STALE. */
  readonly horizonMs: number;
  /** Largest accepted expiresAt − createdAt. */
  readonly maxSessionLifetimeMs: number;
  /** Optional: refuse messages whose inner createdAt is older than this (never the Kafka timestamp). */
  readonly maxRecordAgeMs?: number;
}

/**
 * A message that opened: everything the pipeline delivers. messageId, schemaFp and payload are views
 * into one fresh allocation per message (mind `payload.byteOffset` when wrapping it in a Buffer);
 * senderKid, sessionId and streamId are the session's own (shared, do not mutate).
 */
export interface OpenedMessage {
  readonly senderKid: Uint8Array;
  readonly senderIdentity: string;
  readonly sessionId: Uint8Array;
  readonly streamId: Uint8Array;
  readonly topic: string;
  readonly partition: number;
  readonly seq: number;
  readonly messageId: Uint8Array;
  readonly createdAtMs: number;
  readonly entityVersion: number;
  readonly schemaFp: Uint8Array;
  readonly contentType: string;
  readonly payload: Uint8Array;
  /** replayKeyOf(senderKid, streamId, topic, partition): the window to mark after delivery. */
  readonly replayKey: string;
  /** The sender's trace context from a version-2 body (docs/SPEC.md §2.1), when it carried one. */
  readonly traceContext?: BodyTraceContext;
  /** Number of recipient slots of the session (not who they are). */
  readonly recipientCount?: number;
  /** The session's suite: 1 (X25519 sealed boxes) or 2 (X-Wing, docs/SPEC.md §2.2). */
  readonly suite?: EnvelopeSuite;
}

/** Result of opening a message: delivered, or a replay (not an error, not a dead letter). */
export type OpenMessageResult =
  | { readonly kind: 'delivered'; readonly message: OpenedMessage }
  | { readonly kind: 'duplicate'; readonly replayKey: string; readonly seq: number };

/** Session values recovered from the header. */
export interface OpenedSessionInit {
  readonly provider: CryptoProvider;
  readonly clock: Clock;
  readonly policy: OpenPolicy;
  readonly sessionId: Uint8Array;
  readonly topic: string;
  readonly slot: number;
  readonly recipientKid: Uint8Array;
  readonly senderKid: Uint8Array;
  readonly senderIdentity: string;
  readonly senderSigningPublicKey: Uint8Array;
  readonly streamId: Uint8Array;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly maxMessages: number;
  readonly flags: number;
  readonly sessionHash: Uint8Array;
  readonly kMsg: Uint8Array;
  readonly macKey: Uint8Array;
}

const SIGN_EVERY_MESSAGE = 0x01;

const NO_BYTES = new Uint8Array(0);

export class OpenedSession {
  readonly sessionId: Uint8Array;
  readonly topic: string;
  /** Our slot index and kid in the header. */
  readonly slot: number;
  readonly recipientKid: Uint8Array;
  /** The verified sender (its kid came from our own box). */
  readonly senderKid: Uint8Array;
  readonly senderIdentity: string;
  readonly streamId: Uint8Array;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly maxMessages: number;
  readonly signEveryMessage: boolean;
  readonly sessionHash: Uint8Array;

  readonly #provider: CryptoProvider;
  readonly #clock: Clock;
  readonly #policy: OpenPolicy;
  readonly #senderPk: Uint8Array;
  readonly #kMsg: Uint8Array;
  readonly #macKey: Uint8Array;
  readonly #t: MessageTranscripts;
  readonly #tag = new Uint8Array(TAG_BYTES);
  readonly #replayPrefix: string;
  readonly #contentType: ContentTypeMemo = { bytes: new Uint8Array(0), text: '' };
  /** The body being parsed (parseBodyInto): its fields go into the message, its views dropped. */
  readonly #body: ParsedBody = emptyParsedBody();
  #lastPartition = -1;
  #lastReplayKey = '';
  #plain: Uint8Array;
  #closed = false;

  /** Use openSessionHeader. */
  constructor(init: OpenedSessionInit) {
    this.#provider = init.provider;
    this.#clock = init.clock;
    this.#policy = init.policy;
    this.sessionId = init.sessionId;
    this.topic = init.topic;
    this.slot = init.slot;
    this.recipientKid = init.recipientKid;
    this.senderKid = init.senderKid;
    this.senderIdentity = init.senderIdentity;
    this.#senderPk = init.senderSigningPublicKey;
    this.streamId = init.streamId;
    this.createdAtMs = init.createdAtMs;
    this.expiresAtMs = init.expiresAtMs;
    this.maxMessages = init.maxMessages;
    this.signEveryMessage = (init.flags & SIGN_EVERY_MESSAGE) !== 0;
    this.sessionHash = init.sessionHash;
    this.#kMsg = init.kMsg;
    this.#macKey = init.macKey;
    // One-message sessions size their scratch on first use instead of preallocating for many.
    const scratch = init.maxMessages === 1 ? 0 : 2048;
    this.#t = new MessageTranscripts(init.provider, init.sessionHash, scratch);
    // L(body) ‖ body, only to hash a signed message's body (a message is decrypted elsewhere).
    this.#plain = new Uint8Array(LABELS.body.length + (this.signEveryMessage ? scratch : 0));
    this.#plain.set(LABELS.body, 0);
    this.#replayPrefix = replayKeyPrefix(init.senderKid, init.streamId, init.topic);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The replay window key of this session's stream on `partition`. */
  replayKey(partition: number): string {
    if (partition !== this.#lastPartition) {
      this.#lastPartition = partition;
      this.#lastReplayKey = `${this.#replayPrefix}${partition}`;
    }
    return this.#lastReplayKey;
  }

  /**
   * Opens one message of this session (steps 6–8): tag, replay pre-check on `window` (the window of
   * replayKey(ctx.partition), or undefined when none exists yet), decrypt, unpad, message signature,
   * exact body parse, time checks. Throws EnvelopeError [CONTEXT|MESSAGE|STALE]; returns DUPLICATE as
   * a result. Does not mark the window: the pipeline marks after its handler succeeded.
   */
  openMessage(
    env: DecodedEnvelope,
    ctx: RecordContext,
    window?: ReplayWindow,
    bodyScratch?: OpenedBodyScratch,
  ): OpenMessageResult {
    if (this.#closed) throw new EnvelopeUsageError('SESSION_CLOSED', 'opened session is closed');
    if (ctx.topic !== this.topic || env.header.topic !== this.topic)
      throw new EnvelopeError('TOPIC_MISMATCH');
    const p = this.#provider;
    const t = this.#t;
    const ct = env.ct;
    const theirTag = env.tags[this.slot];
    const kidAtSlot = env.header.kids[this.slot];
    if (theirTag === undefined || kidAtSlot === undefined) throw new EnvelopeError('BAD_TAG');

    // 6. Tag over the record's own coordinates.
    t.setContext(ctx.partition, env.seq, ctx.key);
    t.prepareDigest(ct.length);
    t.nonceView().set(env.nonce);
    t.ciphertextView().set(ct);
    t.computeDigest();
    t.computeTag(this.#tag, this.#macKey, this.slot, this.recipientKid);
    // The kid is public (in the clear in the header): a plain comparison.
    if (!equalConstantTime(this.#tag, theirTag) || !equalBytes(kidAtSlot, this.recipientKid)) {
      throw new EnvelopeError('BAD_TAG');
    }

    // 7. Replay pre-check.
    const replayKey = this.replayKey(ctx.partition);
    if (window !== undefined) {
      const verdict = window.check(env.seq);
      if (verdict === 'duplicate') return { kind: 'duplicate', replayKey, seq: env.seq };
      if (verdict === 'stale') throw new EnvelopeError('SEQ_TOO_OLD');
    }

    // 8. Decrypt, unpad, signature, body, time. Decrypted straight into the memory the message is
    // delivered in (the caller's scratch, held by this record, or a carve of the opened-body slab),
    // parsed in place: no second copy. Zeroed unless delivered.
    const paddedLen = ct.length - AEAD_TAG_BYTES;
    const padded =
      bodyScratch === undefined ? carveOpenedBody(paddedLen) : bodyScratch.carve(paddedLen, ctx);
    let delivered = false;
    try {
      if (!p.aeadDecrypt(padded, ct, t.aad(), env.nonce, this.#kMsg)) {
        throw new EnvelopeError('DECRYPT_FAILED');
      }
      const plainLen = unpaddedLength(padded, paddedLen);
      if (plainLen < 0) throw new EnvelopeError('BAD_PADDING');
      let bodyLen = plainLen;
      if (this.signEveryMessage) {
        bodyLen -= SIGNATURE_BYTES;
        if (bodyLen < 0) throw new EnvelopeError('BAD_BODY');
        this.#verifyMessageSignature(padded, bodyLen, plainLen);
      }
      const body = this.#body;
      if (!parseBodyInto(body, padded, this.#contentType, 0, bodyLen, true))
        throw new EnvelopeError('BAD_BODY');
      const skew = this.#policy.skewMs;
      if (
        body.createdAtMs < this.createdAtMs - skew ||
        body.createdAtMs > this.expiresAtMs + skew
      ) {
        throw new EnvelopeError('CREATED_OUTSIDE_SESSION');
      }
      const maxAge = this.#policy.maxRecordAgeMs;
      if (maxAge !== undefined && body.createdAtMs < this.#clock.nowMs() - maxAge) {
        throw new EnvelopeError('MESSAGE_TOO_OLD');
      }
      const message: { -readonly [K in keyof OpenedMessage]: OpenedMessage[K] } = {
        senderKid: this.senderKid,
        senderIdentity: this.senderIdentity,
        sessionId: this.sessionId,
        streamId: this.streamId,
        topic: this.topic,
        partition: ctx.partition,
        seq: env.seq,
        messageId: body.messageId,
        createdAtMs: body.createdAtMs,
        entityVersion: body.entityVersion,
        schemaFp: body.schemaFp,
        contentType: body.contentType,
        payload: body.payload,
        replayKey,
        recipientCount: env.header.kids.length,
        suite: env.header.suite as EnvelopeSuite,
      };
      // Present only when the body carried one (no spread of an empty object per message).
      if (body.traceContext !== null) message.traceContext = body.traceContext;
      const result: OpenMessageResult = { kind: 'delivered', message };
      delivered = true;
      return result;
    } finally {
      if (!delivered) p.memzero(padded);
      // The body scratch keeps no view of the opened memory (nor a trace context) after this.
      const body = this.#body;
      body.messageId = body.schemaFp = body.payload = NO_BYTES;
      body.traceContext = null;
    }
  }

  /**
   * Verifies msgSig = `padded[bodyLen, plainLen)` over L(message-sig) ‖ ctx ‖ H(L(body) ‖ body): the
   * body is copied after the label in #plain for the hash, and zeroed there again.
   */
  #verifyMessageSignature(padded: Uint8Array, bodyLen: number, plainLen: number): void {
    const p = this.#provider;
    const lb = LABELS.body.length;
    if (lb + bodyLen > this.#plain.length) {
      p.memzero(this.#plain);
      this.#plain = new Uint8Array(Math.max(lb + bodyLen, this.#plain.length * 2));
      this.#plain.set(LABELS.body, 0);
    }
    const labelled = this.#plain.subarray(0, lb + bodyLen);
    labelled.set(padded.subarray(0, bodyLen), lb);
    const sigInput = this.#t.messageSignatureInput(labelled);
    p.memzero(labelled.subarray(lb));
    if (!p.verifyDetached(padded.subarray(bodyLen, plainLen), sigInput, this.#senderPk))
      throw new EnvelopeError('BAD_MESSAGE_SIGNATURE');
  }

  /** Zeros the message key, MAC key and scratch. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const p = this.#provider;
    p.memzero(this.#kMsg);
    p.memzero(this.#macKey);
    p.memzero(this.#plain);
    this.#t.clear();
  }
}
