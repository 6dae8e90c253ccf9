import { decodeRelease, isReleaseValue } from '../envelope/release-envelope.js';
import type { CryptoProvider } from '../crypto/provider.js';
import {
  DEAD_LETTER_HEADER,
  decodeDeadLetterMetadata,
  recordBytesHash,
  verifyDeadLetter,
} from '../events/dead-letter.js';
import type { ConsumedRecord } from '../kafka/transport.js';
import type { NewQuarantineEntry, QuarantineHeader } from './quarantine-store.js';

/** The Ed25519 public keys (active and retiring) of a consumer identity, from the directory. */
export type SigningKeysOf = (identity: string) => readonly Uint8Array[];

/**
 * Turns one record of the dead-letter topic into a quarantine entry — never throwing, whatever the
 * bytes: a record that is not a well-formed sealpost dead letter (no metadata header, bad JSON, key or
 * value hashes that do not match) becomes an `unrecognised` entry, kept with its bytes, so the worker
 * never crash-loops on garbage. A dead letter whose signature does not verify is kept with its class
 * but flagged `signatureVerified: false` (operators see it; release refuses it unless forced).
 */
export function toQuarantineEntry(
  crypto: CryptoProvider,
  record: ConsumedRecord,
  signingKeysOf: SigningKeysOf,
  arrivedAtMs: number,
): NewQuarantineEntry {
  // The metadata is the LAST header of that name; everything else is the original record's.
  let metaIndex = -1;
  record.headers.forEach((h, i) => {
    if (h.key === DEAD_LETTER_HEADER) metaIndex = i;
  });
  const original: QuarantineHeader[] = record.headers
    .filter((_, i) => i !== metaIndex)
    .map((h) => ({ key: h.key, value: h.value === null ? null : h.value.toString('base64') }));
  const key = record.key === null ? null : new Uint8Array(record.key);
  const value = record.value === null ? null : new Uint8Array(record.value);
  const rawHash = recordBytesHash(crypto, value);
  // A release that came back (docs/SPEC.md §11) is known by the record it carries: its entry links to
  // the entry it released (requarantinedFrom), and releasing it again wraps that record anew.
  const valueHash = value !== null && isReleaseValue(value) ? innerHash(crypto, value) : rawHash;
  const base = {
    dlqTopic: record.topic,
    dlqPartition: record.partition,
    dlqOffset: record.offset,
    key,
    value,
    headers: original,
    valueHash,
    arrivedAtMs,
  };
  const unrecognised: NewQuarantineEntry = {
    ...base,
    headers: record.headers.map((h) => ({
      key: h.key,
      value: h.value === null ? null : h.value.toString('base64'),
    })),
    reason: 'unrecognised',
    sourceTopic: null,
    sourcePartition: null,
    sourceOffset: null,
    sourceTimestamp: null,
    consumerGroup: null,
    consumer: null,
    attempt: null,
    signatureVerified: false,
  };
  const metaHeader = metaIndex === -1 ? undefined : record.headers[metaIndex];
  if (!metaHeader?.value) return unrecognised;
  const meta = decodeDeadLetterMetadata(metaHeader.value);
  if (!meta) return unrecognised;
  if (meta.valueHash !== rawHash || meta.keyHash !== recordBytesHash(crypto, key)) {
    return unrecognised;
  }
  const verified = signingKeysOf(meta.consumer).some((pk) => verifyDeadLetter(crypto, meta, pk));
  return {
    ...base,
    reason: meta.class,
    sourceTopic: meta.topic,
    sourcePartition: meta.partition,
    sourceOffset: meta.offset,
    sourceTimestamp: meta.timestamp,
    consumerGroup: meta.group,
    consumer: meta.consumer,
    attempt: meta.attempt,
    signatureVerified: verified,
  };
}

/** The hash of a release's inner record; the release's own bytes if it does not decode. */
function innerHash(crypto: CryptoProvider, value: Uint8Array): string {
  try {
    return recordBytesHash(crypto, decodeRelease(value, value.length).inner);
  } catch {
    return recordBytesHash(crypto, value);
  }
}
