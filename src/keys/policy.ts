import { SealpostError, type ErrorCodeTable } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import type { DirectoryRecord } from './directory/directory-record.js';
import { compareKeys, topicMatches } from './directory/directory-record.js';
import type { KeyDirectory, RecipientKey, SenderKey } from './directory/key-directory.js';
import { toRecipientKey } from './directory/key-directory.js';

/**
 * Why the authorization policy refused (never retriable: a directory refresh is a new decision).
 * Prefixed POLICY_: the envelope's rejections of a record's sender (SENDER_REVOKED, ...) are other
 * codes, of EnvelopeError.
 */
export const POLICY_ERROR_CODES = {
  POLICY_SENDER_NOT_ALLOWED: 'no',
  POLICY_SENDER_UNKNOWN: 'no',
  POLICY_SENDER_REVOKED: 'no',
  POLICY_SENDER_RETIRED: 'no',
  POLICY_SENDER_KEY_NOT_VALID_AT_TIME: 'no',
  POLICY_RECIPIENT_NOT_ALLOWED: 'no',
  POLICY_RECIPIENT_UNKNOWN: 'no',
  POLICY_RECIPIENT_NO_ACTIVE_KEY: 'no',
  POLICY_RECIPIENT_KEY_REVOKED: 'no',
  /** A `require` topic (suite 2 only; src/keys/suite-policy.ts) and a recipient without an X-Wing key. */
  POLICY_RECIPIENT_NO_XWING_KEY: 'no',
} as const satisfies ErrorCodeTable;
export type PolicyErrorCode = keyof typeof POLICY_ERROR_CODES;

/**
 * The identity's active record valid at `nowMs` that the policy acts on: the newest by validFrom, then
 * by serial; undefined when none is.
 */
export function newestActiveRecord(
  records: readonly DirectoryRecord[],
  identity: string,
  nowMs: number,
): DirectoryRecord | undefined {
  let best: DirectoryRecord | undefined;
  for (const r of records) {
    if (
      r.identity !== identity ||
      r.status !== 'active' ||
      nowMs < r.validFromMs ||
      nowMs >= r.validUntilMs
    )
      continue;
    if (
      best === undefined ||
      r.validFromMs > best.validFromMs ||
      (r.validFromMs === best.validFromMs && r.serial > best.serial)
    )
      best = r;
  }
  return best;
}

/** A policy refusal (never retriable; a directory refresh is a new decision). */
export class PolicyError extends SealpostError {
  declare readonly code: PolicyErrorCode;
  constructor(code: PolicyErrorCode, message: string) {
    super(code, message, { retriable: false });
  }
}

/**
 * Authorization decisions from the directory. The producer seals only to `allowedRecipients(topic)`
 * (and refuses a named recipient with POLICY_RECIPIENT_NOT_ALLOWED); the consumer accepts a sender only via
 * `checkSenderKey` (active, or retiring with createdAt ≤ retiredAt + skew; valid at createdAt; allowed to
 * send on the topic) and only if it may receive itself (`assertMayReceive`).
 */
export class DirectoryPolicy {
  readonly #directory: KeyDirectory;
  readonly #clock: Clock;
  readonly #skewMs: number;

  constructor(directory: KeyDirectory, options: { clock: Clock; skewMs?: number }) {
    this.#directory = directory;
    this.#clock = options.clock;
    this.#skewMs = options.skewMs ?? 60_000;
  }

  /** The identity's newest active record valid now, or undefined. */
  #activeRecord(identity: string, nowMs: number): DirectoryRecord | undefined {
    return newestActiveRecord(this.#directory.records(), identity, nowMs);
  }

  /** Producer side: throws unless `identity` has an active key allowed to send on `topic` now. */
  assertMaySend(identity: string, topic: string): void {
    const nowMs = this.#clock.nowMs();
    const r = this.#activeRecord(identity, nowMs);
    if (r === undefined) {
      // Report the state of the identity's most recently changed key.
      const latest = this.#directory
        .records()
        .filter((x) => x.identity === identity)
        .reduce<DirectoryRecord | undefined>(
          (a, b) => (a === undefined || b.serial > a.serial ? b : a),
          undefined,
        );
      const code: PolicyErrorCode =
        latest === undefined
          ? 'POLICY_SENDER_UNKNOWN'
          : latest.status === 'revoked'
            ? 'POLICY_SENDER_REVOKED'
            : latest.status === 'retiring'
              ? 'POLICY_SENDER_RETIRED'
              : 'POLICY_SENDER_KEY_NOT_VALID_AT_TIME';
      throw new PolicyError(code, `identity ${identity} has no active directory key valid now`);
    }
    if (!topicMatches(r.sendTopics, topic))
      throw new PolicyError(
        'POLICY_SENDER_NOT_ALLOWED',
        `identity ${identity} may not send to ${topic}`,
      );
  }

  /** Consumer side: throws unless `identity` has an active key allowed to receive from `topic` now. */
  assertMayReceive(identity: string, topic: string): void {
    const r = this.#activeRecord(identity, this.#clock.nowMs());
    if (r === undefined) {
      const any = this.#directory.records().some((x) => x.identity === identity);
      throw new PolicyError(
        any ? 'POLICY_RECIPIENT_NO_ACTIVE_KEY' : 'POLICY_RECIPIENT_UNKNOWN',
        `identity ${identity} has no active directory key`,
      );
    }
    if (!topicMatches(r.receiveTopics, topic))
      throw new PolicyError(
        'POLICY_RECIPIENT_NOT_ALLOWED',
        `identity ${identity} may not receive from ${topic}`,
      );
  }

  /**
   * Every identity allowed to receive on `topic`, each with its newest active box key valid now,
   * sorted by kid (the envelope's slot order), no duplicates.
   */
  allowedRecipients(topic: string): RecipientKey[] {
    const nowMs = this.#clock.nowMs();
    const names = new Set(this.#directory.records().map((r) => r.identity));
    const out: RecipientKey[] = [];
    for (const name of names) {
      const r = this.#activeRecord(name, nowMs);
      if (r !== undefined && topicMatches(r.receiveTopics, topic)) out.push(toRecipientKey(r));
    }
    return out.sort((a, b) =>
      compareKeys(Buffer.from(a.kid).toString('hex'), Buffer.from(b.kid).toString('hex')),
    );
  }

  /**
   * Producer side, for an explicit recipient list: the box key to seal to for each named identity;
   * throws POLICY_RECIPIENT_NOT_ALLOWED / _UNKNOWN / _NO_ACTIVE_KEY for any that may not
   * receive on the topic. Sorted by kid.
   */
  recipientsFor(topic: string, identities: readonly string[]): RecipientKey[] {
    const allowed = new Map(this.allowedRecipients(topic).map((r) => [r.identity, r]));
    const out: RecipientKey[] = [];
    for (const name of new Set(identities)) {
      const r = allowed.get(name);
      if (r === undefined) {
        this.assertMayReceive(name, topic);
        throw new PolicyError(
          'POLICY_RECIPIENT_NOT_ALLOWED',
          `identity ${name} may not receive from ${topic}`,
        );
      }
      out.push(r);
    }
    return out.sort((a, b) =>
      compareKeys(Buffer.from(a.kid).toString('hex'), Buffer.from(b.kid).toString('hex')),
    );
  }

  /**
   * Consumer side, for a session header's senderKid: returns the sender's key if it may have sealed
   * this session — status active, or retiring with createdAt ≤ retiredAt + skew (never revoked); valid at
   * createdAt; allowed to send on `topic`. Otherwise throws a typed PolicyError.
   */
  checkSenderKey(signKid: Uint8Array, topic: string, createdAtMs: number): SenderKey {
    const s = this.#directory.senderKey(signKid);
    if (s === undefined)
      throw new PolicyError('POLICY_SENDER_UNKNOWN', 'sender kid is not in the directory');
    if (s.status === 'revoked')
      throw new PolicyError('POLICY_SENDER_REVOKED', `sender ${s.identity}'s key is revoked`);
    if (
      s.status === 'retiring' &&
      (s.retiredAtMs === null || createdAtMs > s.retiredAtMs + this.#skewMs)
    ) {
      throw new PolicyError(
        'POLICY_SENDER_RETIRED',
        `sender ${s.identity}'s key was retired before the session was created`,
      );
    }
    if (createdAtMs < s.validFromMs || createdAtMs >= s.validUntilMs) {
      throw new PolicyError(
        'POLICY_SENDER_KEY_NOT_VALID_AT_TIME',
        `sender ${s.identity}'s key is not valid at the session's creation time`,
      );
    }
    if (!topicMatches(s.sendTopics, topic))
      throw new PolicyError(
        'POLICY_SENDER_NOT_ALLOWED',
        `sender ${s.identity} may not send to ${topic}`,
      );
    return s;
  }

  /**
   * Recipient side: may a box key of ours (by kid) still be used to open? Active or retiring, never
   * revoked. Returns false for unknown kids.
   */
  mayOpenWith(boxKid: Uint8Array): boolean {
    const r = this.#directory.recipientKey(boxKid);
    return r !== undefined && r.status !== 'revoked';
  }
}
