/**
 * Sealing: a session per (topic, recipient set) amortises the public-key work (docs/SPEC.md
 * §4.1); then each message costs one AEAD, one hash and one MAC per recipient (§4.3), written into
 * preallocated scratch so a seal allocates little beyond its output.
 */
import { markAsUntransferable } from 'node:worker_threads';
import type { CryptoProvider } from '../crypto/provider.js';
import type { Clock } from '../runtime/clock.js';
import { type BodyTraceContext, bodyLength, isValidTraceContext, writeBody } from './body.js';
import { copyBytes, isU32, isU53 } from './bytes.js';
import {
  AEAD_TAG_BYTES,
  BOX_PLAINTEXT_BYTES,
  COMMIT_BYTES,
  ENVELOPE_SUITE,
  ENVELOPE_SUITE_XWING,
  type EnvelopeSuite,
  ENVELOPE_VERSION,
  FLAG_SIGN_EVERY_MESSAGE,
  KID_BYTES,
  MAC_KEY_BYTES,
  MAX_RECIPIENTS,
  MESSAGE_ID_BYTES,
  NAMESPACE_BYTES,
  NONCE_BYTES,
  SCHEMA_FP_BYTES,
  SEED_BYTES,
  SESSION_ID_BYTES,
  SIGNATURE_BYTES,
  STREAM_ID_BYTES,
  TAG_BYTES,
  X25519_PUBLIC_KEY_BYTES,
  XWING_BOX_BYTES,
  XWING_CIPHERTEXT_BYTES,
  XWING_ESEED_BYTES,
  XWING_PUBLIC_KEY_BYTES,
} from './constants.js';
import { hash256, kdf, kid as computeKid, xwingSlotKey } from './derive.js';
import {
  compareBytes,
  encodeSessionHeader,
  envelopeSize,
  FRAME_PREFIX_BYTES,
  isValidTopic,
  type SessionHeaderFields,
  writeFramePrefix,
  writeVarLong,
} from './envelope-codec.js';
import { invalidArgument } from '../errors.js';
import { EnvelopeUsageError } from './errors.js';
import { KDF_ID_COMMIT, KDF_ID_MESSAGE_KEY, KDF_ID_PRIVATE_KEY, LABELS } from './labels.js';
import { MessageTranscripts } from './message-transcripts.js';
import { DEFAULT_PADDING, type PaddingPolicy, paddedLength, writePadding } from './padding.js';
import {
  buildHeaderPublic,
  buildHeaderTbs,
  buildPrivatePlaintext,
  privateAadInput,
  type SessionPrivateFields,
} from './transcripts.js';

/**
 * A recipient's public key as listed in the directory: a 32-byte X25519 box key (suite 1) or a
 * 1,216-byte X-Wing key (suite 2).
 */
export interface RecipientPublicKey {
  /** kid('x25519', publicKey) in suite 1, kid('xwing', publicKey) in suite 2; checked against the key. */
  readonly kid: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** Options of createSealingSession. */
export interface SealingSessionOptions {
  readonly provider: CryptoProvider;
  readonly clock: Clock;
  /**
   * 1 (default): X25519 sealed boxes. 2: X-Wing (docs/SPEC.md §4.1); every recipient key is then a
   * 1,216-byte X-Wing public key. A session is never mixed.
   */
  readonly suite?: EnvelopeSuite;
  /**
   * The pinned registry id of the suite's envelope schema: schemas/envelope.avsc for suite 1,
   * schemas/envelope-xwing.avsc for suite 2.
   */
  readonly envelopeSchemaId: number;
  /** The directory namespace (the authority's kid, 16 bytes). */
  readonly namespace: Uint8Array;
  readonly topic: string;
  /** The sender's Ed25519 secret key (64 bytes, libsodium layout); its kid is derived from it. */
  readonly senderSigningSecretKey: Uint8Array;
  /** 1..16 recipients, any order (sorted by kid here), no duplicates. */
  readonly recipients: readonly RecipientPublicKey[];
  /** The stream this session belongs to (16 bytes, random per producer instance and topic). */
  readonly streamId: Uint8Array;
  /** expiresAt = createdAt + lifetimeMs. */
  readonly lifetimeMs: number;
  /** 1 = a fresh key per message. */
  readonly maxMessages: number;
  /** Put an Ed25519 signature inside every message (defeats key-compromise impersonation). */
  readonly signEveryMessage?: boolean;
  readonly padding?: PaddingPolicy;
  /** Largest ciphertext the consumers accept; seal refuses to produce more. */
  readonly maxCiphertextBytes?: number;
  /**
   * Source of the session id, seed, MAC keys, message ids and nonces. Defaults to the provider's
   * random; tests pass a deterministic source to make vectors (the sealed boxes' ephemeral keys
   * still come from libsodium).
   */
  readonly random?: (out: Uint8Array) => void;
  /**
   * Suite 2, tests and vector generation ONLY: the source of each recipient's 64-byte X-Wing
   * encapsulation seed, which makes encapsulation deterministic
   * (provider.xwingEncapsulateDeterministic). Absent (always in production): fresh randomness
   * inside the provider.
   */
  readonly xwingEncapsulationSeed?: (out: Uint8Array) => void;
}

/** One message to seal. */
export interface SealInput {
  /** The partition chosen before sealing; the record must be sent to it. */
  readonly partition: number;
  /** next(streamId, partition), see SequenceCounter. */
  readonly seq: number;
  /** The Kafka record key, or null. */
  readonly key: Uint8Array | null;
  /** H16(L(schema) ‖ schema text) of the payload's writer schema. */
  readonly schemaFp: Uint8Array;
  readonly contentType: string;
  /** The payload (Avro in Confluent framing for sealpost's pipeline; opaque here). */
  readonly payload: Uint8Array;
  /** For compacted topics; 0 (default) = unused. */
  readonly entityVersion?: number;
  /**
   * 16 bytes; random when absent. Copied into the body: the caller may reuse the array once seal
   * returned (the result's messageId is this same array).
   */
  readonly messageId?: Uint8Array;
  /** Defaults to the clock. */
  readonly createdAtMs?: number;
  /**
   * The sender's trace context, sealed into the body (a version-2 body, docs/SPEC.md §2.1) so only
   * recipients can link to it. Absent: a version-1 body.
   */
  readonly traceContext?: BodyTraceContext;
}

/** A sealed record value as a Node Buffer (see SealingSession.sealRecord). */
export interface SealedRecord extends SealedMessage {
  readonly value: Buffer;
}

/** A sealed record value and the ids the pipeline reports in metadata events. */
export interface SealedMessage {
  /**
   * The record value: a plain Uint8Array over a slab of other record values (no zero-filling: every
   * byte is written). Kafka clients want a Buffer: `Buffer.from(v.buffer, v.byteOffset, v.length)`
   * wraps it without a copy.
   */
  readonly value: Uint8Array;
  readonly messageId: Uint8Array;
  readonly createdAtMs: number;
}

const bad = (message: string): never => {
  throw invalidArgument(message);
};

const textEncoder = new TextEncoder();

/**
 * Record values are carved from 64 KiB slabs that hold nothing but record values (ciphertext), not
 * zero-filled since every byte of a value is written. Node's own Buffer pool is 8 KiB: a new pool
 * every ~6 records of 1.3 KB, and each new backing store costs about 1 µs. Values over 8 KiB get
 * their own allocation. seal returns plain Uint8Array views (Buffer#slice would return a view
 * where callers expect a copy); sealRecord returns Buffers, for the pipeline, which hands them to
 * the Kafka client as they are.
 */
const VALUE_SLAB_BYTES = 64 * 1024;
let valueSlab = new Uint8Array(0);
let valueSlabUsed = 0;

/** `n` bytes of the current value slab, or of a new one when they do not fit (its offset). */
function takeValueBytes(n: number): number {
  if (valueSlabUsed + n > valueSlab.length) {
    const fresh = Buffer.allocUnsafeSlow(VALUE_SLAB_BYTES);
    // As Node does for its own pool: moving the slab to a worker would detach every value in it.
    markAsUntransferable(fresh.buffer);
    valueSlab = new Uint8Array(fresh.buffer, fresh.byteOffset, VALUE_SLAB_BYTES);
    valueSlabUsed = 0;
  }
  const at = valueSlab.byteOffset + valueSlabUsed;
  valueSlabUsed += n;
  return at;
}

/** A record value of `n` bytes, a plain Uint8Array (see SealedMessage.value). */
function allocValue(n: number): Uint8Array {
  if (n > VALUE_SLAB_BYTES / 8) {
    const own = Buffer.allocUnsafeSlow(n);
    return new Uint8Array(own.buffer, own.byteOffset, n);
  }
  const at = takeValueBytes(n);
  return new Uint8Array(valueSlab.buffer, at, n);
}

/** A record value of `n` bytes as a Node Buffer (see SealedRecord). */
function allocBufferValue(n: number): Buffer {
  if (n > VALUE_SLAB_BYTES / 8) return Buffer.allocUnsafeSlow(n);
  const at = takeValueBytes(n);
  return Buffer.from(valueSlab.buffer, at, n);
}

/**
 * A sealing session. Not safe for concurrent use from several async contexts (Node runs one seal at a
 * time anyway: seal is synchronous). close() zeros the message and MAC keys.
 */
export class SealingSession {
  /** 16-byte session id (links the session's records for topic readers). */
  readonly sessionId: Uint8Array;
  readonly topic: string;
  readonly senderKid: Uint8Array;
  readonly streamId: Uint8Array;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly maxMessages: number;
  readonly signEveryMessage: boolean;
  /** Recipient kids in slot order. */
  readonly recipientKids: readonly Uint8Array[];
  /** sessionHash = H(headerTBS). */
  readonly sessionHash: Uint8Array;
  /** The header record's canonical Avro bytes (identical in every record of the session). */
  readonly headerBytes: Uint8Array;

  readonly #provider: CryptoProvider;
  readonly #clock: Clock;
  readonly #schemaId: number;
  readonly #kMsg: Uint8Array;
  readonly #macKeys: Uint8Array[];
  readonly #signingKey: Uint8Array | null;
  readonly #padding: PaddingPolicy;
  readonly #maxCt: number;
  readonly #random: (out: Uint8Array) => void;
  readonly #t: MessageTranscripts;
  #plain: Uint8Array;
  /** The padded plaintext's place in #plain for the last padded length (a view kept). */
  #paddedView: Uint8Array = new Uint8Array(0);
  readonly #tag = new Uint8Array(TAG_BYTES);
  #sent = 0;
  #closed = false;
  #padFor = -1;
  #padTo = 0;
  #lastContentType = '';
  #lastContentTypeBytes: Uint8Array = new Uint8Array(0);

  /** Use createSealingSession. */
  constructor(init: {
    provider: CryptoProvider;
    clock: Clock;
    schemaId: number;
    topic: string;
    sessionId: Uint8Array;
    senderKid: Uint8Array;
    priv: SessionPrivateFields;
    kids: Uint8Array[];
    macKeys: Uint8Array[];
    kMsg: Uint8Array;
    sessionHash: Uint8Array;
    headerBytes: Uint8Array;
    signingKey: Uint8Array | null;
    padding: PaddingPolicy;
    maxCt: number;
    random: (out: Uint8Array) => void;
  }) {
    this.#provider = init.provider;
    this.#clock = init.clock;
    this.#schemaId = init.schemaId;
    this.topic = init.topic;
    this.sessionId = init.sessionId;
    this.senderKid = init.senderKid;
    this.streamId = init.priv.streamId;
    this.createdAtMs = init.priv.createdAtMs;
    this.expiresAtMs = init.priv.expiresAtMs;
    this.maxMessages = init.priv.maxMessages;
    this.signEveryMessage = (init.priv.flags & FLAG_SIGN_EVERY_MESSAGE) !== 0;
    this.recipientKids = init.kids;
    this.#macKeys = init.macKeys;
    this.#kMsg = init.kMsg;
    this.sessionHash = init.sessionHash;
    this.headerBytes = init.headerBytes;
    this.#signingKey = init.signingKey;
    this.#padding = init.padding;
    this.#maxCt = init.maxCt;
    this.#random = init.random;
    // One-message sessions size their scratch on first use instead of preallocating for many.
    const scratch = init.priv.maxMessages === 1 ? 0 : 2048;
    this.#t = new MessageTranscripts(init.provider, init.sessionHash, scratch);
    this.#plain = new Uint8Array(LABELS.body.length + scratch);
    this.#plain.set(LABELS.body, 0);
  }

  /** Messages sealed so far. */
  get sent(): number {
    return this.#sent;
  }

  /** True when the session may not seal any more (closed, maxMessages reached, or expired). */
  isUsable(nowMs = this.#clock.nowMs()): boolean {
    return !this.#closed && this.#sent < this.maxMessages && nowMs < this.expiresAtMs;
  }

  /** Seals one message into a record value (throws EnvelopeUsageError on misuse). */
  seal(input: SealInput): SealedMessage {
    return this.#seal(input, allocValue);
  }

  /**
   * As seal, with the value a Node Buffer over the same bytes (what a Kafka client takes), so a
   * record costs one view of its value, not two. Buffer#slice of it is a view, not a copy.
   */
  sealRecord(input: SealInput): SealedRecord {
    return this.#seal(input, allocBufferValue);
  }

  /** Seals into a value from `alloc` (every byte of it is written). */
  #seal<V extends Uint8Array>(
    input: SealInput,
    alloc: (n: number) => V,
  ): SealedMessage & { readonly value: V } {
    if (this.#closed) throw new EnvelopeUsageError('SESSION_CLOSED', 'sealing session is closed');
    if (this.#sent >= this.maxMessages)
      throw new EnvelopeUsageError('SESSION_EXHAUSTED', 'maxMessages reached');
    const now = this.#clock.nowMs();
    if (now >= this.expiresAtMs)
      throw new EnvelopeUsageError('SESSION_EXPIRED', 'sealing session expired');
    const { partition, seq, key, schemaFp, payload } = input;
    if (!isU32(partition) || partition > 0x7fff_ffff) bad('partition must be a non-negative int32');
    if (!isU53(seq)) bad('seq must be an integer in [0, 2^53)');
    if (!(payload instanceof Uint8Array) || payload.length > 0xffff_ffff)
      bad('payload must be bytes');
    if (!(schemaFp instanceof Uint8Array) || schemaFp.length !== SCHEMA_FP_BYTES)
      bad('schemaFp must be 16 bytes');
    if (key !== null && !(key instanceof Uint8Array)) bad('key must be bytes or null');
    const entityVersion = input.entityVersion ?? 0;
    if (!isU53(entityVersion)) bad('entityVersion must be an integer in [0, 2^53)');
    const createdAtMs = input.createdAtMs ?? now;
    if (!isU53(createdAtMs)) bad('createdAtMs must be an integer in [0, 2^53)');
    if (input.contentType !== this.#lastContentType) {
      const ctBytes = textEncoder.encode(input.contentType);
      if (ctBytes.length > 0xffff) bad('contentType too long');
      this.#lastContentType = input.contentType;
      this.#lastContentTypeBytes = ctBytes;
    }
    const contentType = this.#lastContentTypeBytes;
    let messageId = input.messageId;
    if (messageId === undefined) {
      messageId = new Uint8Array(MESSAGE_ID_BYTES);
      this.#random(messageId);
    } else if (messageId.length !== MESSAGE_ID_BYTES) {
      bad('messageId must be 16 bytes');
    }

    const traceContext = input.traceContext ?? null;
    if (traceContext !== null && !isValidTraceContext(traceContext))
      bad('traceContext: traceId 16 and spanId 8 bytes, not all zero, traceFlags a byte');

    // Plaintext scratch: L(body) ‖ body ‖ [sig] ‖ 0x80 0x00*.
    const bodyLen = bodyLength(contentType.length, payload.length, traceContext !== null);
    const plainLen = bodyLen + (this.#signingKey === null ? 0 : SIGNATURE_BYTES);
    // A session's messages mostly have one length: the last padded length is remembered.
    if (plainLen !== this.#padFor) {
      this.#padFor = plainLen;
      this.#padTo = paddedLength(plainLen, this.#padding);
    }
    const padded = this.#padTo;
    const ctLen = padded + AEAD_TAG_BYTES;
    if (ctLen > this.#maxCt) bad('message too large for the configured maximum ciphertext');
    const lb = LABELS.body.length;
    if (lb + padded > this.#plain.length) {
      this.#provider.memzero(this.#plain);
      this.#plain = new Uint8Array(Math.max(lb + padded, this.#plain.length * 2));
      this.#plain.set(LABELS.body, 0);
      this.#paddedView = new Uint8Array(0); // made again below, over the new buffer
    }
    const plain = this.#plain;
    writeBody(
      plain,
      lb,
      messageId,
      createdAtMs,
      entityVersion,
      schemaFp,
      contentType,
      payload,
      traceContext,
    );

    const t = this.#t;
    t.setContext(partition, seq, key);
    if (this.#signingKey !== null) {
      const sigInput = t.messageSignatureInput(plain.subarray(0, lb + bodyLen));
      plain.set(this.#provider.signDetached(sigInput, this.#signingKey), lb + bodyLen);
    }
    writePadding(plain, lb + plainLen, lb + padded);

    // AEAD straight into the digest input, then digest and tags.
    t.prepareDigest(ctLen);
    const nonce = t.nonceView();
    this.#random(nonce);
    const ct = t.ciphertextView();
    if (this.#paddedView.length !== padded) this.#paddedView = plain.subarray(lb, lb + padded);
    const paddedView = this.#paddedView;
    this.#provider.aeadEncrypt(ct, paddedView, t.aad(), nonce, this.#kMsg);
    t.computeDigest();

    const n = this.#macKeys.length;
    const out = alloc(envelopeSize(this.headerBytes.length, seq, ctLen, n));
    writeFramePrefix(out, this.#schemaId);
    let o = FRAME_PREFIX_BYTES;
    out.set(this.headerBytes, o);
    o += this.headerBytes.length;
    o = writeVarLong(out, o, seq);
    out.set(nonce, o);
    o += NONCE_BYTES;
    o = writeVarLong(out, o, ctLen);
    out.set(ct, o);
    o += ctLen;
    o = writeVarLong(out, o, n);
    const tag = this.#tag;
    for (let i = 0; i < n; i++) {
      t.computeTag(tag, this.#macKeys[i]!, i, this.recipientKids[i]!);
      out.set(tag, o);
      o += TAG_BYTES;
    }
    out[o] = 0;
    this.#provider.memzero(paddedView);
    this.#sent++;
    return { value: out, messageId, createdAtMs };
  }

  /** Ends the session: zeros the message key, MAC keys and scratch. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const p = this.#provider;
    p.memzero(this.#kMsg);
    for (const k of this.#macKeys) p.memzero(k);
    if (this.#signingKey !== null) p.memzero(this.#signingKey);
    p.memzero(this.#plain);
    this.#t.clear();
  }
}

/**
 * A suite-2 slot box (docs/SPEC.md §4.1): `ct ‖ AEAD(wrapKey, 0^24, seed ‖ macKey_i ‖ senderKid)`
 * where `(ct, ss)` is an X-Wing encapsulation to the recipient's key and
 * `wrapKey = xwingSlotKey(ss, 2, sessionId, kid_i)`. The zero nonce is safe: each wrap key is used
 * once (a fresh encapsulation per slot). The shared secret and wrap key are zeroed.
 */
function xwingBox(
  p: CryptoProvider,
  boxInput: Uint8Array,
  r: RecipientPublicKey,
  sessionId: Uint8Array,
  eseedSource: ((out: Uint8Array) => void) | undefined,
): Uint8Array {
  let enc;
  if (eseedSource === undefined) {
    enc = p.xwingEncapsulate(r.publicKey);
  } else {
    const eseed = new Uint8Array(XWING_ESEED_BYTES);
    eseedSource(eseed);
    try {
      enc = p.xwingEncapsulateDeterministic(r.publicKey, eseed);
    } finally {
      p.memzero(eseed);
    }
  }
  const wrapKey = xwingSlotKey(p, enc.sharedSecret, ENVELOPE_SUITE_XWING, sessionId, r.kid);
  p.memzero(enc.sharedSecret);
  try {
    const box = new Uint8Array(XWING_BOX_BYTES);
    box.set(enc.ciphertext, 0);
    p.aeadEncrypt(
      box.subarray(XWING_CIPHERTEXT_BYTES),
      boxInput,
      null,
      new Uint8Array(NONCE_BYTES),
      wrapKey,
    );
    return box;
  } finally {
    p.memzero(wrapKey);
  }
}

/**
 * Builds a session header (docs/SPEC.md §4.1) and returns a session ready to seal. Public-key
 * work happens here: one sealed box (suite 1) or X-Wing encapsulation (suite 2) per recipient and
 * one Ed25519 signature.
 */
export function createSealingSession(opts: SealingSessionOptions): SealingSession {
  const p = opts.provider;
  const random = opts.random ?? ((out: Uint8Array) => p.randomFill(out));
  if (
    !Number.isInteger(opts.envelopeSchemaId) ||
    opts.envelopeSchemaId < 0 ||
    opts.envelopeSchemaId > 0xffff_ffff
  )
    bad('envelopeSchemaId must be a u32');
  if (opts.namespace.length !== NAMESPACE_BYTES) bad('namespace must be 16 bytes');
  if (!isValidTopic(opts.topic)) bad('topic must be a legal Kafka topic name');
  if (opts.streamId.length !== STREAM_ID_BYTES) bad('streamId must be 16 bytes');
  if (opts.senderSigningSecretKey.length !== 64) bad('senderSigningSecretKey must be 64 bytes');
  if (!Number.isInteger(opts.maxMessages) || opts.maxMessages < 1 || opts.maxMessages > 0xffff_ffff)
    bad('maxMessages must be an integer in [1, 2^32)');
  if (!Number.isSafeInteger(opts.lifetimeMs) || opts.lifetimeMs < 0)
    bad('lifetimeMs must be a non-negative integer');
  const n = opts.recipients.length;
  if (n < 1 || n > MAX_RECIPIENTS) bad(`1 to ${MAX_RECIPIENTS} recipients`);
  const padding = opts.padding ?? DEFAULT_PADDING;
  if (padding.kind === 'block' && (!Number.isInteger(padding.blockBytes) || padding.blockBytes < 1))
    bad('padding blockBytes must be a positive integer');

  const suite = opts.suite ?? ENVELOPE_SUITE;
  if (suite !== ENVELOPE_SUITE && suite !== ENVELOPE_SUITE_XWING) bad('suite must be 1 or 2');
  const xwing = suite === ENVELOPE_SUITE_XWING;
  const pkBytes = xwing ? XWING_PUBLIC_KEY_BYTES : X25519_PUBLIC_KEY_BYTES;
  const recipients = opts.recipients.map((r) => {
    if (!(r.kid instanceof Uint8Array) || !(r.publicKey instanceof Uint8Array))
      bad('recipient kid and public key must be bytes');
    // A suite is never mixed (docs/SPEC.md §4.1): every key has the suite's size and kid algorithm.
    if (r.kid.length !== KID_BYTES || r.publicKey.length !== pkBytes)
      bad(`suite ${suite}: recipient kid 16 bytes, public key ${pkBytes} bytes`);
    if (compareBytes(computeKid(p, xwing ? 'xwing' : 'x25519', r.publicKey), r.kid) !== 0)
      bad('recipient kid does not match its key');
    return r;
  });
  recipients.sort((a, b) => compareBytes(a.kid, b.kid));
  for (let i = 1; i < n; i++) {
    if (compareBytes(recipients[i - 1]!.kid, recipients[i]!.kid) === 0) bad('duplicate recipient');
  }

  const signingKey = opts.senderSigningSecretKey;
  const senderKid = computeKid(p, 'ed25519', signingKey.subarray(32, 64));
  const createdAtMs = opts.clock.nowMs();
  const expiresAtMs = createdAtMs + opts.lifetimeMs;
  if (!isU53(createdAtMs) || !isU53(expiresAtMs)) bad('clock out of range');

  const sessionId = new Uint8Array(SESSION_ID_BYTES);
  random(sessionId);
  const seed = new Uint8Array(SEED_BYTES);
  random(seed);
  const commit = kdf(p, seed, KDF_ID_COMMIT);
  const kMsg = kdf(p, seed, KDF_ID_MESSAGE_KEY);
  const kPriv = kdf(p, seed, KDF_ID_PRIVATE_KEY);
  const boxInput = new Uint8Array(BOX_PLAINTEXT_BYTES);
  const macKeys: Uint8Array[] = [];
  const kids: Uint8Array[] = [];
  const boxes: Uint8Array[] = [];
  let built = false;
  try {
    boxInput.set(seed, 0);
    boxInput.set(senderKid, SEED_BYTES + MAC_KEY_BYTES);
    for (const r of recipients) {
      const macKey = new Uint8Array(MAC_KEY_BYTES);
      random(macKey);
      boxInput.set(macKey, SEED_BYTES);
      macKeys.push(macKey);
      kids.push(copyBytes(r.kid));
      boxes.push(
        xwing
          ? xwingBox(p, boxInput, r, sessionId, opts.xwingEncapsulationSeed)
          : p.boxSeal(boxInput, r.publicKey),
      );
    }
    const flags = opts.signEveryMessage === true ? FLAG_SIGN_EVERY_MESSAGE : 0;
    const priv: SessionPrivateFields = {
      createdAtMs,
      expiresAtMs,
      maxMessages: opts.maxMessages,
      flags,
      streamId: copyBytes(opts.streamId),
    };
    const publicFields: SessionHeaderFields = {
      version: ENVELOPE_VERSION,
      suite,
      sessionId,
      namespace: copyBytes(opts.namespace),
      topic: opts.topic,
      kids,
      boxes,
      commit,
      private: new Uint8Array(0),
    };
    const headerPublic = buildHeaderPublic(publicFields);
    const tbs = buildHeaderTbs(headerPublic, senderKid, priv);
    const sig = p.signDetached(tbs, signingKey);
    const sessionHash = hash256(p, tbs);
    const privatePlain = buildPrivatePlaintext(priv, sig);
    const privateCt = new Uint8Array(privatePlain.length + AEAD_TAG_BYTES);
    p.aeadEncrypt(
      privateCt,
      privatePlain,
      hash256(p, privateAadInput(headerPublic)),
      new Uint8Array(NONCE_BYTES),
      kPriv,
    );
    const headerBytes = encodeSessionHeader({ ...publicFields, private: privateCt });
    if (commit.length !== COMMIT_BYTES) bad('internal: commitment size');
    const session = new SealingSession({
      provider: p,
      clock: opts.clock,
      schemaId: opts.envelopeSchemaId,
      topic: opts.topic,
      sessionId,
      senderKid,
      priv,
      kids,
      macKeys,
      kMsg,
      sessionHash,
      headerBytes,
      // A copy: the caller may zero its key on rotation while this session still runs.
      signingKey: flags !== 0 ? copyBytes(signingKey) : null,
      padding,
      maxCt: opts.maxCiphertextBytes ?? Number.MAX_SAFE_INTEGER,
      random,
    });
    built = true;
    return session;
  } finally {
    if (!built) {
      p.memzero(kMsg);
      for (const k of macKeys) p.memzero(k);
    }
    p.memzero(seed);
    p.memzero(kPriv);
    p.memzero(boxInput);
  }
}
