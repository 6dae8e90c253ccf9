/**
 * Where a running service gets its identity's keys again after a rotation (docs/OPERATIONS.md, key
 * lifecycle): the directory may list a key of ours that the process did not load at start. The source
 * reads the identity's current key material and unwraps it (the only KMS calls after start-up: two per
 * live generation, at a rotation); {@link IdentityReloader} adopts it into the running identity.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import type { Clock } from '../runtime/clock.js';
import type { LoadedIdentity } from './identity.js';
import { loadIdentity, readIdentityFile } from './identity-file.js';
import type { Kms } from './kms/kms.js';

/** Loads an identity's current keys (a fresh {@link LoadedIdentity} the caller owns). */
export interface IdentitySource {
  load(): Promise<LoadedIdentity>;
}

/** The identity file at `path`, read again and unwrapped by `kms` on every load. */
export function identityFileSource(
  path: string,
  options: { readonly crypto: CryptoProvider; readonly kms: Kms },
): IdentitySource {
  return {
    load: async () => loadIdentity(await readIdentityFile(path, options.crypto), options),
  };
}

/** Options of {@link IdentityReloader}. */
export interface IdentityReloaderOptions {
  readonly identity: LoadedIdentity;
  readonly source: IdentitySource;
  readonly clock: Clock;
  /** Loads closer together than this share the last result instead of calling the KMS again. Default 5,000 ms. */
  readonly minIntervalMs?: number;
}

/** What one reload found. */
export interface IdentityReloadResult {
  /** Hex box kids the reload added to the running identity. */
  readonly addedBoxKids: readonly string[];
}

/**
 * Reloads the running identity from its source: one load at a time (concurrent callers share it), and
 * not more often than `minIntervalMs` (a record addressed to a key that the source does not have either
 * must not turn into a KMS call per record). A failed load rejects every caller that shared it and does
 * not count towards the interval.
 */
export class IdentityReloader {
  readonly #o: IdentityReloaderOptions;
  readonly #minIntervalMs: number;
  #inFlight: Promise<IdentityReloadResult> | undefined;
  #lastLoadMs = -Infinity;
  #last: IdentityReloadResult = { addedBoxKids: [] };

  constructor(options: IdentityReloaderOptions) {
    this.#o = options;
    this.#minIntervalMs = options.minIntervalMs ?? 5000;
  }

  /** Milliseconds until a reload would call the source again (0: now). */
  waitMs(): number {
    return Math.max(0, this.#lastLoadMs + this.#minIntervalMs - this.#o.clock.nowMs());
  }

  reload(): Promise<IdentityReloadResult> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    if (this.waitMs() > 0) return Promise.resolve(this.#last);
    const run = (async () => {
      const next = await this.#o.source.load();
      let result: IdentityReloadResult;
      try {
        result = this.#o.identity.adopt(next);
      } catch (err) {
        next.close();
        throw err;
      }
      this.#lastLoadMs = this.#o.clock.nowMs();
      this.#last = result;
      return result;
    })();
    this.#inFlight = run;
    void run.then(
      () => (this.#inFlight = undefined),
      () => (this.#inFlight = undefined),
    );
    return run;
  }
}
