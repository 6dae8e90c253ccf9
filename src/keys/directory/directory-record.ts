import { z } from 'zod';
import type { CryptoProvider } from '../../crypto/provider.js';
import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  X25519_PUBLIC_KEY_BYTES,
  XWING_PUBLIC_KEY_BYTES,
} from '../../crypto/provider.js';
import { ByteWriter, fromBase64, fromHex, label, toBase64, toHex } from '../bytes.js';
import { IDENTITY_NAME_PATTERN } from '../identity.js';
import { KID_BYTES } from '../kid.js';
import { DirectoryError } from './directory-error.js';

/** A directory key's status: `active` (sealed to, may send), `retiring` (opens, not sealed to), `revoked` (refused, terminal). */
export type DirectoryStatus = 'active' | 'retiring' | 'revoked';

/**
 * One key generation of an identity in the directory. Its record key (Kafka key, uniqueness) is
 * `record/<identity>/<signKid hex>`; a new version of the same record carries a higher serial.
 */
export interface DirectoryRecord {
  readonly identity: string;
  readonly serial: number;
  readonly status: DirectoryStatus;
  readonly boxKid: Uint8Array;
  readonly boxPublicKey: Uint8Array;
  readonly signKid: Uint8Array;
  readonly signPublicKey: Uint8Array;
  /** The key may be used from this time (inclusive)… */
  readonly validFromMs: number;
  /** …until this time (exclusive). */
  readonly validUntilMs: number;
  /** When the key started retiring; null while active. */
  readonly retiredAtMs: number | null;
  /** Topics the identity may send to with this key: exact names, or prefixes ending in `*`; sorted, unique. */
  readonly sendTopics: readonly string[];
  /** Topics the identity may receive from with this key; same syntax. */
  readonly receiveTopics: readonly string[];
  /**
   * Token field classes the identity is cleared to detokenize (src/tokenize); sorted, unique, never
   * empty when present. Absent on records that predate tokenization (their signed bytes are unchanged).
   */
  readonly detokenizeClasses?: readonly string[];
  /**
   * Topics (exact, or prefixes ending in `*`) for which this key may sign quarantine releases
   * (docs/SPEC.md §11); sorted, unique, never empty when present. Absent on records without the grant.
   */
  readonly releaseTopics?: readonly string[];
  /**
   * The generation's X-Wing public key (1,216 bytes) and its kid `kid(xwing, pk)`: peers may seal
   * suite 2 (docs/SECURITY.md "Post-quantum sealing") to it. Both present or both absent; absent on
   * records without one (their signed bytes are unchanged).
   */
  readonly kemKid?: Uint8Array;
  readonly kemPublicKey?: Uint8Array;
}

/** The signed head: what a service must hold unexpired to open or accept a session. */
export interface DirectoryHead {
  /** The authority's Ed25519 kid: the namespace bound into every envelope header. */
  readonly authorityKid: Uint8Array;
  readonly highestSerial: number;
  /** Increases whenever the record set changes (a re-issued head with the same records keeps it). */
  readonly epoch: number;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  /** Number of records and a digest over them, so a withheld record (e.g. a revocation) is detected. */
  readonly recordCount: number;
  readonly recordsDigest: Uint8Array;
}

export interface SignedRecord {
  readonly record: DirectoryRecord;
  readonly signature: Uint8Array;
}
export interface SignedHead {
  readonly head: DirectoryHead;
  readonly signature: Uint8Array;
}

const STATUS_CODE: Record<DirectoryStatus, number> = { active: 1, retiring: 2, revoked: 3 };
/** Kafka topic names (≤ 249 of [a-zA-Z0-9._-]), optionally ending in `*` as a prefix pattern. */
export const TOPIC_PATTERN = /^(?:[a-zA-Z0-9._-]{1,249}|[a-zA-Z0-9._-]{0,248}\*)$/;
const MAX_TOPICS = 1024;
/** A token field class name (see src/tokenize): lowercase, no dots, ≤ 32 characters. */
export const TOKEN_CLASS_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const MAX_DETOKENIZE_CLASSES = 256;
/** Extension tag after the receive topics in a record's signed bytes: the detokenize classes follow. */
const EXT_DETOKENIZE_CLASSES = 1;
/** Extension tag after that: the topics the key may sign quarantine releases for (SPEC §11.1). */
const EXT_RELEASE_TOPICS = 2;
/** Extension tag after that: the X-Wing key (suite 2), `kemKid[16] ‖ kemPk[1216]`. */
const EXT_XWING_KEY = 3;

const RECORD_LABEL = label('directory-record');
const HEAD_LABEL = label('directory-head');
const RECORDS_DIGEST_LABEL = label('directory-records');
/** Version byte of the canonical encodings below. */
const ENCODING_VERSION = 1;

/** The record key: `record/<identity>/<signKid hex>`. */
export function recordKeyOf(r: Pick<DirectoryRecord, 'identity' | 'signKid'>): string {
  return `record/${r.identity}/${toHex(r.signKid)}`;
}

/** The Kafka key of the head. */
export const HEAD_KEY = 'head';

/**
 * Canonical bytes signed for a record:
 * `L(directory-record) ‖ u8 1 ‖ authorityKid[16] ‖ u64 serial ‖ u16 |identity| ‖ identity ‖ u8 status
 * (1 active, 2 retiring, 3 revoked) ‖ boxKid[16] ‖ boxPk[32] ‖ signKid[16] ‖ signPk[32] ‖ u64 validFromMs ‖
 * u64 validUntilMs ‖ u8 hasRetiredAt ‖ u64 retiredAtMs (0 if none) ‖ u16 nSend ‖ (u16 len ‖ topic)… ‖
 * u16 nReceive ‖ (u16 len ‖ topic)…`, then — only when the record has detokenize classes — `u8 1 ‖
 * u16 nClasses ‖ (u16 len ‖ class)…`, then — only when it has release topics — `u8 2 ‖ u16 nTopics ‖
 * (u16 len ‖ topic)…`, then — only when it has an X-Wing key — `u8 3 ‖ kemKid[16] ‖ kemPk[1216]`
 * (records without them sign exactly the bytes they always did).
 * The authority's kid binds the record to one namespace.
 */
export function recordToBeSigned(authorityKid: Uint8Array, r: DirectoryRecord): Uint8Array {
  const w = new ByteWriter()
    .bytes(RECORD_LABEL)
    .u8(ENCODING_VERSION)
    .fixed(authorityKid, KID_BYTES)
    .u64(r.serial)
    .str16(r.identity)
    .u8(STATUS_CODE[r.status])
    .fixed(r.boxKid, KID_BYTES)
    .fixed(r.boxPublicKey, X25519_PUBLIC_KEY_BYTES)
    .fixed(r.signKid, KID_BYTES)
    .fixed(r.signPublicKey, ED25519_PUBLIC_KEY_BYTES)
    .u64(r.validFromMs)
    .u64(r.validUntilMs)
    .u8(r.retiredAtMs === null ? 0 : 1)
    .u64(r.retiredAtMs ?? 0)
    .u16(r.sendTopics.length);
  for (const t of r.sendTopics) w.str16(t);
  w.u16(r.receiveTopics.length);
  for (const t of r.receiveTopics) w.str16(t);
  const classes = r.detokenizeClasses;
  if (classes !== undefined && classes.length > 0) {
    w.u8(EXT_DETOKENIZE_CLASSES).u16(classes.length);
    for (const c of classes) w.str16(c);
  }
  const release = r.releaseTopics;
  if (release !== undefined && release.length > 0) {
    w.u8(EXT_RELEASE_TOPICS).u16(release.length);
    for (const t of release) w.str16(t);
  }
  if (r.kemKid !== undefined || r.kemPublicKey !== undefined) {
    w.u8(EXT_XWING_KEY)
      .fixed(r.kemKid ?? new Uint8Array(0), KID_BYTES)
      .fixed(r.kemPublicKey ?? new Uint8Array(0), XWING_PUBLIC_KEY_BYTES);
  }
  return w.finish();
}

/**
 * Canonical bytes signed for the head: `L(directory-head) ‖ u8 1 ‖ authorityKid[16] ‖ u64 highestSerial ‖
 * u64 epoch ‖ u64 issuedAtMs ‖ u64 expiresAtMs ‖ u32 recordCount ‖ recordsDigest[32]`.
 */
export function headToBeSigned(h: DirectoryHead): Uint8Array {
  return new ByteWriter()
    .bytes(HEAD_LABEL)
    .u8(ENCODING_VERSION)
    .fixed(h.authorityKid, KID_BYTES)
    .u64(h.highestSerial)
    .u64(h.epoch)
    .u64(h.issuedAtMs)
    .u64(h.expiresAtMs)
    .u32(h.recordCount)
    .fixed(h.recordsDigest, 32)
    .finish();
}

/**
 * `recordsDigest = H(L(directory-records) ‖ u32 n ‖ H(recordTBS_1) ‖ … ‖ H(recordTBS_n))` over the
 * current version of every record, ordered by record key (byte order of the UTF-8 key).
 */
export function recordsDigest(
  crypto: CryptoProvider,
  authorityKid: Uint8Array,
  records: readonly DirectoryRecord[],
): Uint8Array {
  const sorted = [...records].sort((a, b) => compareKeys(recordKeyOf(a), recordKeyOf(b)));
  const w = new ByteWriter().bytes(RECORDS_DIGEST_LABEL).u32(sorted.length);
  for (const r of sorted) {
    const h = new Uint8Array(32);
    crypto.hash(h, recordToBeSigned(authorityKid, r));
    w.bytes(h);
  }
  const out = new Uint8Array(32);
  crypto.hash(out, w.finish());
  return out;
}

/** Byte-order comparison of record keys (they are ASCII). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True if `topic` is matched by one of `patterns` (exact, or prefix before a trailing `*`). */
export function topicMatches(patterns: readonly string[], topic: string): boolean {
  for (const p of patterns) {
    if (p.endsWith('*') ? topic.startsWith(p.slice(0, -1)) : p === topic) return true;
  }
  return false;
}

// --- JSON wire form (file and Kafka topic), parsed strictly ---

const hexKid = z.string().regex(/^[0-9a-f]{32}$/);
const b64 = z.string().max(200);
/** Base64 of an X-Wing public key (1,216 bytes → 1,624 characters). */
const b64Kem = z.string().max(1700);
const ms = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const topics = z.array(z.string().regex(TOPIC_PATTERN)).max(MAX_TOPICS);

export const signedRecordJsonSchema = z
  .object({
    v: z.literal(1),
    identity: z.string().regex(IDENTITY_NAME_PATTERN),
    serial: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    status: z.enum(['active', 'retiring', 'revoked']),
    box: z.object({ kid: hexKid, publicKey: b64 }).strict(),
    sign: z.object({ kid: hexKid, publicKey: b64 }).strict(),
    validFromMs: ms,
    validUntilMs: ms,
    retiredAtMs: ms.nullable(),
    sendTopics: topics,
    receiveTopics: topics,
    detokenizeClasses: z
      .array(z.string().regex(TOKEN_CLASS_PATTERN))
      .min(1)
      .max(MAX_DETOKENIZE_CLASSES)
      .optional(),
    releaseTopics: topics.min(1).optional(),
    kem: z.object({ kid: hexKid, publicKey: b64Kem }).strict().optional(),
    signature: b64,
  })
  .strict();
export type SignedRecordJson = z.infer<typeof signedRecordJsonSchema>;

export const signedHeadJsonSchema = z
  .object({
    v: z.literal(1),
    authorityKid: hexKid,
    highestSerial: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    epoch: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    issuedAtMs: ms,
    expiresAtMs: ms,
    recordCount: z.number().int().min(0).max(0xffffffff),
    recordsDigest: z.string().regex(/^[0-9a-f]{64}$/),
    signature: b64,
  })
  .strict();
export type SignedHeadJson = z.infer<typeof signedHeadJsonSchema>;

/** Strictly parses a signed record (unknown fields, bad sizes → DIRECTORY_MALFORMED). */
export function parseSignedRecord(json: unknown): SignedRecord {
  const p = signedRecordJsonSchema.safeParse(json);
  if (!p.success) {
    throw new DirectoryError(
      'DIRECTORY_MALFORMED',
      `directory record is malformed (at: ${issuePaths(p.error)})`,
    );
  }
  const j = p.data;
  try {
    return {
      record: {
        identity: j.identity,
        serial: j.serial,
        status: j.status,
        boxKid: fromHex(j.box.kid, KID_BYTES),
        boxPublicKey: fromBase64(j.box.publicKey, X25519_PUBLIC_KEY_BYTES),
        signKid: fromHex(j.sign.kid, KID_BYTES),
        signPublicKey: fromBase64(j.sign.publicKey, ED25519_PUBLIC_KEY_BYTES),
        validFromMs: j.validFromMs,
        validUntilMs: j.validUntilMs,
        retiredAtMs: j.retiredAtMs,
        sendTopics: j.sendTopics,
        receiveTopics: j.receiveTopics,
        ...(j.detokenizeClasses === undefined ? {} : { detokenizeClasses: j.detokenizeClasses }),
        ...(j.releaseTopics === undefined ? {} : { releaseTopics: j.releaseTopics }),
        ...(j.kem === undefined
          ? {}
          : {
              kemKid: fromHex(j.kem.kid, KID_BYTES),
              kemPublicKey: fromBase64(j.kem.publicKey, XWING_PUBLIC_KEY_BYTES),
            }),
      },
      signature: fromBase64(j.signature, ED25519_SIGNATURE_BYTES),
    };
  } catch (err) {
    throw new DirectoryError(
      'DIRECTORY_MALFORMED',
      `directory record for ${j.identity} has a bad key or signature encoding`,
      { cause: err },
    );
  }
}

/** Strictly parses a signed head. */
export function parseSignedHead(json: unknown): SignedHead {
  const p = signedHeadJsonSchema.safeParse(json);
  if (!p.success)
    throw new DirectoryError(
      'DIRECTORY_MALFORMED',
      `directory head is malformed (at: ${issuePaths(p.error)})`,
    );
  const j = p.data;
  try {
    return {
      head: {
        authorityKid: fromHex(j.authorityKid, KID_BYTES),
        highestSerial: j.highestSerial,
        epoch: j.epoch,
        issuedAtMs: j.issuedAtMs,
        expiresAtMs: j.expiresAtMs,
        recordCount: j.recordCount,
        recordsDigest: fromHex(j.recordsDigest, 32),
      },
      signature: fromBase64(j.signature, ED25519_SIGNATURE_BYTES),
    };
  } catch (err) {
    throw new DirectoryError('DIRECTORY_MALFORMED', 'directory head has a bad signature encoding', {
      cause: err,
    });
  }
}

export function signedRecordToJson(s: SignedRecord): SignedRecordJson {
  const r = s.record;
  return {
    v: 1,
    identity: r.identity,
    serial: r.serial,
    status: r.status,
    box: { kid: toHex(r.boxKid), publicKey: toBase64(r.boxPublicKey) },
    sign: { kid: toHex(r.signKid), publicKey: toBase64(r.signPublicKey) },
    validFromMs: r.validFromMs,
    validUntilMs: r.validUntilMs,
    retiredAtMs: r.retiredAtMs,
    sendTopics: [...r.sendTopics],
    receiveTopics: [...r.receiveTopics],
    ...(r.detokenizeClasses === undefined || r.detokenizeClasses.length === 0
      ? {}
      : { detokenizeClasses: [...r.detokenizeClasses] }),
    ...(r.releaseTopics === undefined || r.releaseTopics.length === 0
      ? {}
      : { releaseTopics: [...r.releaseTopics] }),
    ...(r.kemKid === undefined || r.kemPublicKey === undefined
      ? {}
      : { kem: { kid: toHex(r.kemKid), publicKey: toBase64(r.kemPublicKey) } }),
    signature: toBase64(s.signature),
  };
}

export function signedHeadToJson(s: SignedHead): SignedHeadJson {
  const h = s.head;
  return {
    v: 1,
    authorityKid: toHex(h.authorityKid),
    highestSerial: h.highestSerial,
    epoch: h.epoch,
    issuedAtMs: h.issuedAtMs,
    expiresAtMs: h.expiresAtMs,
    recordCount: h.recordCount,
    recordsDigest: toHex(h.recordsDigest),
    signature: toBase64(s.signature),
  };
}

function issuePaths(err: z.ZodError): string {
  return err.issues
    .map((i) => i.path.join('.') || '(root)')
    .slice(0, 5)
    .join(', ');
}
