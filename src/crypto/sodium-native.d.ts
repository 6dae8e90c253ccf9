/*
 * Types for the part of sodium-native 5.1 that sealpost uses (the package ships none). Signatures follow
 * its index.js: outputs first, callers size every buffer; failures throw or return false as noted.
 */
declare module 'sodium-native' {
  interface SodiumNative {
    readonly crypto_generichash_STATEBYTES: number;
    readonly crypto_box_SEALBYTES: number;
    readonly crypto_aead_xchacha20poly1305_ietf_ABYTES: number;
    readonly crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number;
    readonly crypto_sign_BYTES: number;
    readonly crypto_kdf_CONTEXTBYTES: number;

    randombytes_buf(out: Uint8Array): void;
    sodium_memzero(buf: Uint8Array): void;
    /** Constant time; both buffers must have the same length. */
    sodium_memcmp(a: Uint8Array, b: Uint8Array): boolean;

    crypto_box_keypair(pk: Uint8Array, sk: Uint8Array): void;
    crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
    /** Throws when the result is all zero (low-order point). */
    crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
    /** Throws when sealing fails (low-order recipient key). */
    crypto_box_seal(c: Uint8Array, m: Uint8Array, pk: Uint8Array): void;
    crypto_box_seal_open(m: Uint8Array, c: Uint8Array, pk: Uint8Array, sk: Uint8Array): boolean;

    crypto_sign_keypair(pk: Uint8Array, sk: Uint8Array): void;
    crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void;
    crypto_sign_detached(sig: Uint8Array, m: Uint8Array, sk: Uint8Array): void;
    crypto_sign_verify_detached(sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean;

    crypto_aead_xchacha20poly1305_ietf_encrypt(
      c: Uint8Array,
      m: Uint8Array,
      ad: Uint8Array | null,
      nsec: null,
      npub: Uint8Array,
      k: Uint8Array,
    ): number;
    /** Throws when the ciphertext does not authenticate. */
    crypto_aead_xchacha20poly1305_ietf_decrypt(
      m: Uint8Array,
      nsec: null,
      c: Uint8Array,
      ad: Uint8Array | null,
      npub: Uint8Array,
      k: Uint8Array,
    ): number;

    crypto_generichash(out: Uint8Array, input: Uint8Array, key?: Uint8Array | null): void;
    crypto_generichash_init(state: Uint8Array, key: Uint8Array | null, outLength: number): void;
    crypto_generichash_update(state: Uint8Array, input: Uint8Array): void;
    crypto_generichash_final(state: Uint8Array, out: Uint8Array): void;

    crypto_kdf_derive_from_key(
      subkey: Uint8Array,
      subkeyId: number,
      ctx: Uint8Array,
      key: Uint8Array,
    ): void;
  }

  const sodium: SodiumNative;
  export default sodium;
}
