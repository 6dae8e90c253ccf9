/**
 * The box keys the consumer's opener holds, kept in step with the identity and the directory
 * (docs/OPERATIONS.md, key lifecycle step 4): usable keys are the identity's active and retiring
 * keys that the directory lists and has not revoked. After a rotation a record may be addressed to a
 * key the directory lists for us but the process has not loaded; `recover()` reloads the identity
 * through its source (IdentityReloader: one load at a time, rate-limited) and hands the opener the
 * new keys.
 */
import type { RecipientKeyPair } from '../../envelope/open-session-header.js';
import { usableOpeningKeys } from '../../keys/directory/directory-sender-resolver.js';
import type { KeyDirectory } from '../../keys/directory/key-directory.js';
import { IdentityReloader, type IdentitySource } from '../../keys/identity-source.js';
import type { LoadedIdentity } from '../../keys/identity.js';
import type { Clock } from '../../runtime/clock.js';
import { describeError, type PipelineLogger } from '../pipeline-logger.js';

export interface OpeningKeysOptions {
  readonly identity: LoadedIdentity;
  readonly directory: KeyDirectory;
  readonly source?: IdentitySource;
  readonly clock: Clock;
  readonly logger: PipelineLogger;
  /** Gives the opener a new key list (it clears its header cache). */
  readonly apply: (keys: readonly RecipientKeyPair[]) => void;
}

const hex = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** See the module comment. */
export class OpeningKeys {
  readonly #o: OpeningKeysOptions;
  readonly #reloader: IdentityReloader | undefined;
  #kids = '';
  #revision = -1;

  constructor(options: OpeningKeysOptions) {
    this.#o = options;
    this.#reloader =
      options.source === undefined
        ? undefined
        : new IdentityReloader({
            identity: options.identity,
            source: options.source,
            clock: options.clock,
          });
  }

  /** The usable keys now, remembered as what the opener holds (for the opener's construction). */
  current(): readonly RecipientKeyPair[] {
    const keys = usableOpeningKeys(this.#o.identity, this.#o.directory);
    this.#kids = keys.map((k) => hex(k.kid)).join(',');
    this.#revision = this.#o.identity.revision;
    return keys;
  }

  /** Hands the opener our usable keys again if they changed (directory epoch or identity); true if so. */
  refresh(): boolean {
    const before = this.#kids;
    const keys = this.current();
    if (this.#kids === before) return false;
    this.#o.apply(keys);
    return true;
  }

  /** Cheap per-record check: the identity adopted new keys (e.g. reloaded by a producer). */
  refreshIfIdentityChanged(): void {
    if (this.#o.identity.revision !== this.#revision) this.refresh();
  }

  get hasSource(): boolean {
    return this.#reloader !== undefined;
  }

  /**
   * A record names a key of ours that the opener lacks: refresh, and if that does not help reload the
   * identity through its source. True when the opener's keys changed (open the record again).
   */
  async recover(): Promise<boolean> {
    if (this.refresh()) return true;
    if (this.#reloader === undefined) return false;
    try {
      await this.#reloader.reload();
    } catch (err) {
      this.#o.logger.warn({ err: describeError(err) }, 'reloading the identity failed');
    }
    return this.refresh();
  }

  /** How long until a reload would call the source again (a retry sooner learns nothing). */
  retryAfterMs(): number {
    return Math.max(1000, this.#reloader?.waitMs() ?? 0);
  }
}
