import type { CryptoProvider } from '../crypto/provider.js';
import { label } from '../envelope/labels.js';

/**
 * Dead-letter records: the original record's key, value bytes and headers travel untouched; one
 * Kafka header is added, `sealpost-dead-letter`, whose value is this metadata as JSON. It carries the
 * coarse class in clear (never the detailed code: that is sealed to the audit and dead-letter-worker
 * identities, so the dead-letter topic is no oracle on the hidden sender) and is signed by the
 * consumer that dead-lettered the record.
 *
 * When a record already carries a header of that name (a hostile producer), kafkajs delivers the
 * values as an array; the dead-letter metadata is always the LAST value, and the earlier values are
 * part of the original record.
 */
export const DEAD_LETTER_HEADER = 'sealpost-dead-letter';
export const COARSE_CLASSES = [
  'MALFORMED',
  'CONTEXT',
  'HEADER',
  'MESSAGE',
  'STALE',
  'SCHEMA',
  'PAYLOAD',
] as const;
export type CoarseClass = (typeof COARSE_CLASSES)[number];

const SIG_LABEL = label('dead-letter');
const MAX_METADATA_BYTES = 16 * 1024;

export interface DeadLetterMetadata {
  readonly v: 1;
  readonly class: CoarseClass;
  /** Detailed code sealed (crypto_box_seal) to each named identity's box key: kid hex → base64. */
  readonly sealedDetail: Readonly<Record<string, string>>;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** Kafka timestamp of the original record (ms, as a string like kafkajs gives it). */
  readonly timestamp: string;
  readonly group: string;
  /** The identity of the consumer that dead-lettered it. */
  readonly consumer: string;
  readonly attempt: number;
  readonly timeMs: number;
  /** Hex BLAKE2b-256 of the original key (empty string for a null key) and value. */
  readonly keyHash: string;
  readonly valueHash: string;
  /**
   * The envelope suite the original record's header names, set only for suite 2 (X-Wing; docs/SECURITY.md
   * "Post-quantum sealing"): absent for suite 1 and for records whose suite cannot be read, so those
   * dead letters keep exactly the form they always had.
   */
  readonly suite?: 2;
  /** Hex Ed25519 signature by the consumer over everything above. */
  readonly sig: string;
}

export type UnsignedDeadLetterMetadata = Omit<DeadLetterMetadata, 'sig'>;

function canonical(m: UnsignedDeadLetterMetadata): Uint8Array {
  const detail: Record<string, string> = {};
  for (const k of Object.keys(m.sealedDetail).sort()) detail[k] = m.sealedDetail[k]!;
  const ordered = {
    v: m.v,
    class: m.class,
    sealedDetail: detail,
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    timestamp: m.timestamp,
    group: m.group,
    consumer: m.consumer,
    attempt: m.attempt,
    timeMs: m.timeMs,
    keyHash: m.keyHash,
    valueHash: m.valueHash,
    ...(m.suite === undefined ? {} : { suite: m.suite }),
  };
  const json = new TextEncoder().encode(JSON.stringify(ordered));
  const out = new Uint8Array(SIG_LABEL.length + json.length);
  out.set(SIG_LABEL);
  out.set(json, SIG_LABEL.length);
  return out;
}

/** Hex BLAKE2b-256 of record bytes; '' stands for a null key or value. */
export function recordBytesHash(crypto: CryptoProvider, bytes: Uint8Array | null): string {
  if (bytes === null) return '';
  const out = new Uint8Array(32);
  crypto.hash(out, bytes);
  return Buffer.from(out).toString('hex');
}

export function signDeadLetter(
  crypto: CryptoProvider,
  m: UnsignedDeadLetterMetadata,
  consumerSigningKey: Uint8Array,
): DeadLetterMetadata {
  const sig = crypto.signDetached(canonical(m), consumerSigningKey);
  return { ...m, sig: Buffer.from(sig).toString('hex') };
}

export function verifyDeadLetter(
  crypto: CryptoProvider,
  m: DeadLetterMetadata,
  consumerPublicKey: Uint8Array,
): boolean {
  if (!/^[0-9a-f]{128}$/.test(m.sig)) return false;
  const { sig, ...unsigned } = m;
  return crypto.verifyDetached(
    new Uint8Array(Buffer.from(sig, 'hex')),
    canonical(unsigned),
    consumerPublicKey,
  );
}

export function encodeDeadLetterMetadata(m: DeadLetterMetadata): Buffer {
  return Buffer.from(JSON.stringify(m), 'utf8');
}

/**
 * Strictly parses the header value; returns null when it is not a well-formed sealpost dead letter
 * (the dead-letter worker stores such records with reason `unrecognised`).
 */
export function decodeDeadLetterMetadata(bytes: Uint8Array): DeadLetterMetadata | null {
  if (bytes.length === 0 || bytes.length > MAX_METADATA_BYTES) return null;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => k !== 'suite')
    .sort()
    .join(',');
  if (
    keys !==
    'attempt,class,consumer,group,keyHash,offset,partition,sealedDetail,sig,timeMs,timestamp,topic,v,valueHash'
  ) {
    return null;
  }
  if (Object.hasOwn(o, 'suite') && o.suite !== 2) return null;
  const isStr = (x: unknown, max: number): x is string => typeof x === 'string' && x.length <= max;
  const hex = (x: unknown): boolean =>
    x === '' || (typeof x === 'string' && /^[0-9a-f]{64}$/.test(x));
  if (o.v !== 1) return null;
  if (!(COARSE_CLASSES as readonly unknown[]).includes(o.class)) return null;
  if (!isStr(o.topic, 249) || o.topic.length === 0) return null;
  if (!Number.isSafeInteger(o.partition) || (o.partition as number) < 0) return null;
  if (!isStr(o.offset, 20) || !/^\d+$/.test(o.offset)) return null;
  if (!isStr(o.timestamp, 20) || !/^-?\d+$/.test(o.timestamp)) return null;
  if (!isStr(o.group, 255) || !isStr(o.consumer, 63)) return null;
  if (!Number.isSafeInteger(o.attempt) || (o.attempt as number) < 1) return null;
  if (!Number.isSafeInteger(o.timeMs) || (o.timeMs as number) < 0) return null;
  if (!hex(o.keyHash) || !hex(o.valueHash)) return null;
  if (!isStr(o.sig, 128)) return null;
  const sd = o.sealedDetail;
  if (typeof sd !== 'object' || sd === null || Array.isArray(sd)) return null;
  const entries = Object.entries(sd as Record<string, unknown>);
  if (entries.length > 8) return null;
  for (const [k, val] of entries) {
    if (!/^[0-9a-f]{32}$/.test(k) || !isStr(val, 512) || !/^[A-Za-z0-9+/=]*$/.test(val))
      return null;
  }
  return o as unknown as DeadLetterMetadata;
}
