/**
 * createCryptoProvider: the default, explicit choices, and the fallback to libsodium-wrappers when the
 * sodium-native addon cannot be loaded (shown in a child Node process whose module resolution really
 * cannot find sodium-native).
 */
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider, CryptoProviderName } from '../../../src/crypto/provider.js';
import { lastJsonLine, runFreshScript } from '../../support/fresh-process.js';

describe('createCryptoProvider', () => {
  it('defaults to sodium-native', async () => {
    expect((await createCryptoProvider()).name).toBe('sodium-native');
  });

  it('builds exactly the provider asked for', async () => {
    expect((await createCryptoProvider('sodium-native')).name).toBe('sodium-native');
    expect((await createCryptoProvider('libsodium-wrappers')).name).toBe('libsodium-wrappers');
  });

  it('refuses an unknown name with CRYPTO_BAD_ARGUMENT', async () => {
    await expect(createCryptoProvider('openssl' as CryptoProviderName)).rejects.toMatchObject({
      code: 'CRYPTO_BAD_ARGUMENT',
      retriable: false,
    });
  });

  it('falls back to libsodium-wrappers when sodium-native cannot load; an explicit request fails typed', () => {
    // A resolve hook that makes 'sodium-native' unfindable, as on a machine without the addon.
    const hooks = `export async function resolve(s, c, next) {
      if (s === 'sodium-native') { const e = new Error('Cannot find package sodium-native'); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; }
      return next(s, c);
    }`;
    const register = `import { register } from 'node:module'; register(${JSON.stringify(
      `data:text/javascript,${encodeURIComponent(hooks)}`,
    )});`;
    const index = fileURLToPath(new URL('../../../src/crypto/index.ts', import.meta.url));
    const probe = `
      const { createCryptoProvider } = await import(${JSON.stringify(index)});
      const p = await createCryptoProvider();
      const kp = p.boxKeyPair();
      const opened = p.boxSealOpen(p.boxSeal(new Uint8Array([1, 2, 3]), kp.publicKey), kp.publicKey, kp.secretKey);
      let explicit = 'loaded';
      try { await createCryptoProvider('sodium-native'); } catch (e) { explicit = e.code; }
      console.log(JSON.stringify({ chosen: p.name, roundTrip: Array.from(opened ?? []), explicit }));
    `;
    const child = runFreshScript(probe, {
      nodeFlags: ['--import', `data:text/javascript,${encodeURIComponent(register)}`],
    });
    expect(child.status, child.stderr).toBe(0);
    expect(lastJsonLine(child.stdout)).toEqual({
      chosen: 'libsodium-wrappers',
      roundTrip: [1, 2, 3],
      explicit: 'CRYPTO_PROVIDER_UNAVAILABLE',
    });
  });
});

describe('libsodium-wrappers X-Wing is loaded only where it is needed', () => {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const nodeHasNativeMlKem = major > 24 || (major === 24 && minor >= 7);

  it(`sodium-native without deterministicXWing: ${nodeHasNativeMlKem ? 'node:crypto ML-KEM only, no deterministic encapsulation' : 'the WebAssembly X-Wing (this Node has no ML-KEM)'}`, async () => {
    const p = (await createCryptoProvider('sodium-native')) as CryptoProvider & {
      xwingBackend: string;
    };
    const kp = p.xwingKeyPairFromSeed(new Uint8Array(32).fill(7));
    const eseed = new Uint8Array(64).fill(9);
    if (nodeHasNativeMlKem) {
      expect(p.xwingBackend).toBe('node');
      expect(() => p.xwingEncapsulateDeterministic(kp.publicKey, eseed)).toThrow(
        /deterministicXWing/,
      );
    } else {
      expect(p.xwingBackend).toBe('libsodium-wrappers');
      expect(p.xwingEncapsulateDeterministic(kp.publicKey, eseed).ciphertext.length).toBe(1120);
    }
    // Random encapsulation and decapsulation work either way.
    const enc = p.xwingEncapsulate(kp.publicKey);
    expect(Buffer.from(p.xwingDecapsulate(enc.ciphertext, kp.secretKey))).toEqual(
      Buffer.from(enc.sharedSecret),
    );
  });

  it('sodium-native with deterministicXWing: deterministic encapsulation on every Node', async () => {
    const p = await createCryptoProvider('sodium-native', { deterministicXWing: true });
    const kp = p.xwingKeyPairFromSeed(new Uint8Array(32).fill(7));
    const a = p.xwingEncapsulateDeterministic(kp.publicKey, new Uint8Array(64).fill(9));
    const b = p.xwingEncapsulateDeterministic(kp.publicKey, new Uint8Array(64).fill(9));
    expect(Buffer.from(a.ciphertext)).toEqual(Buffer.from(b.ciphertext));
  });
});
