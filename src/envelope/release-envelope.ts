/**
 * The quarantine release envelope (docs/SPEC.md §11): an operator-signed wrapper around the original
 * sealed record bytes that lets a consumer group accept that one record once more although its seq is
 * behind the replay window or its session is older than the horizon. Pure: encode, strict decode,
 * the signed bytes and the release id; the directory check and the replay bookkeeping are the
 * pipeline's (src/pipeline/consumer/release-admission.ts).
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { isU32, isU53, readU16, readU32, readU64, writeU16, writeU32, writeU64 } from './bytes.js';
import { invalidArgument } from '../errors.js';
import { EnvelopeError } from './errors.js';
import { LABELS } from './labels.js';

/** First byte of a release value. An envelope's first byte is always 0x00 (§2), so they never overlap. */
export const RELEASE_MAGIC = 0x01;
/** Version byte that follows the magic. */
export const RELEASE_VERSION = 1;
const KID = 16;
const SIG = 64;
/** magic, version, operatorKid, namespace, issuedAt, expiresAt. */
const FIXED_HEAD = 1 + 1 + KID + KID + 8 + 8;
/** The smallest possible release: 1-byte topic and group, a 5-byte inner record. */
const MIN_RELEASE_BYTES = FIXED_HEAD + 2 + 1 + 4 + 2 + 1 + 8 + 4 + 5 + SIG;
const MAX_GROUP_BYTES = 255;
const TOPIC_RE = /^[a-zA-Z0-9._-]{1,249}$/;
/** Bytes of a release id. */
export const RELEASE_ID_BYTES = 16;

/** What a release says (everything but the signature). */
export interface ReleaseFields {
  /** kid(ed25519) of the operator key that signs. */
  readonly operatorKid: Uint8Array;
  /** The directory authority's kid (the envelope's namespace). */
  readonly namespace: Uint8Array;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  /** Where the release may be accepted: this topic and partition, by this consumer group only. */
  readonly topic: string;
  readonly partition: number;
  readonly group: string;
  /** The quarantine entry it releases (informational, for the audit trail); 0 if none. */
  readonly entryId: number;
  /** The original record value, byte for byte (its first byte is 0x00). */
  readonly inner: Uint8Array;
}

/** A decoded release: its fields, the bytes the signature covers, and the signature. */
export interface DecodedRelease extends ReleaseFields {
  readonly toBeSigned: Uint8Array;
  readonly signature: Uint8Array;
}

/** True if a record value carries the release marker (it is then never opened as an envelope). */
export function isReleaseValue(value: Uint8Array): boolean {
  return value.length > 0 && value[0] === RELEASE_MAGIC;
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** The canonical bytes a release signature covers (without the label): everything before `sig`. */
function bodyBytes(f: ReleaseFields): Uint8Array {
  const bad = (what: string): never => {
    throw invalidArgument(`release: ${what}`);
  };
  if (f.operatorKid.length !== KID || f.namespace.length !== KID) bad('kids are 16 bytes');
  if (!isU53(f.issuedAtMs) || !isU53(f.expiresAtMs) || f.expiresAtMs < f.issuedAtMs)
    bad('issuedAtMs ≤ expiresAtMs, both < 2^53');
  if (!TOPIC_RE.test(f.topic)) bad('topic must be 1..249 of [a-zA-Z0-9._-]');
  if (!isU32(f.partition) || f.partition > 0x7fffffff) bad('partition out of range');
  const group = enc.encode(f.group);
  if (group.length < 1 || group.length > MAX_GROUP_BYTES) bad('group must be 1..255 bytes');
  if (!isU53(f.entryId)) bad('entryId out of range');
  if (f.inner.length < 5 || f.inner.length > 0xffffffff || f.inner[0] !== 0x00)
    bad('inner must be a sealed record value (first byte 0x00)');
  const topic = enc.encode(f.topic);
  const out = new Uint8Array(
    FIXED_HEAD + 2 + topic.length + 4 + 2 + group.length + 8 + 4 + f.inner.length,
  );
  let o = 0;
  out[o++] = RELEASE_MAGIC;
  out[o++] = RELEASE_VERSION;
  out.set(f.operatorKid, o);
  o += KID;
  out.set(f.namespace, o);
  o += KID;
  o = writeU64(out, o, f.issuedAtMs);
  o = writeU64(out, o, f.expiresAtMs);
  o = writeU16(out, o, topic.length);
  out.set(topic, o);
  o += topic.length;
  o = writeU32(out, o, f.partition);
  o = writeU16(out, o, group.length);
  out.set(group, o);
  o += group.length;
  o = writeU64(out, o, f.entryId);
  o = writeU32(out, o, f.inner.length);
  out.set(f.inner, o);
  return out;
}

/** `L(release-sig) ‖ body`: what the operator key signs. */
function signedInput(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(LABELS.releaseSig.length + body.length);
  out.set(LABELS.releaseSig, 0);
  out.set(body, LABELS.releaseSig.length);
  return out;
}

/**
 * Builds a release value: `body ‖ SIG(operatorKey, L(release-sig) ‖ body)`. `sign` gets the bytes to
 * sign (a local key or a KMS); the result must be a 64-byte Ed25519 signature.
 */
export function encodeRelease(
  fields: ReleaseFields,
  sign: (toBeSigned: Uint8Array) => Uint8Array,
): Uint8Array {
  const body = bodyBytes(fields);
  const sig = sign(signedInput(body));
  if (sig.length !== SIG) throw invalidArgument('release signature must be 64 bytes');
  const out = new Uint8Array(body.length + SIG);
  out.set(body, 0);
  out.set(sig, body.length);
  return out;
}

/**
 * Strict decode of a release value (§11 step R1): marker, version, every length checked before it is
 * used, a legal topic, a UTF-8 group, an inner value that is an envelope (first byte 0x00, not another
 * release), no trailing bytes. Throws EnvelopeError RELEASE_MALFORMED. Does not verify the signature.
 */
export function decodeRelease(value: Uint8Array, maxInnerBytes: number): DecodedRelease {
  const bad = (): never => {
    throw new EnvelopeError('RELEASE_MALFORMED');
  };
  if (value.length < MIN_RELEASE_BYTES) bad();
  if (value[0] !== RELEASE_MAGIC || value[1] !== RELEASE_VERSION) bad();
  let o = 2;
  const operatorKid = value.slice(o, o + KID);
  o += KID;
  const namespace = value.slice(o, o + KID);
  o += KID;
  const issuedAtMs = readU64(value, o);
  const expiresAtMs = readU64(value, o + 8);
  o += 16;
  if (issuedAtMs < 0 || expiresAtMs < 0 || expiresAtMs < issuedAtMs) bad();
  const body = value.length - SIG;
  const tl = readU16(value, o);
  o += 2;
  if (tl < 1 || o + tl + 4 + 2 > body) bad();
  let topic = '';
  let group = '';
  try {
    topic = dec.decode(value.subarray(o, o + tl));
  } catch {
    bad();
  }
  if (!TOPIC_RE.test(topic)) bad();
  o += tl;
  const partition = readU32(value, o);
  o += 4;
  if (partition > 0x7fffffff) bad();
  const gl = readU16(value, o);
  o += 2;
  if (gl < 1 || gl > MAX_GROUP_BYTES || o + gl + 8 + 4 > body) bad();
  try {
    group = dec.decode(value.subarray(o, o + gl));
  } catch {
    bad();
  }
  o += gl;
  const entryId = readU64(value, o);
  o += 8;
  if (entryId < 0) bad();
  const il = readU32(value, o);
  o += 4;
  if (il < 5 || il > maxInnerBytes || o + il !== body) bad();
  const inner = value.slice(o, o + il);
  if (inner[0] !== 0x00) bad();
  return {
    operatorKid,
    namespace,
    issuedAtMs,
    expiresAtMs,
    topic,
    partition,
    group,
    entryId,
    inner,
    toBeSigned: signedInput(value.subarray(0, body)),
    signature: value.slice(body),
  };
}

/**
 * The release id: `H16(L(release-id) ‖ inner)`. Computed by the consumer from the inner record, never
 * taken from the release, so every release of the same record shares it (§11 step R5).
 */
export function releaseIdOf(crypto: CryptoProvider, inner: Uint8Array): Uint8Array {
  const input = new Uint8Array(LABELS.releaseId.length + inner.length);
  input.set(LABELS.releaseId, 0);
  input.set(inner, LABELS.releaseId.length);
  const out = new Uint8Array(RELEASE_ID_BYTES);
  crypto.hash(out, input);
  return out;
}
