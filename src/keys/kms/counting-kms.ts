import type { Kms, KmsKeyDescription, KmsReference, WrappedKey } from './kms.js';

/** Number of calls per KMS operation (attempts as seen by this decorator). */
export interface KmsCallCounts {
  wrap: number;
  unwrap: number;
  rewrap: number;
  rotate: number;
  describe: number;
  setMinDecryptionVersion: number;
}

/**
 * Decorator: counts calls per operation, so a test (or a metric) can assert that start-up costs one
 * unwrap per key and that no KMS call happens on the per-message path. Place it outside the retry
 * decorator to count logical calls, inside to count attempts.
 */
export class CountingKms implements Kms {
  readonly #inner: Kms;
  readonly #counts: KmsCallCounts = {
    wrap: 0,
    unwrap: 0,
    rewrap: 0,
    rotate: 0,
    describe: 0,
    setMinDecryptionVersion: 0,
  };

  constructor(inner: Kms) {
    this.#inner = inner;
  }

  get reference(): KmsReference {
    return this.#inner.reference;
  }
  /** A snapshot of the counts so far. */
  counts(): Readonly<KmsCallCounts> {
    return { ...this.#counts };
  }
  /** Total calls over all operations. */
  total(): number {
    const c = this.#counts;
    return c.wrap + c.unwrap + c.rewrap + c.rotate + c.describe + c.setMinDecryptionVersion;
  }
  wrap(plaintext: Uint8Array): Promise<WrappedKey> {
    this.#counts.wrap++;
    return this.#inner.wrap(plaintext);
  }
  unwrap(wrapped: WrappedKey): Promise<Uint8Array> {
    this.#counts.unwrap++;
    return this.#inner.unwrap(wrapped);
  }
  rewrap(wrapped: WrappedKey): Promise<WrappedKey> {
    this.#counts.rewrap++;
    return this.#inner.rewrap(wrapped);
  }
  rotate(): Promise<KmsKeyDescription> {
    this.#counts.rotate++;
    return this.#inner.rotate();
  }
  describe(): Promise<KmsKeyDescription> {
    this.#counts.describe++;
    return this.#inner.describe();
  }
  setMinDecryptionVersion(version: number): Promise<KmsKeyDescription> {
    this.#counts.setMinDecryptionVersion++;
    return this.#inner.setMinDecryptionVersion(version);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}
