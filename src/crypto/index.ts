import { randomFillSync } from 'node:crypto';

import { CryptoError } from './crypto-error.js';
import type { CryptoProvider, CryptoProviderName } from './provider.js';

export * from './provider.js';
export { CryptoError, isCryptoError, type CryptoErrorCode } from './crypto-error.js';
export { RandomPool, RANDOM_POOL_DEFAULT_BYTES, type RandomFillSource } from './random-pool.js';

/** Options of createCryptoProvider. */
export interface CryptoProviderOptions {
  /**
   * Tests and vector generation only: make `xwingEncapsulateDeterministic` available on the
   * sodium-native provider on Node >= 24.7 too, by loading libsodium-wrappers' WebAssembly X-Wing
   * (about 45 ms per process). Without it, that Node uses node:crypto's ML-KEM only and the
   * WebAssembly module is not loaded; before 24.7 it is always loaded (it is the X-Wing there).
   */
  readonly deterministicXWing?: boolean;
}

async function loadSodiumNative(options: CryptoProviderOptions): Promise<CryptoProvider> {
  // Imported lazily: loading the module loads the native addon, which may be missing.
  const mod = await import('./sodium-native-provider.js');
  // X-Wing: node:crypto's ML-KEM-768 where Node has it (>= 24.7); libsodium-wrappers' WebAssembly
  // X-Wing before that, and for deterministic encapsulation when asked for (docs/PQ-NOTES.md). If
  // the WebAssembly module does not load, sealed boxes still work and X-Wing calls say what is
  // missing.
  const { nodeHasMlKem768 } = await import('./xwing-node.js');
  if (nodeHasMlKem768() && options.deterministicXWing !== true)
    return mod.createSodiumNativeProvider({});
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
export async function createCryptoProvider(
  name?: CryptoProviderName,
  options: CryptoProviderOptions = {},
): Promise<CryptoProvider> {
  switch (name) {
    case 'sodium-native':
      try {
        return await loadSodiumNative(options);
      } catch (cause) {
        throw new CryptoError('CRYPTO_PROVIDER_UNAVAILABLE', 'sodium-native could not be loaded', {
          cause,
        });
      }
    case 'libsodium-wrappers':
      return loadLibsodiumWrappers();
    case undefined:
      try {
        return await loadSodiumNative(options);
      } catch {
        return loadLibsodiumWrappers();
      }
    default:
      throw new CryptoError('CRYPTO_BAD_ARGUMENT', 'unknown crypto provider name');
  }
}
