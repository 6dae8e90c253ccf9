/**
 * The crypto providers the envelope tests run against: the real ones from src/crypto
 * (createCryptoProvider) once they exist; until then a minimal sodium-native provider (temporary,
 * test-only) so the envelope logic can be tested.
 */
import { createRequire } from 'node:module';
import type { CryptoProvider, CryptoProviderName, HashState, KeyPair } from '../../../../src/crypto/provider.js';

type Sodium = Record<string, (...args: unknown[]) => unknown> & Record<string, number>;

function temporarySodiumNative(): CryptoProvider {
  const s = createRequire(import.meta.url)('sodium-native') as Sodium;
  const call = (name: string, ...args: unknown[]): unknown => (s[name] as (...a: unknown[]) => unknown)(...args);
  return {
    name: 'sodium-native',
    randomFill: (out) => void call('randombytes_buf', out),
    randomBytes: (n) => {
      const b = new Uint8Array(n);
      call('randombytes_buf', b);
      return b;
    },
    boxKeyPair: (): KeyPair => {
      const publicKey = new Uint8Array(32);
      const secretKey = new Uint8Array(32);
      call('crypto_box_keypair', publicKey, secretKey);
      return { publicKey, secretKey };
    },
    boxPublicKeyFromSecret: (sk) => {
      const pk = new Uint8Array(32);
      call('crypto_scalarmult_base', pk, sk);
      return pk;
    },
    boxSeal: (m, pk) => {
      const out = new Uint8Array(m.length + 48);
      call('crypto_box_seal', out, m, pk);
      return out;
    },
    boxSealOpen: (c, pk, sk) => {
      if (c.length < 48) return null;
      const out = new Uint8Array(c.length - 48);
      return call('crypto_box_seal_open', out, c, pk, sk) === true ? out : null;
    },
    scalarMult: (sk, pk) => {
      const out = new Uint8Array(32);
      try {
        call('crypto_scalarmult', out, sk, pk);
      } catch {
        return null;
      }
      return out.every((b) => b === 0) ? null : out;
    },
    signKeyPair: () => {
      const publicKey = new Uint8Array(32);
      const secretKey = new Uint8Array(64);
      call('crypto_sign_keypair', publicKey, secretKey);
      return { publicKey, secretKey };
    },
    signKeyPairFromSeed: (seed) => {
      const publicKey = new Uint8Array(32);
      const secretKey = new Uint8Array(64);
      call('crypto_sign_seed_keypair', publicKey, secretKey, seed);
      return { publicKey, secretKey };
    },
    signDetached: (m, sk) => {
      const sig = new Uint8Array(64);
      call('crypto_sign_detached', sig, m, sk);
      return sig;
    },
    verifyDetached: (sig, m, pk) =>
      sig.length === 64 && pk.length === 32 && call('crypto_sign_verify_detached', sig, m, pk) === true,
    aeadEncrypt: (out, m, aad, nonce, key) => {
      call('crypto_aead_xchacha20poly1305_ietf_encrypt', out, m, aad, null, nonce, key);
    },
    aeadDecrypt: (out, c, aad, nonce, key) => {
      if (c.length < 16) return false;
      try {
        call('crypto_aead_xchacha20poly1305_ietf_decrypt', out, null, c, aad, nonce, key);
        return true;
      } catch {
        return false;
      }
    },
    hash: (out, input, key) => {
      if (key === undefined || key === null) call('crypto_generichash', out, input);
      else call('crypto_generichash', out, input, key);
    },
    createHash: (outLength, key): HashState => {
      const state = new Uint8Array(s.crypto_generichash_STATEBYTES as number);
      call('crypto_generichash_init', state, key ?? null, outLength);
      return {
        update: (input) => void call('crypto_generichash_update', state, input),
        final: (out) => void call('crypto_generichash_final', state, out),
        reset: () => void call('crypto_generichash_init', state, key ?? null, outLength),
      };
    },
    kdfDerive: (out, id, ctx, key) => {
      call('crypto_kdf_derive_from_key', out, id, Buffer.from(ctx, 'ascii'), key);
    },
    equalConstantTime: (a, b) => a.length === b.length && call('sodium_memcmp', a, b) === true,
    memzero: (b) => void call('sodium_memzero', b),
  };
}

/** Loads the named provider: the real factory when src/crypto/index.ts exists, else the stand-in. */
export async function loadProvider(name: CryptoProviderName): Promise<CryptoProvider> {
  const path = '../../../../src/crypto/index.js';
  try {
    const mod = (await import(path)) as { createCryptoProvider: (n?: CryptoProviderName) => CryptoProvider | Promise<CryptoProvider> };
    return await mod.createCryptoProvider(name);
  } catch (err) {
    if (name === 'sodium-native') return temporarySodiumNative();
    throw err;
  }
}

/** The provider names the suites run against (both once src/crypto lands). */
export const PROVIDER_NAMES: readonly CryptoProviderName[] = ['sodium-native', 'libsodium-wrappers'];
