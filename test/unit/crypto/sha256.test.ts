/**
 * SHA-256 on both providers (used only for the RFC 6962 audit tree and C2SP note key ids,
 * docs/AUDIT.md): the FIPS 180-4 known answers, and sizes checked before use.
 */
import { describe, expect, it } from 'vitest';
import { createCryptoProvider, isCryptoError } from '../../../src/crypto/index.js';

describe.each(['sodium-native', 'libsodium-wrappers'] as const)('sha256 (%s)', (name) => {
  it('matches the FIPS 180-4 examples', async () => {
    const crypto = await createCryptoProvider(name);
    const out = new Uint8Array(32);
    crypto.sha256(out, new TextEncoder().encode('abc'));
    expect(Buffer.from(out).toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    crypto.sha256(out, new Uint8Array(0));
    expect(Buffer.from(out).toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('refuses an output buffer that is not 32 bytes', async () => {
    const crypto = await createCryptoProvider(name);
    let caught: unknown;
    try {
      crypto.sha256(new Uint8Array(31), new Uint8Array(1));
    } catch (err) {
      caught = err;
    }
    expect(isCryptoError(caught, 'CRYPTO_BAD_LENGTH')).toBe(true);
  });
});
