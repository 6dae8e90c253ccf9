import { requireLength } from './argument-checks.js';
import { CryptoError } from './crypto-error.js';
import {
  XWING_CIPHERTEXT_BYTES,
  XWING_ESEED_BYTES,
  XWING_PUBLIC_KEY_BYTES,
  XWING_SEED_BYTES,
  type KeyPair,
  type XWingDecapsulationKey,
  type XWingEncapsulation,
} from './provider.js';

/** The five X-Wing operations of the CryptoProvider port, as one object both providers delegate to. */
export interface XWingOperations {
  xwingKeyPairFromSeed(seed: Uint8Array): KeyPair;
  xwingDecapsulationKey(seed: Uint8Array): XWingDecapsulationKey;
  xwingEncapsulate(publicKey: Uint8Array): XWingEncapsulation;
  xwingEncapsulateDeterministic(publicKey: Uint8Array, eseed: Uint8Array): XWingEncapsulation;
  xwingDecapsulate(ciphertext: Uint8Array, seed: Uint8Array): Uint8Array;
}

/** Fills a buffer with secure random bytes (the provider's pool). */
export type XWingRandomFill = (out: Uint8Array) => void;

/**
 * libsodium's crypto_kem_xwing_* as libsodium-wrappers exposes them (passed in by
 * libsodium-wrappers-provider.ts, the one owner of that library). Sizes are checked before each call.
 */
export interface LibsodiumXWingKem {
  seedKeyPair(seed: Uint8Array): { publicKey: Uint8Array; privateKey: Uint8Array };
  /** Throws when libsodium refuses the public key. */
  encapsulateDeterministic(
    publicKey: Uint8Array,
    eseed: Uint8Array,
  ): { ciphertext: Uint8Array; sharedSecret: Uint8Array };
  /** Throws when libsodium refuses the ciphertext. */
  decapsulate(ciphertext: Uint8Array, seed: Uint8Array): Uint8Array;
  memzero(buf: Uint8Array): void;
}

/** With sizes checked, libsodium's X-Wing refuses only a key or ciphertext it will not use. */
function refused(op: string, what: string, cause: unknown): CryptoError {
  return new CryptoError('CRYPTO_BAD_ARGUMENT', `${op}: ${what} refused`, { cause });
}

function encapsulateDeterministic(
  kem: LibsodiumXWingKem,
  op: string,
  publicKey: Uint8Array,
  eseed: Uint8Array,
): XWingEncapsulation {
  requireLength(op, 'publicKey', publicKey, XWING_PUBLIC_KEY_BYTES);
  requireLength(op, 'eseed', eseed, XWING_ESEED_BYTES);
  try {
    const r = kem.encapsulateDeterministic(publicKey, eseed);
    return { ciphertext: r.ciphertext, sharedSecret: r.sharedSecret };
  } catch (cause) {
    // libsodium refuses an ML-KEM key that is not a valid encoding and a low-order X25519 part.
    throw refused(op, 'public key', cause);
  }
}

function decapsulate(
  kem: LibsodiumXWingKem,
  op: string,
  ciphertext: Uint8Array,
  seed: Uint8Array,
): Uint8Array {
  requireLength(op, 'ciphertext', ciphertext, XWING_CIPHERTEXT_BYTES);
  requireLength(op, 'seed', seed, XWING_SEED_BYTES);
  try {
    return kem.decapsulate(ciphertext, seed);
  } catch (cause) {
    // Only a low-order X25519 part (all-zero X25519 secret) fails; ML-KEM rejects implicitly.
    throw refused(op, 'ciphertext', cause);
  }
}

/** Holds a copy of the seed; libsodium expands it on every decapsulation (no expanded form kept). */
class WrappersDecapsulationKey implements XWingDecapsulationKey {
  readonly publicKey: Uint8Array;
  readonly #kem: LibsodiumXWingKem;
  #seed: Uint8Array | null;

  constructor(kem: LibsodiumXWingKem, seed: Uint8Array, publicKey: Uint8Array) {
    this.#kem = kem;
    this.#seed = Uint8Array.from(seed);
    this.publicKey = publicKey;
  }

  decapsulate(ciphertext: Uint8Array): Uint8Array {
    if (this.#seed === null)
      throw new CryptoError('CRYPTO_BAD_STATE', 'xwing decapsulate: key destroyed');
    return decapsulate(this.#kem, 'xwingDecapsulate', ciphertext, this.#seed);
  }

  destroy(): void {
    if (this.#seed !== null) this.#kem.memzero(this.#seed);
    this.#seed = null;
  }
}

function keyPairFromSeed(kem: LibsodiumXWingKem, seed: Uint8Array): KeyPair {
  requireLength('xwingKeyPairFromSeed', 'seed', seed, XWING_SEED_BYTES);
  const kp = kem.seedKeyPair(seed);
  // libsodium's X-Wing secret key is the seed itself (the draft's decapsulation key).
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

/**
 * X-Wing through libsodium's crypto_kem_xwing_* (libsodium ≥ 1.0.22; libsodium-wrappers runs it in
 * WebAssembly). Random encapsulation draws the 64-byte eseed from `randomFill`
 * (the provider's pool) and runs the deterministic encapsulation, which is how the draft defines
 * Encapsulate; the eseed is zeroed afterwards.
 */
export function createLibsodiumXWing(
  kem: LibsodiumXWingKem,
  randomFill: XWingRandomFill,
): XWingOperations {
  return {
    xwingKeyPairFromSeed: (seed) => keyPairFromSeed(kem, seed),
    xwingDecapsulationKey(seed: Uint8Array): XWingDecapsulationKey {
      const kp = keyPairFromSeed(kem, seed);
      kem.memzero(kp.secretKey);
      return new WrappersDecapsulationKey(kem, seed, kp.publicKey);
    },
    xwingEncapsulate(publicKey: Uint8Array): XWingEncapsulation {
      requireLength('xwingEncapsulate', 'publicKey', publicKey, XWING_PUBLIC_KEY_BYTES);
      const eseed = new Uint8Array(XWING_ESEED_BYTES);
      randomFill(eseed);
      try {
        return encapsulateDeterministic(kem, 'xwingEncapsulate', publicKey, eseed);
      } finally {
        kem.memzero(eseed);
      }
    },
    xwingEncapsulateDeterministic: (publicKey, eseed) =>
      encapsulateDeterministic(kem, 'xwingEncapsulateDeterministic', publicKey, eseed),
    xwingDecapsulate: (ciphertext, seed) => decapsulate(kem, 'xwingDecapsulate', ciphertext, seed),
  };
}
