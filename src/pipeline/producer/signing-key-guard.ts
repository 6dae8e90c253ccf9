/**
 * Keeps the producer from signing a session with a key the directory no longer lists as its newest
 * active one (docs/OPERATIONS.md, sender rotation): reloads the identity through its source, or
 * fails before anything is sealed.
 */
import type { CryptoProvider } from '../../crypto/provider.js';
import type { KeyDirectory } from '../../keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../keys/identity.js';
import type { IdentityReloader } from '../../keys/identity-source.js';
import { newestActiveRecord, PolicyError } from '../../keys/policy.js';
import type { Clock } from '../../runtime/clock.js';
import { PipelineError } from '../pipeline-error.js';
import type { PipelineLogger } from '../pipeline-logger.js';

export interface SigningKeyGuardOptions {
  readonly identity: LoadedIdentity;
  readonly directory: KeyDirectory;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly logger: PipelineLogger;
  /** Absent: a stale key fails with SENDER_KEY_RETIRED. */
  readonly reloader?: IdentityReloader;
}

type Problem = { code: 'SENDER_KEY_RETIRED' | 'POLICY_SENDER_REVOKED'; why: string };

export class SigningKeyGuard {
  readonly #o: SigningKeyGuardOptions;
  /** `${directory epoch}/${identity revision}` of the last check that found the key current. */
  #checkedAt = '';

  constructor(options: SigningKeyGuardOptions) {
    this.#o = options;
  }

  /**
   * Why the held signing key must not sign a new session, or undefined when it may: the directory
   * marks it retiring or revoked, or lists a newer active key for this identity (consumers refuse
   * sessions created after retiredAt + skew, docs/SPEC.md §Rejections SENDER_RETIRED). A key the
   * directory does not list yet (rotated, not yet published) is left to the policy.
   */
  #problem(): Problem | undefined {
    const { directory: dir, identity } = this.#o;
    const stamp = `${dir.epoch}/${identity.revision}`;
    if (stamp === this.#checkedAt) return undefined;
    const kid = identity.signingKey().kid;
    const held = dir.senderKey(kid);
    if (held === undefined || held.identity !== identity.name) {
      this.#checkedAt = stamp;
      return undefined;
    }
    if (held.status === 'revoked')
      return {
        code: 'POLICY_SENDER_REVOKED',
        why: 'the directory lists the signing key as revoked',
      };
    if (held.status === 'retiring')
      return { code: 'SENDER_KEY_RETIRED', why: 'the directory lists the signing key as retiring' };
    const newest = newestActiveRecord(dir.records(), identity.name, this.#o.clock.nowMs());
    if (newest !== undefined && !this.#o.crypto.equalConstantTime(newest.signKid, kid))
      return {
        code: 'SENDER_KEY_RETIRED',
        why: 'the directory lists a newer active signing key for this identity',
      };
    this.#checkedAt = stamp;
    return undefined;
  }

  /** Throws the signing-key problem, if any, as a typed error (before anything is sealed). */
  assertCurrent(): void {
    const problem = this.#problem();
    if (problem === undefined) return;
    const name = this.#o.identity.name;
    if (problem.code === 'POLICY_SENDER_REVOKED')
      throw new PolicyError('POLICY_SENDER_REVOKED', `identity ${name}: ${problem.why}`);
    throw new PipelineError(
      'SENDER_KEY_RETIRED',
      `identity ${name}: ${problem.why} and the producer holds no newer key; pass identitySource ` +
        'so it reloads the rotated identity file, or restart it with that file',
      { retriable: true },
    );
  }

  /** Reloads the identity through its source when its signing key is no longer current. */
  async ensureCurrent(): Promise<void> {
    if (this.#problem() === undefined) return;
    const reloader = this.#o.reloader;
    if (reloader !== undefined) {
      try {
        const { addedBoxKids } = await reloader.reload();
        if (addedBoxKids.length > 0)
          this.#o.logger.info(
            { identity: this.#o.identity.name, added: addedBoxKids.length },
            'identity reloaded after a key rotation',
          );
      } catch (err) {
        throw new PipelineError(
          'SENDER_KEY_RETIRED',
          `identity ${this.#o.identity.name}: the signing key is no longer current and reloading ` +
            'the identity failed',
          { retriable: true, cause: err },
        );
      }
    }
    this.assertCurrent();
  }
}
