/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- a test-only shim over untyped sodium-native */
/**
 * The crypto provider for keys tests. Uses the project's factory (src/crypto/index.ts) when it exists;
 * until the crypto engineer's provider lands, a minimal sodium-native implementation of the same
 * interface (test-only, not shipped).
 */
import { createRequire } from 'node:module';
import type { CryptoProvider, HashState, KeyPair } from '../../../../src/crypto/provider.js';

const s = createRequire(import.meta.url)('sodium-native') as Record<string, any>;

const shim: CryptoProvider = {
  name: 'sodium-native',
  randomFill: (out) => s.randombytes_buf(out),
  randomBytes: (n) => {
    const b = Buffer.alloc(n);
    s.randombytes_buf(b);
    return new Uint8Array(b);
  },
  boxKeyPair: (): KeyPair => {
    const pk = Buffer.alloc(32);
    const sk = Buffer.alloc(32);
    s.crypto_box_keypair(pk, sk);
    return { publicKey: new Uint8Array(pk), secretKey: new Uint8Array(sk) };
  },
  boxPublicKeyFromSecret: (sk) => {
    const pk = Buffer.alloc(32);
    s.crypto_scalarmult_base(pk, Buffer.from(sk));
    return new Uint8Array(pk);
  },
  boxSeal: (m, pk) => {
    const out = Buffer.alloc(m.length + 48);
    s.crypto_box_seal(out, Buffer.from(m), Buffer.from(pk));
    return new Uint8Array(out);
  },
  boxSealOpen: (c, pk, sk) => {
    if (c.length < 48) return null;
    const out = Buffer.alloc(c.length - 48);
    return s.crypto_box_seal_open(out, Buffer.from(c), Buffer.from(pk), Buffer.from(sk)) ? new Uint8Array(out) : null;
  },
  scalarMult: (sk, pk) => {
    const out = Buffer.alloc(32);
    try {
      s.crypto_scalarmult(out, Buffer.from(sk), Buffer.from(pk));
    } catch {
      return null;
    }
    return out.every((b) => b === 0) ? null : new Uint8Array(out);
  },
  signKeyPair: () => {
    const pk = Buffer.alloc(32);
    const sk = Buffer.alloc(64);
    s.crypto_sign_keypair(pk, sk);
    return { publicKey: new Uint8Array(pk), secretKey: new Uint8Array(sk) };
  },
  signKeyPairFromSeed: (seed) => {
    const pk = Buffer.alloc(32);
    const sk = Buffer.alloc(64);
    s.crypto_sign_seed_keypair(pk, sk, Buffer.from(seed));
    return { publicKey: new Uint8Array(pk), secretKey: new Uint8Array(sk) };
  },
  signDetached: (m, sk) => {
    const sig = Buffer.alloc(64);
    s.crypto_sign_detached(sig, Buffer.from(m), Buffer.from(sk));
    return new Uint8Array(sig);
  },
  verifyDetached: (sig, m, pk) => sig.length === 64 && pk.length === 32 && s.crypto_sign_verify_detached(Buffer.from(sig), Buffer.from(m), Buffer.from(pk)),
  aeadEncrypt: (out, m, aad, nonce, key) => {
    const o = Buffer.from(out.buffer, out.byteOffset, out.length);
    s.crypto_aead_xchacha20poly1305_ietf_encrypt(o, Buffer.from(m), aad === null ? null : Buffer.from(aad), null, Buffer.from(nonce), Buffer.from(key));
  },
  aeadDecrypt: (out, c, aad, nonce, key) => {
    const o = Buffer.from(out.buffer, out.byteOffset, out.length);
    try {
      s.crypto_aead_xchacha20poly1305_ietf_decrypt(o, null, Buffer.from(c), aad === null ? null : Buffer.from(aad), Buffer.from(nonce), Buffer.from(key));
      return true;
    } catch {
      return false;
    }
  },
  hash: (out, input, key) => {
    const o = Buffer.from(out.buffer, out.byteOffset, out.length);
    s.crypto_generichash(o, Buffer.from(input), key ? Buffer.from(key) : undefined);
  },
  createHash: (): HashState => {
    throw new Error('not needed by keys tests');
  },
  kdfDerive: () => {
    throw new Error('not needed by keys tests');
  },
  equalConstantTime: (a, b) => a.length === b.length && s.sodium_memcmp(Buffer.from(a), Buffer.from(b)),
  memzero: (buf) => {
    buf.fill(0);
  },
};

/** The provider keys tests use. */
export async function testCrypto(): Promise<CryptoProvider> {
  const factoryPath = '../../../../src/crypto/index.js';
  try {
    const m = (await import(factoryPath)) as { createCryptoProvider?: () => CryptoProvider | Promise<CryptoProvider> };
    if (typeof m.createCryptoProvider === 'function') return await m.createCryptoProvider();
  } catch {
    // The project's factory has not landed yet.
  }
  return shim;
}
