import { randomFillSync } from 'node:crypto';

import { CryptoError } from './crypto-error.js';
import type { CryptoProvider, CryptoProviderName } from './provider.js';

export * from './provider.js';
export { CryptoError, isCryptoError, type CryptoErrorCode } from './crypto-error.js';
export { RandomPool, RANDOM_POOL_DEFAULT_BYTES, type RandomFillSource } from './random-pool.js';

async function loadSodiumNative(): Promise<CryptoProvider> {
  // Imported lazily: loading the module loads the native addon, which may be missing.
  const mod = await import('./sodium-native-provider.js');
  // X-Wing: node:crypto's ML-KEM-768 where Node has it (>= 24.7); libsodium-wrappers' WebAssembly
  // X-Wing before that and for deterministic encapsulation (docs/PQ-NOTES.md). If the WebAssembly
  // module does not load, sealed boxes still work and X-Wing calls say what is missing.
  const xwingFallback = await import('./libsodium-wrappers-provider.js')
    .then((w) => w.loadLibsodiumWrappersXWing((out) => void randomFillSync(out)))
    .catch(() => undefined);
  return mod.createSodiumNativeProvider(xwingFallback === undefined ? {} : { xwingFallback });
}

async function loadLibsodiumWrappers(): Promise<CryptoProvider> {
  const mod = await import('./libsodium-wrappers-provider.js').catch((cause: unknown) => {
    throw new CryptoError('CRYPTO_PROVIDER_UNAVAILABLE', 'libsodium-wrappers could not be loaded', {
      cause,
    });
  });
  return mod.createLibsodiumWrappersProvider();
}

/**
 * Builds a crypto provider. With a name, exactly that one (CRYPTO_PROVIDER_UNAVAILABLE if it cannot
 * load — an explicit choice never changes silently). Without one, sodium-native, falling back to
 * libsodium-wrappers when the native addon does not load; `provider.name` says which was chosen.
 */
export async function createCryptoProvider(name?: CryptoProviderName): Promise<CryptoProvider> {
  switch (name) {
    case 'sodium-native':
      try {
        return await loadSodiumNative();
      } catch (cause) {
        throw new CryptoError('CRYPTO_PROVIDER_UNAVAILABLE', 'sodium-native could not be loaded', {
          cause,
        });
      }
    case 'libsodium-wrappers':
      return loadLibsodiumWrappers();
    case undefined:
      try {
        return await loadSodiumNative();
      } catch {
        return loadLibsodiumWrappers();
      }
    default:
      throw new CryptoError('CRYPTO_BAD_ARGUMENT', 'unknown crypto provider name');
  }
}
