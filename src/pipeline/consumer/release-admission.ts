/**
 * Accepting a quarantine release (docs/SPEC.md §11.3): a record value whose first byte is 0x01 carries
 * an original sealed record and an operator's signature. R1–R4 (decode, target, operator grant and
 * signature, time) run before any work on the inner record; R5 refuses a release id this group already
 * accepted; R6 opens the inner record with the normal steps except the horizon and the optional
 * maximum record age; R7 refuses a seq the window still holds. After the handler succeeded,
 * `accepted()` records the release id (until the release expires) and the seq's bit when it is inside
 * the window — a window is never created or slid for a released record (SPEC §6, exception).
 */
import type { CryptoProvider } from '../../crypto/provider.js';
import type { EnvelopeDecodeLimits } from '../../envelope/envelope-codec.js';
import { EnvelopeOpener, type OpenHooks, type OpenResult } from '../../envelope/envelope-opener.js';
import { EnvelopeError } from '../../envelope/errors.js';
import { HeaderCache } from '../../envelope/header-cache.js';
import type { OpenedMessage, OpenPolicy, RecordContext } from '../../envelope/opened-session.js';
import { decodeRelease, releaseIdOf } from '../../envelope/release-envelope.js';
import { topicMatches } from '../../keys/directory/directory-record.js';
import {
  DirectorySenderResolver,
  usableOpeningKeys,
} from '../../keys/directory/directory-sender-resolver.js';
import type { KeyDirectory } from '../../keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../keys/identity.js';
import type { Clock } from '../../runtime/clock.js';
import type { PartitionReplayState } from '../replay-state-store.js';
import { pruneReleases } from './release-dedupe.js';

/** Default longest release a consumer accepts (`expiresAt − issuedAt`): 7 days. */
export const DEFAULT_MAX_RELEASE_LIFETIME_MS = 7 * 86_400_000;
/**
 * Room for the session header around the ciphertext of the inner record: 16 slots of the larger
 * suite (suite 2: 16-byte kid ‖ 1,216-byte X-Wing box each, docs/SPEC.md §2.2) and 4 KiB for the rest
 * (topic, commitment, private part, tags, framing).
 */
const ENVELOPE_OVERHEAD_BYTES = 16 * (16 + 1216) + 4096;

export interface ReleaseAdmissionOptions {
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly directory: KeyDirectory;
  /** Our identity (its usable box keys open the inner record). */
  readonly identity: LoadedIdentity;
  /** Our consumer group: a release names the one group that may accept it. */
  readonly group: string;
  /** The consumer's opening policy (its skew and session limits apply; its horizon does not). */
  readonly policy: OpenPolicy;
  readonly limits: EnvelopeDecodeLimits;
  /**
   * The topic's suite policy, applied to the inner record as to any record (a release never brings a
   * suite the topic refuses: SUITE_NOT_ALLOWED). Absent: both suites.
   */
  readonly acceptsSuite?: (topic: string, suite: 1 | 2) => boolean;
  /** Longest `expiresAt − issuedAt` accepted. Default {@link DEFAULT_MAX_RELEASE_LIFETIME_MS}. */
  readonly maxReleaseLifetimeMs?: number;
}

/** What a release opened to, and what to record once the handler has succeeded. */
export interface OpenedRelease {
  readonly result: OpenResult;
  /** Records the release as accepted in the partition's replay state (call after the handler). */
  accepted(state: PartitionReplayState, message: OpenedMessage): void;
}

const hex = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** See the module comment. */
export class ReleaseAdmission {
  readonly #o: ReleaseAdmissionOptions;
  readonly #maxLifetimeMs: number;
  readonly #innerPolicy: OpenPolicy;
  readonly #maxInnerBytes: number;

  constructor(options: ReleaseAdmissionOptions) {
    this.#o = options;
    this.#maxLifetimeMs = options.maxReleaseLifetimeMs ?? DEFAULT_MAX_RELEASE_LIFETIME_MS;
    // SPEC §11.3 R6: the release replaces the horizon and the optional record age, nothing else.
    this.#innerPolicy = {
      skewMs: options.policy.skewMs,
      horizonMs: Number.MAX_SAFE_INTEGER,
      maxSessionLifetimeMs: options.policy.maxSessionLifetimeMs,
    };
    this.#maxInnerBytes = options.limits.maxCiphertextBytes + ENVELOPE_OVERHEAD_BYTES;
  }

  /**
   * R1–R7 for a release value read at `ctx`. Throws EnvelopeError (RELEASE_* codes, UNKNOWN_SENDER for
   * an operator kid the directory does not list, or the inner record's own §5 codes).
   */
  open(
    value: Uint8Array,
    ctx: RecordContext,
    state: PartitionReplayState,
    hooks: OpenHooks,
  ): OpenedRelease {
    const o = this.#o;
    // R1 Decode.
    const release = decodeRelease(value, this.#maxInnerBytes);
    // R2 Target: nothing cryptographic yet.
    if (
      release.topic !== ctx.topic ||
      release.partition !== ctx.partition ||
      !o.crypto.equalConstantTime(release.namespace, o.directory.namespace)
    )
      throw new EnvelopeError('RELEASE_WRONG_TARGET');
    if (release.group !== o.group) return { result: NOT_OURS, accepted: noop };
    // R3 Operator: granted, then the signature.
    const operator = o.directory.snapshot().bySignKid(release.operatorKid);
    if (operator === undefined) throw new EnvelopeError('UNKNOWN_SENDER');
    const skew = o.policy.skewMs;
    if (
      operator.status === 'revoked' ||
      (operator.status === 'retiring' &&
        (operator.retiredAtMs === null || release.issuedAtMs > operator.retiredAtMs + skew)) ||
      release.issuedAtMs < operator.validFromMs ||
      release.issuedAtMs >= operator.validUntilMs ||
      !topicMatches(operator.releaseTopics ?? [], release.topic)
    )
      throw new EnvelopeError('RELEASE_NOT_GRANTED');
    if (!o.crypto.verifyDetached(release.signature, release.toBeSigned, operator.signPublicKey))
      throw new EnvelopeError('RELEASE_BAD_SIGNATURE');
    // R4 Time.
    const now = o.clock.nowMs();
    if (
      release.issuedAtMs > now + skew ||
      release.expiresAtMs - release.issuedAtMs > this.#maxLifetimeMs
    )
      throw new EnvelopeError('RELEASE_BAD_TIMES');
    if (now > release.expiresAtMs) throw new EnvelopeError('RELEASE_EXPIRED');
    // R5 Dedupe, by an id computed from the inner bytes (never taken from the release).
    const id = hex(releaseIdOf(o.crypto, release.inner));
    const seen = state.releases?.get(id);
    if (seen !== undefined && seen >= now)
      return { result: { kind: 'duplicate', replayKey: `release.${id}`, seq: 0 }, accepted: noop };
    // R6 Open the inner record: a one-release opener (its own header cache, closed right after).
    const opener = new EnvelopeOpener({
      provider: o.crypto,
      clock: o.clock,
      resolver: new DirectorySenderResolver(o.directory),
      policy: this.#innerPolicy,
      limits: o.limits,
      recipientKeys: usableOpeningKeys(o.identity, o.directory),
      ...(o.acceptsSuite === undefined ? {} : { acceptsSuite: o.acceptsSuite }),
      cache: new HeaderCache({ provider: o.crypto, maxSessions: 1, maxRejected: 1 }),
    });
    let result: OpenResult;
    try {
      result = opener.open(
        release.inner,
        ctx,
        hooks.admit === undefined ? {} : { admit: hooks.admit },
      );
    } finally {
      opener.close();
    }
    // R7 The window's bit, while the window still knows the seq.
    if (result.kind === 'delivered') {
      const m = result.message;
      const window = state.windows.get(m.replayKey);
      if (window !== undefined && !window.shrunk && window.check(m.seq) === 'duplicate') {
        o.crypto.memzero(m.payload);
        return {
          result: { kind: 'duplicate', replayKey: m.replayKey, seq: m.seq },
          accepted: noop,
        };
      }
    }
    const expiresAtMs = release.expiresAtMs;
    return {
      result,
      accepted: (s, m) => {
        const set = s.releases ?? new Map<string, number>();
        pruneReleases(set, o.clock.nowMs());
        set.set(id, expiresAtMs);
        s.releases = set;
        const window = s.windows.get(m.replayKey);
        if (window !== undefined && !window.shrunk && window.check(m.seq) === 'fresh')
          window.mark(m.seq, o.clock.nowMs());
      },
    };
  }
}

/** A release for another consumer group: NOT_ADDRESSED for us (SPEC §11.3 R2). */
const NOT_OURS: OpenResult = { kind: 'not-addressed', slotKids: [] };
const noop = (): void => undefined;
