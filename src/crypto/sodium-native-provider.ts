import sodium from 'sodium-native';

import {
  checkAeadDecryptArgs,
  checkAeadEncryptArgs,
  checkBoxSealOpenArgs,
  checkHashArgs,
  checkVerifyArgs,
  checkHashKey,
  checkRandomLength,
  checkHashOutLength,
  checkSubkeyId,
  encodeKdfContext,
  isAllZero,
  requireBytes,
  requireLength,
  requireLengthIn,
} from './argument-checks.js';
import { sha256Into } from './sha256.js';
import { CryptoError } from './crypto-error.js';
import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SECRET_KEY_BYTES,
  ED25519_SEED_BYTES,
  ED25519_SIGNATURE_BYTES,
  GENERICHASH_OUT_MAX_BYTES,
  GENERICHASH_OUT_MIN_BYTES,
  KDF_KEY_BYTES,
  SEAL_OVERHEAD_BYTES,
  X25519_PUBLIC_KEY_BYTES,
  X25519_SECRET_KEY_BYTES,
  type CryptoProvider,
  type HashState,
  type KeyPair,
  type XWingDecapsulationKey,
  type XWingEncapsulation,
} from './provider.js';
import { RANDOM_POOL_DEFAULT_BYTES, RandomPool } from './random-pool.js';
import type { XWingOperations } from './xwing-libsodium.js';
import { createNodeXWing, type NodeXWingX25519 } from './xwing-node.js';

/** The Node version the native X-Wing path needs (node:crypto ML-KEM-768). */
export const NATIVE_XWING_NODE_VERSION = '24.7';

/** Incremental BLAKE2b over a native state buffer (reused across reset()). */
class SodiumNativeHashState implements HashState {
  readonly #state = new Uint8Array(sodium.crypto_generichash_STATEBYTES);
  readonly #outLength: number;
  readonly #key: Uint8Array | null;
  #finished = false;

  constructor(outLength: number, key: Uint8Array | null) {
    this.#outLength = outLength;
    this.#key = key;
    sodium.crypto_generichash_init(this.#state, key, outLength);
  }

  update(input: Uint8Array): void {
    if (this.#finished)
      throw new CryptoError('CRYPTO_BAD_STATE', 'hash: update after final (call reset)');
    requireBytes('hash.update', 'input', input);
    sodium.crypto_generichash_update(this.#state, input);
  }

  final(out: Uint8Array): void {
    if (this.#finished)
      throw new CryptoError('CRYPTO_BAD_STATE', 'hash: final called twice (call reset)');
    requireLength('hash.final', 'out', out, this.#outLength);
    sodium.crypto_generichash_final(this.#state, out);
    this.#finished = true;
    // A keyed state holds the key's compression: do not leave it on the heap.
    sodium.sodium_memzero(this.#state);
  }

  reset(): void {
    if (this.#key !== null) checkHashKey('hash.reset', this.#key);
    sodium.crypto_generichash_init(this.#state, this.#key, this.#outLength);
    this.#finished = false;
  }
}

/** sodium-native's X25519 and memzero, for xwing-node.ts. */
const SODIUM_X25519: NodeXWingX25519 = {
  scalarMultBase: (out, scalar) => sodium.crypto_scalarmult_base(out, scalar),
  scalarMult: (out, scalar, point) => sodium.crypto_scalarmult(out, scalar, point),
  memzero: (buf) => sodium.sodium_memzero(buf),
};

/**
 * The default provider: libsodium through the sodium-native addon. Every argument is checked in
 * TypeScript first (see argument-checks.ts): a size the addon does not expect would abort the process.
 */
class SodiumNativeProvider implements CryptoProvider {
  readonly name = 'sodium-native' as const;
  // randombytes_buf costs ~1 µs per call here (a getrandom system call); a per-message nonce is cheaper
  // from a pool filled by the same CSPRNG 4 KiB at a time. libsodium's internal draws (key pairs,
  // sealed-box ephemeral keys) still use its own source.
  readonly #pool = new RandomPool((out) => sodium.randombytes_buf(out), RANDOM_POOL_DEFAULT_BYTES);

  // Single-entry cache: sealpost uses one KDF context, so encode it once.
  #kdfContext = '';
  #kdfContextBytes: Uint8Array = new Uint8Array(0);

  readonly #xwing: XWingOperations | null;
  /** 'node' (native ML-KEM), 'libsodium-wrappers' (WebAssembly fallback) or 'none'. */
  readonly xwingBackend: 'node' | 'libsodium-wrappers' | 'none';

  constructor(options: SodiumNativeProviderOptions) {
    const fill = (out: Uint8Array): void => this.#pool.fill(out);
    const native = createNodeXWing(SODIUM_X25519, fill, options.xwingFallback ?? null);
    this.#xwing = native ?? options.xwingFallback ?? null;
    this.xwingBackend =
      native !== null
        ? 'node'
        : options.xwingFallback !== undefined
          ? 'libsodium-wrappers'
          : 'none';
  }

  #xw(): XWingOperations {
    if (this.#xwing === null)
      throw new CryptoError(
        'CRYPTO_PROVIDER_UNAVAILABLE',
        `X-Wing with sodium-native needs Node >= ${NATIVE_XWING_NODE_VERSION} (node:crypto ML-KEM-768) ` +
          `or the libsodium-wrappers fallback; this is Node ${process.versions.node}`,
      );
    return this.#xwing;
  }

  randomFill(out: Uint8Array): void {
    requireBytes('randomFill', 'out', out);
    this.#pool.fill(out);
  }

  randomBytes(length: number): Uint8Array {
    checkRandomLength('randomBytes', length);
    const out = new Uint8Array(length);
    this.#pool.fill(out);
    return out;
  }

  boxKeyPair(): KeyPair {
    const publicKey = new Uint8Array(X25519_PUBLIC_KEY_BYTES);
    const secretKey = new Uint8Array(X25519_SECRET_KEY_BYTES);
    sodium.crypto_box_keypair(publicKey, secretKey);
    return { publicKey, secretKey };
  }

  boxPublicKeyFromSecret(secretKey: Uint8Array): Uint8Array {
    requireLength('boxPublicKeyFromSecret', 'secretKey', secretKey, X25519_SECRET_KEY_BYTES);
    const publicKey = new Uint8Array(X25519_PUBLIC_KEY_BYTES);
    sodium.crypto_scalarmult_base(publicKey, secretKey);
    return publicKey;
  }

  boxSeal(message: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
    requireBytes('boxSeal', 'message', message);
    requireLength('boxSeal', 'recipientPublicKey', recipientPublicKey, X25519_PUBLIC_KEY_BYTES);
    const out = new Uint8Array(message.length + SEAL_OVERHEAD_BYTES);
    try {
      sodium.crypto_box_seal(out, message, recipientPublicKey);
    } catch (cause) {
      // With sizes checked, libsodium's seal fails only when X25519 yields all zeros.
      throw new CryptoError('CRYPTO_LOW_ORDER_KEY', 'boxSeal: recipient public key has low order', {
        cause,
      });
    }
    return out;
  }

  boxSealOpen(
    ciphertext: Uint8Array,
    publicKey: Uint8Array,
    secretKey: Uint8Array,
  ): Uint8Array | null {
    checkBoxSealOpenArgs(ciphertext, publicKey, secretKey);
    const out = new Uint8Array(ciphertext.length - SEAL_OVERHEAD_BYTES);
    return sodium.crypto_box_seal_open(out, ciphertext, publicKey, secretKey) ? out : null;
  }

  scalarMult(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
    requireLength('scalarMult', 'secretKey', secretKey, X25519_SECRET_KEY_BYTES);
    requireLength('scalarMult', 'publicKey', publicKey, X25519_PUBLIC_KEY_BYTES);
    const out = new Uint8Array(X25519_PUBLIC_KEY_BYTES);
    try {
      sodium.crypto_scalarmult(out, secretKey, publicKey);
    } catch {
      return null; // libsodium refuses an all-zero result
    }
    return isAllZero(out) ? null : out;
  }

  xwingKeyPairFromSeed(seed: Uint8Array): KeyPair {
    return this.#xw().xwingKeyPairFromSeed(seed);
  }

  xwingDecapsulationKey(seed: Uint8Array): XWingDecapsulationKey {
    return this.#xw().xwingDecapsulationKey(seed);
  }

  xwingEncapsulate(publicKey: Uint8Array): XWingEncapsulation {
    return this.#xw().xwingEncapsulate(publicKey);
  }

  xwingEncapsulateDeterministic(publicKey: Uint8Array, eseed: Uint8Array): XWingEncapsulation {
    return this.#xw().xwingEncapsulateDeterministic(publicKey, eseed);
  }

  xwingDecapsulate(ciphertext: Uint8Array, seed: Uint8Array): Uint8Array {
    return this.#xw().xwingDecapsulate(ciphertext, seed);
  }

  signKeyPair(): KeyPair {
    const publicKey = new Uint8Array(ED25519_PUBLIC_KEY_BYTES);
    const secretKey = new Uint8Array(ED25519_SECRET_KEY_BYTES);
    sodium.crypto_sign_keypair(publicKey, secretKey);
    return { publicKey, secretKey };
  }

  signKeyPairFromSeed(seed: Uint8Array): KeyPair {
    requireLength('signKeyPairFromSeed', 'seed', seed, ED25519_SEED_BYTES);
    const publicKey = new Uint8Array(ED25519_PUBLIC_KEY_BYTES);
    const secretKey = new Uint8Array(ED25519_SECRET_KEY_BYTES);
    sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed);
    return { publicKey, secretKey };
  }

  signDetached(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
    requireBytes('signDetached', 'message', message);
    requireLength('signDetached', 'secretKey', secretKey, ED25519_SECRET_KEY_BYTES);
    const signature = new Uint8Array(ED25519_SIGNATURE_BYTES);
    sodium.crypto_sign_detached(signature, message, secretKey);
    return signature;
  }

  verifyDetached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    // Exactly 64 bytes: the addon accepts longer signatures and ignores the tail.
    checkVerifyArgs(signature, message, publicKey);
    return sodium.crypto_sign_verify_detached(signature, message, publicKey);
  }

  aeadEncrypt(
    out: Uint8Array,
    message: Uint8Array,
    aad: Uint8Array | null,
    nonce: Uint8Array,
    key: Uint8Array,
  ): void {
    checkAeadEncryptArgs(out, message, aad, nonce, key);
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out, message, aad, null, nonce, key);
  }

  aeadDecrypt(
    out: Uint8Array,
    ciphertext: Uint8Array,
    aad: Uint8Array | null,
    nonce: Uint8Array,
    key: Uint8Array,
  ): boolean {
    checkAeadDecryptArgs(out, ciphertext, aad, nonce, key);
    try {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, ciphertext, aad, nonce, key);
      return true;
    } catch {
      return false; // does not authenticate (sizes were checked above)
    }
  }

  hash(out: Uint8Array, input: Uint8Array, key?: Uint8Array | null): void {
    checkHashArgs(out, input, key);
    sodium.crypto_generichash(out, input, key ?? null);
  }

  createHash(outLength: number, key?: Uint8Array | null): HashState {
    checkHashOutLength('createHash', outLength);
    checkHashKey('createHash', key);
    return new SodiumNativeHashState(outLength, key ?? null);
  }

  sha256(out: Uint8Array, input: Uint8Array): void {
    sha256Into(out, input);
  }

  kdfDerive(out: Uint8Array, subkeyId: number, context: string, key: Uint8Array): void {
    requireLengthIn('kdfDerive', 'out', out, GENERICHASH_OUT_MIN_BYTES, GENERICHASH_OUT_MAX_BYTES);
    checkSubkeyId('kdfDerive', subkeyId);
    requireLength('kdfDerive', 'key', key, KDF_KEY_BYTES);
    if (context !== this.#kdfContext || this.#kdfContextBytes.length === 0) {
      this.#kdfContextBytes = encodeKdfContext('kdfDerive', context);
      this.#kdfContext = context;
    }
    sodium.crypto_kdf_derive_from_key(out, subkeyId, this.#kdfContextBytes, key);
  }

  equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
    requireBytes('equalConstantTime', 'a', a);
    requireBytes('equalConstantTime', 'b', b);
    if (a.length !== b.length) return false;
    return sodium.sodium_memcmp(a, b);
  }

  memzero(buf: Uint8Array): void {
    requireBytes('memzero', 'buf', buf);
    sodium.sodium_memzero(buf);
  }
}

/** Options for createSodiumNativeProvider. */
export interface SodiumNativeProviderOptions {
  /**
   * libsodium-wrappers' X-Wing (see xwing-libsodium-wrappers.ts): used for everything X-Wing where
   * this Node has no ML-KEM-768 (before 24.7), and for deterministic encapsulation everywhere.
   * Without it, those calls throw CRYPTO_PROVIDER_UNAVAILABLE naming the Node version needed.
   */
  readonly xwingFallback?: XWingOperations;
}

/**
 * Builds the sodium-native provider. Importing this module loads the native addon, so import it
 * dynamically where a fallback is wanted (createCryptoProvider does).
 */
export function createSodiumNativeProvider(
  options: SodiumNativeProviderOptions = {},
): CryptoProvider & { readonly xwingBackend: 'node' | 'libsodium-wrappers' | 'none' } {
  return new SodiumNativeProvider(options);
}
