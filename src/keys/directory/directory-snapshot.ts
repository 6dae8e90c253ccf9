import type { CryptoProvider } from '../../crypto/provider.js';
import { toHex } from '../bytes.js';
import { computeKid } from '../kid.js';
import { DirectoryError } from './directory-error.js';
import type { DirectoryErrorCode } from './directory-error.js';
import type { DirectoryHead, DirectoryRecord, SignedRecord } from './directory-record.js';
import {
  compareKeys,
  HEAD_KEY,
  headToBeSigned,
  parseSignedHead,
  parseSignedRecord,
  recordKeyOf,
  recordsDigest,
  recordToBeSigned,
} from './directory-record.js';
import { isValidEd25519PublicKey, isValidX25519PublicKey } from './public-key-checks.js';
import { isValidXWingPublicKey } from './xwing-public-key-checks.js';

/** One entry as read from a source: a Kafka key and its JSON value; `null` is a tombstone. */
export interface RawDirectoryEntry {
  readonly key: string;
  readonly value: unknown;
}

/** Everything a source holds, in source order (older versions of a record may appear too). */
export interface RawDirectorySnapshot {
  readonly entries: readonly RawDirectoryEntry[];
}

/** An entry refused without refusing the whole snapshot (e.g. a forged record or a tombstone on the topic). */
export interface RefusedEntry {
  readonly key: string;
  readonly code: DirectoryErrorCode;
}

/**
 * A validated directory: the head and the current version of every record, with kid indexes, plus
 * the highest serial seen per record key (carried from refresh to refresh so nothing rolls back).
 */
export class DirectorySnapshot {
  readonly head: DirectoryHead;
  readonly records: readonly DirectoryRecord[];
  /** Signed records as validated (for republishing). */
  readonly signedRecords: readonly SignedRecord[];
  readonly headSignature: Uint8Array;
  /** Entries refused while building this snapshot (reported; never acted on). */
  readonly refused: readonly RefusedEntry[];
  readonly #bySignKid: ReadonlyMap<string, DirectoryRecord>;
  readonly #byBoxKid: ReadonlyMap<string, DirectoryRecord>;
  readonly #byKemKid: ReadonlyMap<string, DirectoryRecord>;
  readonly #seenSerials: ReadonlyMap<string, number>;
  readonly #revoked: ReadonlySet<string>;

  constructor(args: {
    head: DirectoryHead;
    headSignature: Uint8Array;
    signedRecords: readonly SignedRecord[];
    refused: readonly RefusedEntry[];
    seenSerials: ReadonlyMap<string, number>;
  }) {
    this.head = args.head;
    this.headSignature = args.headSignature;
    this.signedRecords = args.signedRecords;
    this.records = args.signedRecords.map((s) => s.record);
    this.refused = args.refused;
    this.#seenSerials = args.seenSerials;
    const bySign = new Map<string, DirectoryRecord>();
    const byBox = new Map<string, DirectoryRecord>();
    const byKem = new Map<string, DirectoryRecord>();
    const revoked = new Set<string>();
    for (const r of this.records) {
      bySign.set(toHex(r.signKid), r);
      byBox.set(toHex(r.boxKid), r);
      if (r.kemKid !== undefined) byKem.set(toHex(r.kemKid), r);
      if (r.status === 'revoked') revoked.add(recordKeyOf(r));
    }
    this.#bySignKid = bySign;
    this.#byBoxKid = byBox;
    this.#byKemKid = byKem;
    this.#revoked = revoked;
  }

  /** The record whose Ed25519 kid is `signKid`. */
  bySignKid(signKid: Uint8Array): DirectoryRecord | undefined {
    return this.#bySignKid.get(toHex(signKid));
  }
  /** The record whose X25519 kid is `boxKid`. */
  byBoxKid(boxKid: Uint8Array): DirectoryRecord | undefined {
    return this.#byBoxKid.get(toHex(boxKid));
  }
  /** The record whose X-Wing kid (suite 2) is `kemKid`. */
  byKemKid(kemKid: Uint8Array): DirectoryRecord | undefined {
    return this.#byKemKid.get(toHex(kemKid));
  }
  /** Highest serial ever seen for a record key. */
  seenSerial(recordKey: string): number | undefined {
    return this.#seenSerials.get(recordKey);
  }
  seenSerials(): ReadonlyMap<string, number> {
    return this.#seenSerials;
  }
  isRevoked(recordKey: string): boolean {
    return this.#revoked.has(recordKey);
  }
}

export interface ValidateOptions {
  readonly crypto: CryptoProvider;
  /** The pinned authority Ed25519 public key: the only trust anchor. */
  readonly authorityPublicKey: Uint8Array;
  readonly nowMs: number;
  /** Allowed clock skew for issuedAt in the future (default 60 000 ms). */
  readonly skewMs?: number;
  /** The snapshot held so far: its serials and head bound what this one may contain. */
  readonly previous?: DirectorySnapshot | undefined;
  /**
   * The newest head accepted before (kept across restarts, verified by the caller): a head older than
   * it is DIRECTORY_ROLLBACK, a different one with its epoch DIRECTORY_EQUIVOCATION.
   */
  readonly floor?: DirectoryHead | undefined;
}

/** Refuses `head` when it is older than `held` (rollback) or differs from it at the same epoch. */
function checkNotOlder(crypto: CryptoProvider, head: DirectoryHead, held: DirectoryHead): void {
  if (head.epoch < held.epoch || head.highestSerial < held.highestSerial) {
    throw new DirectoryError(
      'DIRECTORY_ROLLBACK',
      `directory head (epoch ${head.epoch}) is older than the one already held (epoch ${held.epoch})`,
    );
  }
  if (
    head.epoch === held.epoch &&
    (head.highestSerial !== held.highestSerial ||
      !crypto.equalConstantTime(head.recordsDigest, held.recordsDigest))
  ) {
    throw new DirectoryError(
      'DIRECTORY_EQUIVOCATION',
      'two directory heads with the same epoch and different records',
    );
  }
  if (head.issuedAtMs < held.issuedAtMs)
    throw new DirectoryError(
      'DIRECTORY_ROLLBACK',
      `directory head (epoch ${head.epoch}) was issued before the one already held`,
    );
}

/**
 * Validates a raw snapshot against the pinned authority key and the previous snapshot:
 * - head: authority kid, signature, not expired, not issued in the future, no rollback of epoch or
 *   highest serial, no two heads with the same epoch and different records (equivocation);
 * - records: strict fields, signature, kids match keys, X25519 not low-order, Ed25519 canonical and in
 *   the prime-order subgroup, serial ≤ head, consistent status fields; per record key the highest
 *   serial wins; a serial below one already seen, a revoked record coming back, or a tombstone is
 *   refused (reported, never acted on);
 * - the whole set: no duplicate kid; count and digest equal the head's (a withheld record is detected).
 * Throws DirectoryError when the snapshot as a whole cannot be trusted.
 */
export function validateSnapshot(
  raw: RawDirectorySnapshot,
  options: ValidateOptions,
): DirectorySnapshot {
  const { crypto, authorityPublicKey, nowMs, previous } = options;
  const skewMs = options.skewMs ?? 60_000;
  const authorityKid = computeKid(crypto, 'ed25519', authorityPublicKey);
  const refused: RefusedEntry[] = [];

  // --- head (the last head entry wins; a compacted topic keeps one) ---
  let headJson: unknown;
  let sawHead = false;
  for (const e of raw.entries) {
    if (e.key !== HEAD_KEY) continue;
    if (e.value === null) {
      refused.push({ key: e.key, code: 'DIRECTORY_TOMBSTONE' });
      continue;
    }
    headJson = e.value;
    sawHead = true;
  }
  if (!sawHead) throw new DirectoryError('DIRECTORY_HEAD_MISSING', 'the directory has no head');
  const signedHead = parseSignedHead(headJson);
  const head = signedHead.head;
  if (!crypto.equalConstantTime(head.authorityKid, authorityKid)) {
    throw new DirectoryError('DIRECTORY_WRONG_AUTHORITY', 'directory head names another authority');
  }
  if (!crypto.verifyDetached(signedHead.signature, headToBeSigned(head), authorityPublicKey)) {
    throw new DirectoryError('DIRECTORY_BAD_SIGNATURE', 'directory head signature does not verify');
  }
  if (head.issuedAtMs >= head.expiresAtMs)
    throw new DirectoryError('DIRECTORY_MALFORMED', 'directory head expires before it is issued');
  if (head.expiresAtMs <= nowMs)
    throw new DirectoryError('DIRECTORY_HEAD_EXPIRED', 'directory head has expired');
  if (head.issuedAtMs > nowMs + skewMs)
    throw new DirectoryError(
      'DIRECTORY_HEAD_FROM_FUTURE',
      'directory head is issued in the future',
    );
  if (previous !== undefined) checkNotOlder(crypto, head, previous.head);
  // The newest head accepted before a restart (the service's directory state) bounds this one too.
  if (options.floor !== undefined) checkNotOlder(crypto, head, options.floor);

  // --- records: the highest valid serial per record key ---
  const current = new Map<string, SignedRecord>();
  const seen = new Map<string, number>(previous?.seenSerials() ?? []);
  const refuse = (key: string, code: DirectoryErrorCode): void => {
    refused.push({ key, code });
  };
  for (const e of raw.entries) {
    if (e.key === HEAD_KEY) continue;
    if (e.value === null) {
      refuse(e.key, 'DIRECTORY_TOMBSTONE');
      continue;
    }
    let signed: SignedRecord;
    try {
      signed = parseSignedRecord(e.value);
    } catch (err) {
      refuse(e.key, err instanceof DirectoryError ? err.code : 'DIRECTORY_MALFORMED');
      continue;
    }
    const r = signed.record;
    const key = recordKeyOf(r);
    if (key !== e.key) {
      refuse(e.key, 'DIRECTORY_MALFORMED');
      continue;
    }
    const problem = checkRecord(
      crypto,
      authorityKid,
      authorityPublicKey,
      signed,
      head.highestSerial,
    );
    if (problem !== undefined) {
      refuse(key, problem);
      continue;
    }
    const prevSerial = previous?.seenSerial(key);
    if (prevSerial !== undefined && r.serial < prevSerial) {
      refuse(key, 'DIRECTORY_ROLLBACK');
      continue;
    }
    if (previous?.isRevoked(key) === true && r.status !== 'revoked') {
      refuse(key, 'DIRECTORY_ROLLBACK');
      continue;
    }
    const held = current.get(key);
    if (held !== undefined) {
      if (held.record.serial > r.serial) {
        refuse(key, 'DIRECTORY_ROLLBACK');
        continue;
      }
      if (held.record.serial === r.serial) {
        if (!crypto.equalConstantTime(held.signature, signed.signature)) {
          throw new DirectoryError(
            'DIRECTORY_EQUIVOCATION',
            `two different records with serial ${r.serial}`,
            { recordKey: key },
          );
        }
        continue;
      }
    }
    current.set(key, signed);
    seen.set(key, Math.max(seen.get(key) ?? 0, r.serial));
  }

  // A record the previous snapshot held must not vanish (compaction never deletes a live key).
  if (previous !== undefined) {
    for (const r of previous.records) {
      if (!current.has(recordKeyOf(r))) {
        throw new DirectoryError('DIRECTORY_INCOMPLETE', 'a record held before is missing', {
          recordKey: recordKeyOf(r),
          refused,
        });
      }
    }
  }

  // --- the set as a whole ---
  const signedRecords = [...current.values()].sort((a, b) =>
    compareKeys(recordKeyOf(a.record), recordKeyOf(b.record)),
  );
  const kids = new Set<string>();
  for (const { record: r } of signedRecords) {
    for (const k of recordKids(r)) {
      if (kids.has(k))
        throw new DirectoryError('DIRECTORY_DUPLICATE_KID', 'two directory keys share a kid', {
          recordKey: recordKeyOf(r),
        });
      kids.add(k);
    }
  }
  const records = signedRecords.map((s) => s.record);
  if (
    records.length !== head.recordCount ||
    !crypto.equalConstantTime(recordsDigest(crypto, authorityKid, records), head.recordsDigest)
  ) {
    const why =
      refused.length === 0
        ? ''
        : ` (refused: ${[...new Set(refused.map((r) => r.code))].join(', ')})`;
    throw new DirectoryError(
      'DIRECTORY_INCOMPLETE',
      `the records do not match the signed head${why}`,
      { refused },
    );
  }
  return new DirectorySnapshot({
    head,
    headSignature: signedHead.signature,
    signedRecords,
    refused,
    seenSerials: seen,
  });
}

/** Checks one record on its own; returns the refusal code or undefined if it is acceptable. */
function checkRecord(
  crypto: CryptoProvider,
  authorityKid: Uint8Array,
  authorityPublicKey: Uint8Array,
  signed: SignedRecord,
  highestSerial: number,
): DirectoryErrorCode | undefined {
  const r = signed.record;
  if ((r.kemKid === undefined) !== (r.kemPublicKey === undefined)) return 'DIRECTORY_MALFORMED';
  if (
    !crypto.verifyDetached(signed.signature, recordToBeSigned(authorityKid, r), authorityPublicKey)
  )
    return 'DIRECTORY_BAD_SIGNATURE';
  if (r.serial > highestSerial) return 'DIRECTORY_SERIAL_ABOVE_HEAD';
  if (!crypto.equalConstantTime(computeKid(crypto, 'x25519', r.boxPublicKey), r.boxKid))
    return 'DIRECTORY_KID_MISMATCH';
  if (!crypto.equalConstantTime(computeKid(crypto, 'ed25519', r.signPublicKey), r.signKid))
    return 'DIRECTORY_KID_MISMATCH';
  if (!isValidX25519PublicKey(crypto, r.boxPublicKey)) return 'DIRECTORY_LOW_ORDER_KEY';
  if (!isValidEd25519PublicKey(r.signPublicKey)) return 'DIRECTORY_INVALID_ED25519_KEY';
  if (r.kemKid !== undefined && r.kemPublicKey !== undefined) {
    if (!crypto.equalConstantTime(computeKid(crypto, 'xwing', r.kemPublicKey), r.kemKid))
      return 'DIRECTORY_KID_MISMATCH';
    if (!isValidXWingPublicKey(crypto, r.kemPublicKey)) return 'DIRECTORY_INVALID_XWING_KEY';
  }
  if (r.validFromMs >= r.validUntilMs) return 'DIRECTORY_MALFORMED';
  if ((r.status === 'active') !== (r.retiredAtMs === null)) return 'DIRECTORY_MALFORMED';
  if (!isSortedUnique(r.sendTopics) || !isSortedUnique(r.receiveTopics))
    return 'DIRECTORY_MALFORMED';
  if (
    r.detokenizeClasses !== undefined &&
    (r.detokenizeClasses.length === 0 || !isSortedUnique(r.detokenizeClasses))
  )
    return 'DIRECTORY_MALFORMED';
  if (
    r.releaseTopics !== undefined &&
    (r.releaseTopics.length === 0 || !isSortedUnique(r.releaseTopics))
  )
    return 'DIRECTORY_MALFORMED';
  return undefined;
}

/** Every kid a record names (box, signing, and X-Wing when present), hex: unique across the directory. */
export function recordKids(r: DirectoryRecord): string[] {
  const kids = [toHex(r.boxKid), toHex(r.signKid)];
  if (r.kemKid !== undefined) kids.push(toHex(r.kemKid));
  return kids;
}

function isSortedUnique(xs: readonly string[]): boolean {
  for (let i = 1; i < xs.length; i++) if (compareKeys(xs[i - 1]!, xs[i]!) >= 0) return false;
  return true;
}
