/**
 * Issues quarantine releases (docs/SPEC.md §11.2): wraps a quarantined record's original bytes in a
 * release for one topic, partition and consumer group, signed by the operator identity's active
 * Ed25519 key. Refuses at once (QUARANTINE_NOT_GRANTED) when the directory does not grant that key
 * `release` for the topic — a consumer would dead-letter such a release.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { decodeRelease, encodeRelease, isReleaseValue } from '../envelope/release-envelope.js';
import { topicMatches } from '../keys/directory/directory-record.js';
import type { KeyDirectory } from '../keys/directory/key-directory.js';
import type { LoadedIdentity } from '../keys/identity.js';
import type { Clock } from '../runtime/clock.js';
import { QuarantineReleaseError } from './quarantine-release.js';

/** Default lifetime of a release: a consumer that is down longer refuses it (re-release it then). */
export const DEFAULT_RELEASE_VALID_FOR_MS = 86_400_000;
/** Largest inner record a release is built for (a consumer refuses larger ones anyway). */
const MAX_INNER_BYTES = 64 * 1024 * 1024;

export interface ReleaseSignerOptions {
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  /** The operator identity; its active signing key signs. */
  readonly identity: LoadedIdentity;
  /** The directory that must grant that key `release` (held unexpired). */
  readonly directory: KeyDirectory;
  /** Lifetime of each release. Default {@link DEFAULT_RELEASE_VALID_FOR_MS}. */
  readonly validForMs?: number;
}

/** Where a release may be accepted. */
export interface ReleaseTarget {
  readonly topic: string;
  readonly partition: number;
  readonly group: string;
  /** The quarantine entry released (recorded in the release for the audit trail). */
  readonly entryId: number;
}

/** See the module comment. */
export class ReleaseSigner {
  readonly #o: ReleaseSignerOptions;

  constructor(options: ReleaseSignerOptions) {
    this.#o = options;
  }

  /** The operator identity's name (what a release records as who released it, by default). */
  get operator(): string {
    return this.#o.identity.name;
  }

  /**
   * The release value for `recordValue` (an envelope, or a release that was dead-lettered: its inner
   * record is wrapped anew). Throws QUARANTINE_NOT_GRANTED without a grant for the topic.
   */
  sign(recordValue: Uint8Array, target: ReleaseTarget): Uint8Array {
    const o = this.#o;
    o.directory.assertFresh();
    const key = o.identity.signingKey();
    const record = o.directory.snapshot().bySignKid(key.kid);
    if (
      record === undefined ||
      record.status !== 'active' ||
      !topicMatches(record.releaseTopics ?? [], target.topic)
    ) {
      throw new QuarantineReleaseError(
        'QUARANTINE_NOT_GRANTED',
        `identity ${o.identity.name} may not sign releases for ${target.topic}: the directory must grant its active key release=${target.topic} (\`sealpost directory publish --grant ${o.identity.name}:release=${target.topic}\`)`,
      );
    }
    const inner = isReleaseValue(recordValue)
      ? decodeRelease(recordValue, MAX_INNER_BYTES).inner
      : recordValue;
    if (inner.length < 5 || inner[0] !== 0x00)
      throw new QuarantineReleaseError(
        'QUARANTINE_UNVERIFIED',
        `entry ${target.entryId} does not hold a sealed record; it cannot be released`,
      );
    const now = o.clock.nowMs();
    return encodeRelease(
      {
        operatorKid: key.kid,
        namespace: o.directory.namespace,
        issuedAtMs: now,
        expiresAtMs: now + (o.validForMs ?? DEFAULT_RELEASE_VALID_FOR_MS),
        topic: target.topic,
        partition: target.partition,
        group: target.group,
        entryId: target.entryId,
        inner,
      },
      (tbs) => o.crypto.signDetached(tbs, key.secretKey),
    );
  }
}
