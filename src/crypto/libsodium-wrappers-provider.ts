import { randomFillSync } from 'node:crypto';

import sodium from 'libsodium-wrappers';

import {
  checkAeadDecryptArgs,
  checkAeadEncryptArgs,
  checkBoxSealOpenArgs,
  checkHashArgs,
  checkVerifyArgs,
  checkHashKey,
  checkHashOutLength,
  checkRandomLength,
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
  ED25519_SECRET_KEY_BYTES,
  ED25519_SEED_BYTES,
  GENERICHASH_OUT_MAX_BYTES,
  GENERICHASH_OUT_MIN_BYTES,
  KDF_KEY_BYTES,
  X25519_PUBLIC_KEY_BYTES,
  X25519_SECRET_KEY_BYTES,
  type CryptoProvider,
  type HashState,
  type KeyPair,
  type XWingDecapsulationKey,
  type XWingEncapsulation,
} from './provider.js';
import { RANDOM_POOL_DEFAULT_BYTES, RandomPool, type RandomFillSource } from './random-pool.js';
import {
  createLibsodiumXWing,
  type LibsodiumXWingKem,
  type XWingOperations,
  type XWingRandomFill,
} from './xwing-libsodium.js';

/** The Emscripten module under libsodium-wrappers (untyped upstream): only the hook we replace. */
interface EmscriptenRandomHook {
  getRandomValue: () => number;
}

type StateAddress = ReturnType<typeof sodium.crypto_generichash_init>;

/** Frees WebAssembly hash states that were dropped before final() (final() is what frees them). */
const abandonedStates = new FinalizationRegistry<{ state: StateAddress; outLength: number }>(
  (held) => {
    try {
      sodium.crypto_generichash_final(held.state, held.outLength);
    } catch {
      // Nothing to do: the state was already released.
    }
  },
);

/** Incremental BLAKE2b over a libsodium.js state (lives in the WebAssembly heap until final()). */
class WrappersHashState implements HashState {
  readonly #outLength: number;
  readonly #key: Uint8Array | null;
  #state: StateAddress | null = null;
  readonly #token = {};

  constructor(outLength: number, key: Uint8Array | null) {
    this.#outLength = outLength;
    this.#key = key;
    this.#init();
  }

  update(input: Uint8Array): void {
    if (this.#state === null)
      throw new CryptoError('CRYPTO_BAD_STATE', 'hash: update after final (call reset)');
    requireBytes('hash.update', 'input', input);
    sodium.crypto_generichash_update(this.#state, input);
  }

  final(out: Uint8Array): void {
    if (this.#state === null)
      throw new CryptoError('CRYPTO_BAD_STATE', 'hash: final called twice (call reset)');
    requireLength('hash.final', 'out', out, this.#outLength);
    const state = this.#state;
    this.#state = null;
    abandonedStates.unregister(this.#token);
    out.set(sodium.crypto_generichash_final(state, this.#outLength));
  }

  reset(): void {
    if (this.#state !== null) {
      abandonedStates.unregister(this.#token);
      sodium.crypto_generichash_final(this.#state, this.#outLength); // releases the old state
      this.#state = null;
    }
    this.#init();
  }

  #init(): void {
    if (this.#key !== null) checkHashKey('hash.reset', this.#key);
    const state = sodium.crypto_generichash_init(this.#key, this.#outLength);
    this.#state = state;
    abandonedStates.register(this, { state, outLength: this.#outLength }, this.#token);
  }
}

/** libsodium-wrappers' X-Wing calls, for xwing-libsodium.ts (valid once `sodium.ready` resolved). */
const WRAPPERS_XWING_KEM: LibsodiumXWingKem = {
  seedKeyPair: (seed) => sodium.crypto_kem_xwing_seed_keypair(seed),
  encapsulateDeterministic: (publicKey, eseed) =>
    sodium.crypto_kem_xwing_enc_deterministic(publicKey, eseed),
  decapsulate: (ciphertext, seed) => sodium.crypto_kem_xwing_dec(ciphertext, seed),
  memzero: (buf) => sodium.memzero(buf),
};

/**
 * The fallback provider: libsodium compiled to WebAssembly (libsodium-wrappers), byte-compatible with
 * sodium-native. Its functions return fresh arrays; results are copied into the caller's buffers and
 * secret temporaries are zeroed. Randomness comes from a RandomPool (see random-pool.ts).
 */
class LibsodiumWrappersProvider implements CryptoProvider {
  readonly name = 'libsodium-wrappers' as const;
  readonly #pool: RandomPool;
  readonly #xwing: XWingOperations;

  constructor(pool: RandomPool) {
    this.#pool = pool;
    this.#xwing = createLibsodiumXWing(WRAPPERS_XWING_KEM, (out) => pool.fill(out));
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
    const kp = sodium.crypto_box_keypair();
    return { publicKey: kp.publicKey, secretKey: kp.privateKey };
  }

  boxPublicKeyFromSecret(secretKey: Uint8Array): Uint8Array {
    requireLength('boxPublicKeyFromSecret', 'secretKey', secretKey, X25519_SECRET_KEY_BYTES);
    return sodium.crypto_scalarmult_base(secretKey);
  }

  boxSeal(message: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
    requireBytes('boxSeal', 'message', message);
    requireLength('boxSeal', 'recipientPublicKey', recipientPublicKey, X25519_PUBLIC_KEY_BYTES);
    try {
      return sodium.crypto_box_seal(message, recipientPublicKey);
    } catch (cause) {
      // With sizes checked, libsodium's seal fails only when X25519 yields all zeros.
      throw new CryptoError('CRYPTO_LOW_ORDER_KEY', 'boxSeal: recipient public key has low order', {
        cause,
      });
    }
  }

  boxSealOpen(
    ciphertext: Uint8Array,
    publicKey: Uint8Array,
    secretKey: Uint8Array,
  ): Uint8Array | null {
    checkBoxSealOpenArgs(ciphertext, publicKey, secretKey);
    try {
      return sodium.crypto_box_seal_open(ciphertext, publicKey, secretKey);
    } catch {
      return null; // does not authenticate
    }
  }

  scalarMult(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
    requireLength('scalarMult', 'secretKey', secretKey, X25519_SECRET_KEY_BYTES);
    requireLength('scalarMult', 'publicKey', publicKey, X25519_PUBLIC_KEY_BYTES);
    let out: Uint8Array;
    try {
      out = sodium.crypto_scalarmult(secretKey, publicKey);
    } catch {
      return null; // libsodium refuses an all-zero result ("weak public key")
    }
    return isAllZero(out) ? null : out;
  }

  xwingKeyPairFromSeed(seed: Uint8Array): KeyPair {
    return this.#xwing.xwingKeyPairFromSeed(seed);
  }

  xwingDecapsulationKey(seed: Uint8Array): XWingDecapsulationKey {
    return this.#xwing.xwingDecapsulationKey(seed);
  }

  xwingEncapsulate(publicKey: Uint8Array): XWingEncapsulation {
    return this.#xwing.xwingEncapsulate(publicKey);
  }

  xwingEncapsulateDeterministic(publicKey: Uint8Array, eseed: Uint8Array): XWingEncapsulation {
    return this.#xwing.xwingEncapsulateDeterministic(publicKey, eseed);
  }

  xwingDecapsulate(ciphertext: Uint8Array, seed: Uint8Array): Uint8Array {
    return this.#xwing.xwingDecapsulate(ciphertext, seed);
  }

  signKeyPair(): KeyPair {
    const kp = sodium.crypto_sign_keypair();
    return { publicKey: kp.publicKey, secretKey: kp.privateKey };
  }

  signKeyPairFromSeed(seed: Uint8Array): KeyPair {
    requireLength('signKeyPairFromSeed', 'seed', seed, ED25519_SEED_BYTES);
    const kp = sodium.crypto_sign_seed_keypair(seed);
    return { publicKey: kp.publicKey, secretKey: kp.privateKey };
  }

  signDetached(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
    requireBytes('signDetached', 'message', message);
    requireLength('signDetached', 'secretKey', secretKey, ED25519_SECRET_KEY_BYTES);
    return sodium.crypto_sign_detached(message, secretKey);
  }

  verifyDetached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
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
    out.set(sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(message, aad, null, nonce, key));
  }

  aeadDecrypt(
    out: Uint8Array,
    ciphertext: Uint8Array,
    aad: Uint8Array | null,
    nonce: Uint8Array,
    key: Uint8Array,
  ): boolean {
    checkAeadDecryptArgs(out, ciphertext, aad, nonce, key);
    let plain: Uint8Array;
    try {
      plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, aad, nonce, key);
    } catch {
      return false; // does not authenticate (sizes were checked above)
    }
    out.set(plain);
    sodium.memzero(plain);
    return true;
  }

  hash(out: Uint8Array, input: Uint8Array, key?: Uint8Array | null): void {
    checkHashArgs(out, input, key);
    const digest = sodium.crypto_generichash(out.length, input, key ?? null);
    out.set(digest);
    if (key !== null && key !== undefined) sodium.memzero(digest); // a MAC under a secret key
  }

  createHash(outLength: number, key?: Uint8Array | null): HashState {
    checkHashOutLength('createHash', outLength);
    checkHashKey('createHash', key);
    return new WrappersHashState(outLength, key ?? null);
  }

  sha256(out: Uint8Array, input: Uint8Array): void {
    sha256Into(out, input);
  }

  kdfDerive(out: Uint8Array, subkeyId: number, context: string, key: Uint8Array): void {
    requireLengthIn('kdfDerive', 'out', out, GENERICHASH_OUT_MIN_BYTES, GENERICHASH_OUT_MAX_BYTES);
    checkSubkeyId('kdfDerive', subkeyId);
    encodeKdfContext('kdfDerive', context); // validates: 8 printable ASCII characters
    requireLength('kdfDerive', 'key', key, KDF_KEY_BYTES);
    // libsodium.js takes 32-bit ids as numbers, larger ones only as bigint.
    const id = subkeyId <= 0x7fffffff ? subkeyId : BigInt(subkeyId);
    const subkey = sodium.crypto_kdf_derive_from_key(out.length, id, context, key);
    out.set(subkey);
    sodium.memzero(subkey);
  }

  equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
    requireBytes('equalConstantTime', 'a', a);
    requireBytes('equalConstantTime', 'b', b);
    if (a.length !== b.length) return false;
    return sodium.memcmp(a, b);
  }

  memzero(buf: Uint8Array): void {
    requireBytes('memzero', 'buf', buf);
    sodium.memzero(buf);
  }
}

/** Options for createLibsodiumWrappersProvider (tests use them; production takes the defaults). */
export interface LibsodiumWrappersProviderOptions {
  /** Secure random source the pool is filled from; default `node:crypto.randomFillSync`. */
  readonly randomSource?: RandomFillSource;
  /** Pool size in bytes; default 4096. */
  readonly poolBytes?: number;
}

/**
 * Builds the libsodium-wrappers provider once its WebAssembly module is ready, and replaces the
 * module's per-byte random hook with a pooled one.
 *
 * libsodium.js gets every random byte through `Module.getRandomValue()`, one host call per byte (in
 * Node: `crypto.getRandomValues` on a fresh 4-byte array). The hook is module-wide, so the most
 * recently created provider's pool serves all libsodium-wrappers randomness in the process (every
 * pool draws from a secure source, so this only matters for tests that count source calls).
 */
export async function createLibsodiumWrappersProvider(
  options: LibsodiumWrappersProviderOptions = {},
): Promise<CryptoProvider> {
  try {
    await sodium.ready;
  } catch (cause) {
    throw new CryptoError(
      'CRYPTO_PROVIDER_UNAVAILABLE',
      'libsodium-wrappers failed to initialise',
      { cause },
    );
  }
  const source: RandomFillSource = options.randomSource ?? ((out) => void randomFillSync(out));
  const pool = new RandomPool(source, options.poolBytes ?? RANDOM_POOL_DEFAULT_BYTES);
  const hook = (sodium as unknown as { libsodium?: EmscriptenRandomHook }).libsodium;
  if (hook === undefined || typeof hook.getRandomValue !== 'function') {
    // Fail closed: without the hook we would silently keep the per-byte source.
    throw new CryptoError(
      'CRYPTO_PROVIDER_UNAVAILABLE',
      'libsodium-wrappers: random hook not found',
    );
  }
  hook.getRandomValue = () => pool.nextUint32();
  return new LibsodiumWrappersProvider(pool);
}

/**
 * libsodium-wrappers' X-Wing alone, once its WebAssembly is ready: the sodium-native provider's
 * fallback where Node has no ML-KEM-768 and its deterministic encapsulation (see index.ts). Does not
 * replace the module's random hook: random encapsulation draws its eseed from `randomFill`.
 */
export async function loadLibsodiumWrappersXWing(
  randomFill: XWingRandomFill,
): Promise<XWingOperations> {
  try {
    await sodium.ready;
  } catch (cause) {
    throw new CryptoError(
      'CRYPTO_PROVIDER_UNAVAILABLE',
      'libsodium-wrappers failed to initialise',
      { cause },
    );
  }
  return createLibsodiumXWing(WRAPPERS_XWING_KEM, randomFill);
}
