/** The crypto providers the envelope tests run against: both real ones, from src/crypto. */
import { createCryptoProvider } from '../../../../src/crypto/index.js';
import type { CryptoProvider, CryptoProviderName } from '../../../../src/crypto/provider.js';

const cache = new Map<CryptoProviderName, Promise<CryptoProvider>>();

/** Loads (once per process) exactly the named provider. */
export function loadProvider(name: CryptoProviderName): Promise<CryptoProvider> {
  let p = cache.get(name);
  if (p === undefined) {
    // Deterministic X-Wing encapsulation (vectors, golden envelopes) on every Node version.
    p = createCryptoProvider(name, { deterministicXWing: true });
    cache.set(name, p);
  }
  return p;
}

/** Every suite that touches cryptography runs against both providers. */
export const PROVIDER_NAMES: readonly CryptoProviderName[] = [
  'sodium-native',
  'libsodium-wrappers',
];

/** Sealed with the first, opened with the second: both directions across the two providers. */
export const PROVIDER_PAIRS = [
  ['sodium-native', 'libsodium-wrappers'],
  ['libsodium-wrappers', 'sodium-native'],
] as const satisfies readonly (readonly [CryptoProviderName, CryptoProviderName])[];
