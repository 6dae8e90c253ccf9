import type { TokenClassKey } from './token-cipher.js';
import { TokenizeError } from './tokenize-error.js';

/**
 * Unwrapped token class keys held in memory (built by loadTokenKeyring). The newest version of a
 * class tokenizes; every loaded version detokenizes. `close()` zeroes every key.
 */
export class TokenKeyring {
  readonly #byClass = new Map<string, Map<number, TokenClassKey>>();
  #closed = false;

  constructor(keys: readonly TokenClassKey[]) {
    for (const k of keys) {
      let versions = this.#byClass.get(k.tokenClass);
      if (versions === undefined) {
        versions = new Map();
        this.#byClass.set(k.tokenClass, versions);
      }
      versions.set(k.version, k);
    }
  }

  /** The classes this keyring holds keys for. */
  classes(): string[] {
    return [...this.#byClass.keys()].sort();
  }

  /** The newest version of a class (the one new tokens use). */
  latest(tokenClass: string): TokenClassKey {
    const versions = this.#versions(tokenClass);
    let best: TokenClassKey | undefined;
    for (const k of versions.values()) if (best === undefined || k.version > best.version) best = k;
    if (best === undefined)
      throw new TokenizeError('TOKEN_CLASS_UNKNOWN', `no key for token class ${tokenClass}`);
    return best;
  }

  /** A given version of a class (TOKEN_VERSION_UNKNOWN if it is not loaded). */
  version(tokenClass: string, version: number): TokenClassKey {
    const k = this.#versions(tokenClass).get(version);
    if (k === undefined)
      throw new TokenizeError(
        'TOKEN_VERSION_UNKNOWN',
        `no key for token class ${tokenClass} version ${version}`,
      );
    return k;
  }

  #versions(tokenClass: string): Map<number, TokenClassKey> {
    if (this.#closed)
      throw new TokenizeError('TOKEN_KEYRING_CLOSED', 'the token keyring is closed');
    const v = this.#byClass.get(tokenClass);
    if (v === undefined)
      throw new TokenizeError('TOKEN_CLASS_UNKNOWN', `no key for token class ${tokenClass}`);
    return v;
  }

  /** Zeroes every key; later calls fail with TOKEN_KEYRING_CLOSED. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const versions of this.#byClass.values()) for (const k of versions.values()) k.zero();
    this.#byClass.clear();
  }
}
