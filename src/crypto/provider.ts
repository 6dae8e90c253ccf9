/**
 * The small crypto interface sealpost uses. Two implementations, byte-compatible (what one seals the
 * other opens): sodium-native (default, native, fastest) and libsodium-wrappers (pure WebAssembly, no
 * native build). Hot-path operations write into caller-supplied buffers so a message can be sealed
 * without allocations beyond its output.
 *
 * Conventions: every length is validated by the implementation before use (wrong sizes throw
 * CryptoError with code CRYPTO_BAD_LENGTH, never a native abort; CryptoError is in ./crypto-error.ts);
 * verification and decryption failures return false/null (not exceptions) so callers map them to their
 * own rejection codes. Implementations are built by createCryptoProvider (./index.ts).
 */
export const X25519_PUBLIC_KEY_BYTES = 32;
export const X25519_SECRET_KEY_BYTES = 32;
export const SEAL_OVERHEAD_BYTES = 48; // ephemeral pk (32) + Poly1305 tag (16)
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SECRET_KEY_BYTES = 64; // seed ‖ public key, libsodium layout
export const ED25519_SEED_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 24;
export const AEAD_TAG_BYTES = 16;
export const KDF_KEY_BYTES = 32;
export const KDF_CONTEXT_BYTES = 8;
export const GENERICHASH_KEY_MIN_BYTES = 16;
export const GENERICHASH_KEY_MAX_BYTES = 64;
export const GENERICHASH_OUT_MIN_BYTES = 16;
export const GENERICHASH_OUT_MAX_BYTES = 64;
export const SHA256_BYTES = 32;
// X-Wing KEM (draft-connolly-cfrg-xwing-kem: ML-KEM-768 + X25519, SHA3-256 combiner; docs/PQ-NOTES.md)
export const XWING_SEED_BYTES = 32; // the decapsulation key is this seed
export const XWING_PUBLIC_KEY_BYTES = 1216; // ML-KEM-768 encapsulation key (1184) ‖ X25519 (32)
export const XWING_CIPHERTEXT_BYTES = 1120; // ML-KEM-768 ciphertext (1088) ‖ X25519 (32)
export const XWING_SHARED_SECRET_BYTES = 32;
export const XWING_ESEED_BYTES = 64; // deterministic encapsulation: ML-KEM m (32) ‖ X25519 scalar (32)

export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** Incremental BLAKE2b. */
export interface HashState {
  update(input: Uint8Array): void;
  /**
   * Writes the digest into `out` (its length is the one given at creation). After final(), update and
   * final throw CRYPTO_BAD_STATE until reset().
   */
  final(out: Uint8Array): void;
  /**
   * Starts over with the same output length and key (the key buffer given at creation is read again),
   * so one state can be reused per message without allocating.
   */
  reset(): void;
}

/** An X-Wing encapsulation: the 1,120-byte ciphertext and the 32-byte shared secret. */
export interface XWingEncapsulation {
  readonly ciphertext: Uint8Array;
  readonly sharedSecret: Uint8Array;
}

/**
 * A recipient's X-Wing decapsulation key, expanded once from its 32-byte seed and held in memory only
 * (the expanded form is never serialised; the seed is what is stored). destroy() zeroes what it can and
 * makes later calls throw CRYPTO_BAD_STATE.
 */
export interface XWingDecapsulationKey {
  readonly publicKey: Uint8Array;
  /**
   * Decapsulates a 1,120-byte ciphertext. A modified ciphertext gives a different, deterministic
   * secret (ML-KEM implicit rejection), not an error. Throws CryptoError CRYPTO_BAD_LENGTH for a wrong
   * size and CRYPTO_BAD_ARGUMENT when the ciphertext is refused (a low-order X25519 part); callers map
   * every X-Wing failure to one code.
   */
  decapsulate(ciphertext: Uint8Array): Uint8Array;
  destroy(): void;
}

export type CryptoProviderName = 'sodium-native' | 'libsodium-wrappers';

export interface CryptoProvider {
  readonly name: CryptoProviderName;

  /** Fills `out` with cryptographically secure random bytes. */
  randomFill(out: Uint8Array): void;
  randomBytes(length: number): Uint8Array;

  // --- X25519 / sealed boxes (crypto_box_seal: X25519 + XSalsa20-Poly1305) ---
  boxKeyPair(): KeyPair;
  /** Derives the box public key from a 32-byte secret key. */
  boxPublicKeyFromSecret(secretKey: Uint8Array): Uint8Array;
  /**
   * Seals `message` to `recipientPublicKey`; output is message.length + 48 bytes. Throws CryptoError
   * CRYPTO_LOW_ORDER_KEY for a low-order recipient key (libsodium's seal refuses it).
   */
  boxSeal(message: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array;
  /** Opens a sealed box; null if it does not authenticate. */
  boxSealOpen(
    ciphertext: Uint8Array,
    publicKey: Uint8Array,
    secretKey: Uint8Array,
  ): Uint8Array | null;
  /**
   * Raw X25519. Returns null when the shared secret is all zero (low-order public key): callers
   * must refuse such keys.
   */
  scalarMult(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null;

  // --- X-Wing KEM (draft-connolly-cfrg-xwing-kem, unchanged; docs/PQ-NOTES.md) ---
  /** Key pair from a 32-byte seed: publicKey 1,216 bytes, secretKey a copy of the seed. */
  xwingKeyPairFromSeed(seed: Uint8Array): KeyPair;
  /** Expands a 32-byte seed into a decapsulation key held in memory (see XWingDecapsulationKey). */
  xwingDecapsulationKey(seed: Uint8Array): XWingDecapsulationKey;
  /**
   * Encapsulates to a 1,216-byte public key. Throws CRYPTO_BAD_LENGTH for a wrong size and
   * CRYPTO_BAD_ARGUMENT when the key is refused (invalid ML-KEM encoding or low-order X25519 part).
   */
  xwingEncapsulate(publicKey: Uint8Array): XWingEncapsulation;
  /** Deterministic encapsulation from a 64-byte eseed (test vectors and golden data only). */
  xwingEncapsulateDeterministic(publicKey: Uint8Array, eseed: Uint8Array): XWingEncapsulation;
  /** One-shot decapsulation with the 32-byte seed (expands the key each call; see xwingDecapsulationKey). */
  xwingDecapsulate(ciphertext: Uint8Array, seed: Uint8Array): Uint8Array;

  // --- Ed25519 ---
  signKeyPair(): KeyPair;
  signKeyPairFromSeed(seed: Uint8Array): KeyPair;
  signDetached(message: Uint8Array, secretKey: Uint8Array): Uint8Array;
  /** libsodium's strict verify (crypto_sign_verify_detached); the only verify used anywhere. */
  verifyDetached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;

  // --- XChaCha20-Poly1305-IETF ---
  /** Writes ciphertext‖tag into `out` (length message.length + 16). */
  aeadEncrypt(
    out: Uint8Array,
    message: Uint8Array,
    aad: Uint8Array | null,
    nonce: Uint8Array,
    key: Uint8Array,
  ): void;
  /** Writes plaintext into `out` (length ciphertext.length − 16); false if it does not authenticate. */
  aeadDecrypt(
    out: Uint8Array,
    ciphertext: Uint8Array,
    aad: Uint8Array | null,
    nonce: Uint8Array,
    key: Uint8Array,
  ): boolean;

  // --- BLAKE2b (crypto_generichash) and KDF ---
  /** One-shot BLAKE2b; digest length = out.length (16..64); optional key (16..64 bytes). */
  hash(out: Uint8Array, input: Uint8Array, key?: Uint8Array | null): void;
  createHash(outLength: number, key?: Uint8Array | null): HashState;
  /**
   * crypto_kdf_derive_from_key: writes a subkey of out.length (16..64) bytes. `context` is exactly 8
   * printable ASCII characters; `subkeyId` an integer in 0..2^53−1.
   */
  kdfDerive(out: Uint8Array, subkeyId: number, context: string, key: Uint8Array): void;

  // --- SHA-256 (FIPS 180-4) ---
  /**
   * One-shot SHA-256 of `input` into `out` (exactly 32 bytes). Only for formats other tools must
   * check (the RFC 6962 audit tree and C2SP note key ids, docs/AUDIT.md); sealpost's own constructions
   * use BLAKE2b.
   */
  sha256(out: Uint8Array, input: Uint8Array): void;

  // --- memory ---
  /** Constant-time equality of two equal-length buffers (false if lengths differ). */
  equalConstantTime(a: Uint8Array, b: Uint8Array): boolean;
  /** Overwrites `buf` with zeros in a way the optimiser will not remove. */
  memzero(buf: Uint8Array): void;
}
