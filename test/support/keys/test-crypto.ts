import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';

/** The crypto provider keys tests use: the project's default (sodium-native, else libsodium-wrappers). */
export function testCrypto(): Promise<CryptoProvider> {
  return createCryptoProvider();
}
