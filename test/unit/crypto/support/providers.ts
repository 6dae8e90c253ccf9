/** The providers every crypto test runs against, built through the public factory. */
import { createCryptoProvider } from '../../../../src/crypto/index.js';
import type { CryptoProvider, CryptoProviderName } from '../../../../src/crypto/provider.js';

export const PROVIDER_NAMES: readonly CryptoProviderName[] = [
  'sodium-native',
  'libsodium-wrappers',
];

const cache = new Map<CryptoProviderName, Promise<CryptoProvider>>();

/** One provider instance per name per test file. */
export function provider(name: CryptoProviderName): Promise<CryptoProvider> {
  let p = cache.get(name);
  if (p === undefined) {
    // Deterministic X-Wing encapsulation (vectors, golden envelopes) on every Node version.
    p = createCryptoProvider(name, { deterministicXWing: true });
    cache.set(name, p);
  }
  return p;
}
