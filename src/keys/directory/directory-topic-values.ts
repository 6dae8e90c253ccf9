/**
 * What the directory topic's reader and follower share: its record values (JSON, null for a
 * tombstone) and its one error for a topic that cannot be reached (docs/OPERATIONS.md "Revocation").
 */
import type { ConsumedRecord } from '../../kafka/transport.js';
import { toHex } from '../bytes.js';
import { DirectoryError } from './directory-error.js';
import type { RawDirectoryEntry } from './directory-snapshot.js';

/**
 * The prefix of every throwaway reader group (`sealpost acl apply` grants READ and DELETE on it); a
 * follower's groups continue it with `follow-`.
 */
export const READER_GROUP_PREFIX = 'sealpost-directory-reader-';

/** A unique reader group name: the prefix, `kind`, and 8 random bytes in hex. */
export function readerGroupId(
  kind: '' | 'follow-',
  randomBytes: (n: number) => Uint8Array,
): string {
  return `${READER_GROUP_PREFIX}${kind}${toHex(randomBytes(8))}`;
}

/** A record as a raw directory entry: its key as text, its value parsed (see {@link parseValue}). */
export function entryOf(record: ConsumedRecord): RawDirectoryEntry {
  return { key: keyOf(record), value: parseValue(record.value) };
}

/** The record key as text ('' for none). */
export function keyOf(record: ConsumedRecord): string {
  return record.key?.toString('utf8') ?? '';
}

/** A JSON value, null for a tombstone, or the raw text (refused as malformed by validation). */
export function parseValue(value: Buffer | null): unknown {
  if (value === null) return null;
  const text = value.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** DIRECTORY_SOURCE_UNAVAILABLE for `could not <what>`, naming only the cause's error class. */
export function unavailable(what: string, err: unknown): DirectoryError {
  const name = err instanceof Error ? err.name : 'error';
  return new DirectoryError('DIRECTORY_SOURCE_UNAVAILABLE', `could not ${what} (${name})`, {
    cause: err,
  });
}
