/**
 * The canonical Avro binary encoding of exactly one schema (schemas/envelope.avsc), in Confluent
 * framing: 0x00 ‖ u32 envelopeSchemaId ‖ Avro. Hand-written on purpose: a decoder for one fixed schema
 * can refuse every non-canonical form (non-minimal varints, extra or negative array blocks, negative or
 * oversized lengths, wrong fixed sizes, trailing bytes) before it allocates anything, which makes
 * "decode, re-encode, compare" unnecessary: only the canonical encoding is ever accepted.
 *
 * Decoded byte fields are views into the input (no copies); callers must not mutate the input while
 * they hold a decoded envelope.
 */
import {
  BOX_BYTES,
  COMMIT_BYTES,
  ENVELOPE_SUITE,
  ENVELOPE_SUITE_XWING,
  ENVELOPE_VERSION,
  KID_BYTES,
  MAX_RECIPIENTS,
  MAX_SEQ_EXCLUSIVE,
  MAX_TOPIC_BYTES,
  MIN_CIPHERTEXT_BYTES,
  NAMESPACE_BYTES,
  NONCE_BYTES,
  PRIVATE_BYTES,
  SESSION_ID_BYTES,
  TAG_BYTES,
  XWING_BOX_BYTES,
} from './constants.js';
import { equalBytes } from './bytes.js';
import { EnvelopeError, type EnvelopeErrorCode } from './errors.js';

/** Confluent wire-format magic byte. */
export const CONFLUENT_MAGIC = 0;
/** 0x00 ‖ u32 schema id. */
export const FRAME_PREFIX_BYTES = 5;

/** The fields of a session header as they appear on the wire (decoded values, not Avro bytes). */
export interface SessionHeaderFields {
  readonly version: number;
  readonly suite: number;
  readonly sessionId: Uint8Array;
  readonly namespace: Uint8Array;
  /** Kafka topic name (ASCII [a-zA-Z0-9._-], 1..249 bytes). */
  readonly topic: string;
  readonly kids: readonly Uint8Array[];
  /** Per slot: a 128-byte sealed box (suite 1) or a 1,216-byte X-Wing box (suite 2). */
  readonly boxes: readonly Uint8Array[];
  readonly commit: Uint8Array;
  readonly private: Uint8Array;
}

/** The record value `{header, seq, nonce, ct, tags[n]}`. */
export interface EnvelopeFields {
  readonly header: SessionHeaderFields;
  readonly seq: number;
  readonly nonce: Uint8Array;
  readonly ct: Uint8Array;
  readonly tags: readonly Uint8Array[];
}

/** A strictly decoded envelope: field views plus the exact Avro bytes of its header record. */
export interface DecodedEnvelope extends EnvelopeFields {
  /** The header record's canonical Avro bytes (input for the header-cache key `hh`). */
  readonly headerBytes: Uint8Array;
}

/** What the decoder enforces beyond the schema. */
export interface EnvelopeDecodeLimits {
  /** The pinned schema id of schemas/envelope.avsc (suite 1) in the registry. */
  readonly envelopeSchemaId: number;
  /**
   * The pinned schema id of schemas/envelope-xwing.avsc (suite 2; its slots are 1,216-byte X-Wing
   * boxes). Absent: suite-2 records are refused (WRONG_SCHEMA_ID). A record framed with one suite's
   * schema id must carry that suite (else BAD_SUITE). The two ids may be equal only for tools that
   * read any record (inspectEnvelope); then the suite field alone decides the layout.
   */
  readonly suite2EnvelopeSchemaId?: number;
  /** Our directory namespace (the authority's kid). */
  readonly namespace: Uint8Array;
  /** Largest accepted ciphertext (bytes, AEAD tag included). */
  readonly maxCiphertextBytes: number;
  /** Recipient cap, at most 16 (the default). */
  readonly maxRecipients?: number;
}

const fail = (code: EnvelopeErrorCode): never => {
  throw new EnvelopeError(code);
};

/**
 * Reads an Avro long (zigzag LEB128, at most 10 bytes) at `pos`. Returns the signed value; values
 * whose magnitude is ≥ 2^53 come back approximate but still ≥ 2^53 in magnitude, which every caller
 * rejects. Non-minimal encodings (a final 0x00 continuation byte) are NON_CANONICAL.
 */
class Cursor {
  pos = 0;
  constructor(public buf: Uint8Array) {}

  need(n: number): void {
    if (n > this.buf.length - this.pos) fail('TRUNCATED');
  }

  long(): number {
    const buf = this.buf;
    let b = buf[this.pos];
    if (b === undefined) return fail('TRUNCATED');
    this.pos++;
    const negative = (b & 1) === 1;
    // floor(z / 2) accumulated exactly while < 2^53.
    let magnitude = (b & 0x7f) >>> 1;
    let scale = 64; // 2^(7i - 1) for i = 1
    let i = 1;
    while ((b & 0x80) !== 0) {
      if (i === 10) fail('NON_CANONICAL');
      b = buf[this.pos];
      if (b === undefined) return fail('TRUNCATED');
      this.pos++;
      magnitude += (b & 0x7f) * scale;
      scale *= 128;
      i++;
    }
    if (i > 1 && b === 0) fail('NON_CANONICAL'); // minimal LEB128 never ends in a zero byte
    if (i === 10 && b > 1) fail('NON_CANONICAL'); // more than 64 bits
    return negative ? -magnitude - 1 : magnitude;
  }

  /** A length prefix: must be 0 ≤ n ≤ max, and the bytes must be there. */
  length(max: number, code: EnvelopeErrorCode): number {
    const n = this.long();
    if (n < 0) fail('BAD_LENGTH');
    if (n > max) fail(code);
    this.need(n);
    return n;
  }

  fixed(size: number): Uint8Array {
    this.need(size);
    const v = this.buf.subarray(this.pos, this.pos + size);
    this.pos += size;
    return v;
  }
}

const TOPIC_CHAR = new Uint8Array(256);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-')
  TOPIC_CHAR[c.charCodeAt(0)] = 1;

/** True for a legal Kafka topic name (the only topics a header may carry). */
export function isValidTopic(topic: string): boolean {
  if (topic.length < 1 || topic.length > MAX_TOPIC_BYTES) return false;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c > 255 || TOPIC_CHAR[c] !== 1) return false;
  }
  return true;
}

/** -1, 0, 1 lexicographic comparison of equal-length kids. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Bit per suite a schema id admits: 1 << suite. */
type SuiteMask = number;

/**
 * Checks magic and schema id; returns the suites the schema id admits (bit `1 << suite`). The Avro
 * body starts at FRAME_PREFIX_BYTES.
 */
function checkFrame(value: Uint8Array, limits: EnvelopeDecodeLimits): SuiteMask {
  if (value.length < FRAME_PREFIX_BYTES) fail('TOO_SHORT');
  if (value[0] !== CONFLUENT_MAGIC) fail('BAD_MAGIC');
  const schemaId = ((value[1]! << 24) | (value[2]! << 16) | (value[3]! << 8) | value[4]!) >>> 0;
  let mask = 0;
  if (schemaId === limits.envelopeSchemaId) mask |= 1 << ENVELOPE_SUITE;
  if (schemaId === limits.suite2EnvelopeSchemaId) mask |= 1 << ENVELOPE_SUITE_XWING;
  if (mask === 0) fail('WRONG_SCHEMA_ID');
  return mask;
}

/** The box size of a suite's slots. */
export function slotBoxBytes(suite: number): number {
  return suite === ENVELOPE_SUITE_XWING ? XWING_BOX_BYTES : BOX_BYTES;
}

/** Decodes the header record at the cursor (fields are views into the cursor's buffer). */
function decodeHeader(
  c: Cursor,
  limits: EnvelopeDecodeLimits,
  suites: SuiteMask,
): SessionHeaderFields {
  const value = c.buf;
  const maxRecipients = Math.min(limits.maxRecipients ?? MAX_RECIPIENTS, MAX_RECIPIENTS);
  const version = c.long();
  if (version !== ENVELOPE_VERSION) fail('BAD_VERSION');
  const suite = c.long();
  // Only suites 1 and 2 exist, and only the one the frame's schema id describes is accepted.
  if (suite !== ENVELOPE_SUITE && suite !== ENVELOPE_SUITE_XWING) fail('BAD_SUITE');
  if ((suites & (1 << suite)) === 0) fail('BAD_SUITE');
  const boxBytes = slotBoxBytes(suite);
  const sessionId = c.fixed(SESSION_ID_BYTES);
  const namespace = c.fixed(NAMESPACE_BYTES);
  if (!equalBytes(namespace, limits.namespace)) fail('WRONG_NAMESPACE');

  const topicLength = c.length(MAX_TOPIC_BYTES, 'BAD_TOPIC');
  if (topicLength === 0) fail('BAD_TOPIC');
  let topic = '';
  for (let i = 0; i < topicLength; i++) {
    const ch = value[c.pos + i]!;
    if (TOPIC_CHAR[ch] !== 1) fail('BAD_TOPIC');
    topic += String.fromCharCode(ch);
  }
  c.pos += topicLength;

  // slots: exactly one block of 1..16 items, then the 0 terminator.
  const n = c.long();
  if (n === 0) fail('NO_RECIPIENTS');
  if (n < 0) fail('NON_CANONICAL'); // a block with a byte size is legal Avro but not canonical
  if (n > maxRecipients) fail('TOO_MANY_RECIPIENTS');
  c.need(n * (KID_BYTES + boxBytes));
  const kids: Uint8Array[] = new Array<Uint8Array>(n);
  const boxes: Uint8Array[] = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++) {
    const k = c.fixed(KID_BYTES);
    if (i > 0 && compareBytes(kids[i - 1]!, k) >= 0) fail('KIDS_NOT_ASCENDING');
    kids[i] = k;
    boxes[i] = c.fixed(boxBytes);
  }
  if (c.long() !== 0) fail('NON_CANONICAL'); // an extra array block
  const commit = c.fixed(COMMIT_BYTES);
  const priv = c.fixed(PRIVATE_BYTES);
  return { version, suite, sessionId, namespace, topic, kids, boxes, commit, private: priv };
}

/** Decodes seq, nonce, ct and tags after the header; n = the header's slot count. */
function decodeTail(
  c: Cursor,
  limits: EnvelopeDecodeLimits,
  header: SessionHeaderFields,
  headerBytes: Uint8Array,
): DecodedEnvelope {
  const value = c.buf;
  const n = header.kids.length;
  const seq = c.long();
  if (seq < 0 || seq >= MAX_SEQ_EXCLUSIVE) fail('BAD_SEQ');
  const nonce = c.fixed(NONCE_BYTES);
  const ctLength = c.length(limits.maxCiphertextBytes, 'CIPHERTEXT_TOO_LARGE');
  if (ctLength < MIN_CIPHERTEXT_BYTES) fail('BAD_LENGTH');
  const ct = c.fixed(ctLength);

  const tagCount = c.long();
  if (tagCount < 0) fail('NON_CANONICAL');
  if (tagCount !== n) fail('TAG_COUNT');
  c.need(n * TAG_BYTES);
  const tags: Uint8Array[] = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++) tags[i] = c.fixed(TAG_BYTES);
  if (c.long() !== 0) fail('NON_CANONICAL');
  if (c.pos !== value.length) fail('TRAILING_BYTES');
  return { header, headerBytes, seq, nonce, ct, tags };
}

/**
 * Decodes and validates a record value (docs/SPEC.md §Opening step 1). Throws EnvelopeError
 * [MALFORMED] at the first problem, before allocating for any declared length.
 */
export function decodeEnvelope(value: Uint8Array, limits: EnvelopeDecodeLimits): DecodedEnvelope {
  const c = new Cursor(value);
  const suites = checkFrame(value, limits);
  c.pos = FRAME_PREFIX_BYTES;
  const headerStart = c.pos;
  const header = decodeHeader(c, limits, suites);
  return decodeTail(c, limits, header, value.subarray(headerStart, c.pos));
}

/**
 * decodeEnvelope with a memory of the last header: consecutive records of one session carry
 * byte-identical headers, so when the bytes after the frame prefix start with the last successfully
 * decoded header, that header's fields are reused (they are views into a private copy, validated
 * under the same limits) and only the tail is decoded. Same results and errors as decodeEnvelope.
 */
export class EnvelopeDecoder {
  readonly #limits: EnvelopeDecodeLimits;
  #lastHeaderBytes: Uint8Array = new Uint8Array(0);
  #lastHeader: SessionHeaderFields | null = null;
  /** The record's cursor, one per decoder (decode is synchronous and not re-entrant). */
  readonly #cursor = new Cursor(new Uint8Array(0));

  constructor(limits: EnvelopeDecodeLimits) {
    this.#limits = limits;
  }

  decode(value: Uint8Array): DecodedEnvelope {
    const limits = this.#limits;
    const suites = checkFrame(value, limits);
    const c = this.#cursor;
    c.buf = value;
    c.pos = FRAME_PREFIX_BYTES;
    const last = this.#lastHeaderBytes;
    const end = FRAME_PREFIX_BYTES + last.length;
    if (
      this.#lastHeader !== null &&
      (suites & (1 << this.#lastHeader.suite)) !== 0 &&
      end <= value.length &&
      // value[5, end) against the last header, in place (no view per record).
      compareRange(value, FRAME_PREFIX_BYTES, end, last) === 0
    ) {
      c.pos = end;
      return decodeTail(c, limits, this.#lastHeader, last);
    }
    const headerStart = c.pos;
    decodeHeader(c, limits, suites); // validates in place first: nothing is copied for a bad header
    const copy = new Uint8Array(c.pos - headerStart);
    copy.set(value.subarray(headerStart, c.pos));
    const own = new Cursor(copy);
    const header = decodeHeader(own, limits, suites);
    const env = decodeTail(c, limits, header, copy);
    this.#lastHeaderBytes = copy;
    this.#lastHeader = header;
    return env;
  }
}

// eslint-disable-next-line @typescript-eslint/unbound-method -- called with its `this` below
const bufferCompare = (Buffer.prototype as Buffer).compare;

/** Buffer.compare of `source[start, end)` with `target`, without a view of the range. */
function compareRange(source: Uint8Array, start: number, end: number, target: Uint8Array): number {
  return bufferCompare.call(source as Buffer, target, 0, target.length, start, end);
}

/** Bytes of the zigzag varint of a non-negative integer < 2^53. */
export function varLongSize(v: number): number {
  let z = v * 2;
  let n = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    n++;
  }
  return n;
}

/** Writes the Avro long `v` (integer, |v| < 2^53) at `off`; returns the new offset. */
export function writeVarLong(buf: Uint8Array, off: number, v: number): number {
  let z = v >= 0 ? v * 2 : -v * 2 - 1;
  while (z >= 128) {
    buf[off++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[off++] = z;
  return off;
}

function signedVarLongSize(v: number): number {
  return varLongSize(v >= 0 ? v : -v - 0.5);
}

/** Size of the header record's Avro encoding (no validation: tests use it to build bad inputs). */
function headerSize(h: SessionHeaderFields): number {
  const n = h.kids.length;
  let size =
    signedVarLongSize(h.version) +
    signedVarLongSize(h.suite) +
    h.sessionId.length +
    h.namespace.length +
    varLongSize(h.topic.length) +
    h.topic.length +
    h.commit.length +
    h.private.length +
    1;
  if (n > 0) size += varLongSize(n);
  for (let i = 0; i < n; i++) size += h.kids[i]!.length + (h.boxes[i]?.length ?? 0);
  return size;
}

/**
 * Encodes a header record as canonical Avro. Does not validate sizes or ranges: the sealing code
 * validates before it builds, and tests use this to build deliberately wrong inputs.
 */
export function encodeSessionHeader(h: SessionHeaderFields): Uint8Array {
  const out = new Uint8Array(headerSize(h));
  let o = writeVarLong(out, 0, h.version);
  o = writeVarLong(out, o, h.suite);
  out.set(h.sessionId, o);
  o += h.sessionId.length;
  out.set(h.namespace, o);
  o += h.namespace.length;
  o = writeVarLong(out, o, h.topic.length);
  for (let i = 0; i < h.topic.length; i++) out[o++] = h.topic.charCodeAt(i) & 0xff;
  const n = h.kids.length;
  if (n > 0) {
    o = writeVarLong(out, o, n);
    for (let i = 0; i < n; i++) {
      out.set(h.kids[i]!, o);
      o += h.kids[i]!.length;
      const box = h.boxes[i] ?? new Uint8Array(0);
      out.set(box, o);
      o += box.length;
    }
  }
  out[o++] = 0;
  out.set(h.commit, o);
  o += h.commit.length;
  out.set(h.private, o);
  return out;
}

/** Size of a framed record value given its already-encoded header. */
export function envelopeSize(
  headerBytesLength: number,
  seq: number,
  ctLength: number,
  tagCount: number,
): number {
  return (
    FRAME_PREFIX_BYTES +
    headerBytesLength +
    varLongSize(seq) +
    NONCE_BYTES +
    varLongSize(ctLength) +
    ctLength +
    (tagCount > 0 ? varLongSize(tagCount) : 0) +
    tagCount * TAG_BYTES +
    1
  );
}

/** Writes the Confluent frame prefix. */
export function writeFramePrefix(out: Uint8Array, schemaId: number): void {
  out[0] = CONFLUENT_MAGIC;
  out[1] = (schemaId >>> 24) & 0xff;
  out[2] = (schemaId >>> 16) & 0xff;
  out[3] = (schemaId >>> 8) & 0xff;
  out[4] = schemaId & 0xff;
}

/**
 * Encodes a whole record value from field values (no validation; see encodeSessionHeader). The
 * sealing hot path writes the same bytes in place instead.
 */
export function encodeEnvelope(schemaId: number, env: EnvelopeFields): Uint8Array {
  const headerBytes = encodeSessionHeader(env.header);
  const tags = env.tags;
  let tagBytes = 0;
  for (const t of tags) tagBytes += t.length;
  const size =
    envelopeSize(headerBytes.length, 0, env.ct.length, tags.length) -
    1 -
    NONCE_BYTES +
    signedVarLongSize(env.seq) +
    env.nonce.length -
    tags.length * TAG_BYTES +
    tagBytes;
  const out = new Uint8Array(size);
  writeFramePrefix(out, schemaId);
  let o = FRAME_PREFIX_BYTES;
  out.set(headerBytes, o);
  o += headerBytes.length;
  o = writeVarLong(out, o, env.seq);
  out.set(env.nonce, o);
  o += env.nonce.length;
  o = writeVarLong(out, o, env.ct.length);
  out.set(env.ct, o);
  o += env.ct.length;
  if (tags.length > 0) {
    o = writeVarLong(out, o, tags.length);
    for (const t of tags) {
      out.set(t, o);
      o += t.length;
    }
  }
  out[o] = 0;
  return out;
}
