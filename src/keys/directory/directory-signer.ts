import type { CryptoProvider } from '../../crypto/provider.js';
import type { Clock } from '../../runtime/clock.js';
import { toBase64, toHex } from '../bytes.js';
import type { LoadedIdentity } from '../identity.js';
import { KeyError } from '../key-error.js';
import type { DirectoryDocument } from './directory-document.js';
import type { DirectoryRecord, SignedRecord } from './directory-record.js';
import {
  compareKeys,
  headToBeSigned,
  recordKeyOf,
  recordsDigest,
  recordToBeSigned,
  signedHeadToJson,
  signedRecordToJson,
  TOKEN_CLASS_PATTERN,
  TOPIC_PATTERN,
} from './directory-record.js';
import type { DirectorySnapshot } from './directory-snapshot.js';
import { recordKids } from './directory-snapshot.js';
import { checkXWingPublicKey } from './xwing-public-key-checks.js';

/**
 * Default head lifetime: 4 h. It is the rollback window left to a fresh service (one without a saved
 * directory state, e.g. a new container): it accepts any unexpired head, so for up to this long after
 * a revocation it can be fed the directory from before it. It is also how long services keep opening
 * sessions while the publisher cannot re-sign. Re-sign the head every hour (`sealpost directory
 * refresh-head`), which leaves 3 h to repair a failed job (docs/OPERATIONS.md "Directory state").
 */
export const DEFAULT_HEAD_TTL_MS = 4 * 3_600_000;

/** A record as the authority wants it, before a serial is assigned. */
export type DirectoryRecordDraft = Omit<DirectoryRecord, 'serial'>;

export interface SignDirectoryOptions {
  readonly crypto: CryptoProvider;
  /** The authority identity (kind `authority`), unwrapped. */
  readonly authority: LoadedIdentity;
  readonly clock: Clock;
  /** How long the head stays valid (services refuse new sessions after it). */
  readonly headTtlMs: number;
  /** The directory published so far (validated); absent for the first publication. */
  readonly previous?: DirectorySnapshot | undefined;
  /** Records to add or change (by record key); records of `previous` not named here carry over unchanged. */
  readonly changes: readonly DirectoryRecordDraft[];
}

/**
 * Signs a new directory version. A changed record gets the next serial; an unchanged one keeps its
 * serial and signature; the epoch goes up only if something changed (a re-issued head with the same
 * records keeps its epoch, extending freshness). Records are never removed: revocation is a status.
 */
export function signDirectory(options: SignDirectoryOptions): DirectoryDocument {
  const { crypto, authority, clock, previous } = options;
  if (authority.kind !== 'authority')
    throw new KeyError('KEY_STATE_INVALID', 'only an authority identity signs the directory');
  if (!Number.isInteger(options.headTtlMs) || options.headTtlMs <= 0)
    throw new KeyError('KEY_STATE_INVALID', 'headTtlMs must be positive');
  const signer = authority.signingKey();
  const authorityKid = signer.kid;
  if (
    previous !== undefined &&
    !crypto.equalConstantTime(previous.head.authorityKid, authorityKid)
  ) {
    throw new KeyError('KEY_STATE_INVALID', 'the previous directory belongs to another authority');
  }
  const byKey = new Map<string, SignedRecord>();
  for (const s of previous?.signedRecords ?? []) byKey.set(recordKeyOf(s.record), s);
  let highest = previous?.head.highestSerial ?? 0;
  let changed = previous === undefined;
  const seenChange = new Set<string>();
  for (const draft of options.changes) {
    const key = recordKeyOf(draft);
    if (seenChange.has(key))
      throw new KeyError('KEY_STATE_INVALID', `record ${key} changed twice in one publication`);
    seenChange.add(key);
    if (draft.kemPublicKey !== undefined) {
      const verdict = checkXWingPublicKey(crypto, draft.kemPublicKey);
      if (verdict !== 'ok')
        throw new KeyError(
          'KEY_STATE_INVALID',
          `record ${key}: X-Wing public key refused (${verdict})`,
        );
    }
    const normalized = normalizeDraft(draft);
    const held = byKey.get(key);
    if (held !== undefined && sameContent(held.record, normalized)) continue;
    if (held?.record.status === 'revoked')
      throw new KeyError('KEY_STATE_INVALID', `record ${key} is revoked; revocation is final`);
    highest += 1;
    const record: DirectoryRecord = { ...normalized, serial: highest };
    byKey.set(key, {
      record,
      signature: crypto.signDetached(recordToBeSigned(authorityKid, record), signer.secretKey),
    });
    changed = true;
  }
  const signedRecords = [...byKey.values()].sort((a, b) =>
    compareKeys(recordKeyOf(a.record), recordKeyOf(b.record)),
  );
  // The authority refuses duplicate kids (a kid is a lookup hint and must be unambiguous).
  const kids = new Set<string>();
  for (const { record: r } of signedRecords) {
    for (const k of recordKids(r)) {
      if (kids.has(k))
        throw new KeyError('KEY_STATE_INVALID', `kid ${k} appears twice in the directory`);
      kids.add(k);
    }
  }
  const nowMs = clock.nowMs();
  const records = signedRecords.map((s) => s.record);
  const head = {
    authorityKid,
    highestSerial: highest,
    epoch: previous === undefined ? 1 : previous.head.epoch + (changed ? 1 : 0),
    issuedAtMs: nowMs,
    expiresAtMs: nowMs + options.headTtlMs,
    recordCount: records.length,
    recordsDigest: recordsDigest(crypto, authorityKid, records),
  };
  const headSignature = crypto.signDetached(headToBeSigned(head), signer.secretKey);
  return {
    format: 'sealpost-directory/v1',
    authority: { kid: toHex(authorityKid), publicKey: toBase64(signer.publicKey) },
    head: signedHeadToJson({ head, signature: headSignature }),
    records: signedRecords.map((s) => signedRecordToJson(s)),
  };
}

function normalizeDraft(d: DirectoryRecordDraft): DirectoryRecordDraft {
  for (const t of [...d.sendTopics, ...d.receiveTopics, ...(d.releaseTopics ?? [])]) {
    if (!TOPIC_PATTERN.test(t))
      throw new KeyError('KEY_STATE_INVALID', `invalid topic pattern "${t}"`);
  }
  const { detokenizeClasses, releaseTopics, ...rest } = d;
  for (const c of detokenizeClasses ?? []) {
    if (!TOKEN_CLASS_PATTERN.test(c))
      throw new KeyError('KEY_STATE_INVALID', `invalid token class "${c}"`);
  }
  const classes = [...new Set(detokenizeClasses ?? [])].sort(compareKeys);
  const release = [...new Set(releaseTopics ?? [])].sort(compareKeys);
  return {
    ...rest,
    sendTopics: [...new Set(d.sendTopics)].sort(compareKeys),
    receiveTopics: [...new Set(d.receiveTopics)].sort(compareKeys),
    // An empty clearance list is the same as none (one canonical form).
    ...(classes.length === 0 ? {} : { detokenizeClasses: classes }),
    ...(release.length === 0 ? {} : { releaseTopics: release }),
  };
}

function sameContent(a: DirectoryRecord, b: DirectoryRecordDraft): boolean {
  const eq = (x: Uint8Array, y: Uint8Array): boolean => toHex(x) === toHex(y);
  return (
    a.identity === b.identity &&
    a.status === b.status &&
    eq(a.boxKid, b.boxKid) &&
    eq(a.boxPublicKey, b.boxPublicKey) &&
    eq(a.signKid, b.signKid) &&
    eq(a.signPublicKey, b.signPublicKey) &&
    a.validFromMs === b.validFromMs &&
    a.validUntilMs === b.validUntilMs &&
    a.retiredAtMs === b.retiredAtMs &&
    a.sendTopics.join('\n') === b.sendTopics.join('\n') &&
    a.receiveTopics.join('\n') === b.receiveTopics.join('\n') &&
    (a.detokenizeClasses ?? []).join('\n') === (b.detokenizeClasses ?? []).join('\n') &&
    (a.releaseTopics ?? []).join('\n') === (b.releaseTopics ?? []).join('\n') &&
    (a.kemKid === undefined) === (b.kemKid === undefined) &&
    (a.kemKid === undefined || eq(a.kemKid, b.kemKid!)) &&
    (a.kemPublicKey === undefined) === (b.kemPublicKey === undefined) &&
    (a.kemPublicKey === undefined || eq(a.kemPublicKey, b.kemPublicKey!))
  );
}
