/**
 * X-Wing KEM (draft-connolly-cfrg-xwing-kem; docs/PQ-NOTES.md) through both providers: the draft's
 * own vectors (vendored under test/vectors/third-party/xwing/), cross-provider round trips, implicit
 * rejection, refused keys and ciphertexts, and hostile lengths. On Node ≥ 24.7 the sodium-native
 * provider runs the native path (node:crypto ML-KEM-768); before that, libsodium-wrappers' X-Wing.
 */
import { beforeAll, describe, expect, it } from 'vitest';

import {
  XWING_CIPHERTEXT_BYTES,
  XWING_ESEED_BYTES,
  XWING_PUBLIC_KEY_BYTES,
  XWING_SEED_BYTES,
  XWING_SHARED_SECRET_BYTES,
  type CryptoProvider,
  type CryptoProviderName,
} from '../../../src/crypto/provider.js';
import {
  createSodiumNativeProvider,
  NATIVE_XWING_NODE_VERSION,
} from '../../../src/crypto/sodium-native-provider.js';
import { nodeHasMlKem768 } from '../../../src/crypto/xwing-node.js';
import { fromHex, readThirdPartyVectorJson, toHex } from '../../support/third-party-vectors.js';
import { expectCryptoError } from './support/expect-crypto-error.js';
import { PROVIDER_NAMES, provider } from './support/providers.js';

interface XWingVector {
  seed: string;
  sk: string;
  pk: string;
  eseed: string;
  ct: string;
  ss: string;
}

const VECTORS = readThirdPartyVectorJson('xwing/test-vectors.json') as XWingVector[];

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const NODE_HAS_NATIVE_MLKEM = major > 24 || (major === 24 && minor >= 7);

const providers = new Map<CryptoProviderName, CryptoProvider>();
beforeAll(async () => {
  for (const name of PROVIDER_NAMES) providers.set(name, await provider(name));
});
function p(name: CryptoProviderName): CryptoProvider {
  const found = providers.get(name);
  if (found === undefined) throw new Error(`no provider ${name}`);
  return found;
}

function flipped(bytes: Uint8Array, index: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[index] = (copy[index] ?? 0) ^ 0x01;
  return copy;
}

describe('X-Wing vectors file', () => {
  it('holds the draft vectors with the draft sizes', () => {
    expect(VECTORS.length).toBe(3);
    for (const v of VECTORS) {
      expect(fromHex(v.seed).length).toBe(XWING_SEED_BYTES);
      expect(fromHex(v.pk).length).toBe(XWING_PUBLIC_KEY_BYTES);
      expect(fromHex(v.eseed).length).toBe(XWING_ESEED_BYTES);
      expect(fromHex(v.ct).length).toBe(XWING_CIPHERTEXT_BYTES);
      expect(fromHex(v.ss).length).toBe(XWING_SHARED_SECRET_BYTES);
    }
  });
});

describe('sodium-native X-Wing backend selection', () => {
  it(`uses node:crypto ML-KEM-768 exactly when Node >= ${NATIVE_XWING_NODE_VERSION}`, () => {
    expect(nodeHasMlKem768()).toBe(NODE_HAS_NATIVE_MLKEM);
    const native = p('sodium-native') as CryptoProvider & { xwingBackend?: string };
    expect(native.xwingBackend).toBe(NODE_HAS_NATIVE_MLKEM ? 'node' : 'libsodium-wrappers');
  });

  it('without the WebAssembly fallback, says which Node version X-Wing needs', () => {
    const bare = createSodiumNativeProvider();
    const pk = fromHex(VECTORS[0]?.pk ?? '');
    const eseed = fromHex(VECTORS[0]?.eseed ?? '');
    const det = expectCryptoError(
      () => bare.xwingEncapsulateDeterministic(pk, eseed),
      'CRYPTO_PROVIDER_UNAVAILABLE',
      'deterministic without fallback',
    );
    if (NODE_HAS_NATIVE_MLKEM) {
      expect(bare.xwingBackend).toBe('node');
      expect(det.message).toContain('libsodium-wrappers');
      expect(bare.xwingEncapsulate(pk).ciphertext.length).toBe(XWING_CIPHERTEXT_BYTES);
    } else {
      expect(bare.xwingBackend).toBe('none');
      expect(det.message).toContain(`Node >= ${NATIVE_XWING_NODE_VERSION}`);
      expectCryptoError(() => bare.xwingEncapsulate(pk), 'CRYPTO_PROVIDER_UNAVAILABLE');
      expectCryptoError(
        () => bare.xwingKeyPairFromSeed(new Uint8Array(32)),
        'CRYPTO_PROVIDER_UNAVAILABLE',
      );
    }
  });
});

describe.each(PROVIDER_NAMES)('X-Wing draft vectors: %s', (name) => {
  it('key pair from seed, deterministic encapsulation, decapsulation', () => {
    const c = p(name);
    for (const [i, v] of VECTORS.entries()) {
      const seed = fromHex(v.seed);
      const kp = c.xwingKeyPairFromSeed(seed);
      expect(toHex(kp.publicKey), `vector ${i} pk`).toBe(v.pk);
      expect(toHex(kp.secretKey), `vector ${i} sk`).toBe(v.sk);
      expect(toHex(seed), `vector ${i} seed untouched`).toBe(v.seed);

      const enc = c.xwingEncapsulateDeterministic(fromHex(v.pk), fromHex(v.eseed));
      expect(toHex(enc.ciphertext), `vector ${i} ct`).toBe(v.ct);
      expect(toHex(enc.sharedSecret), `vector ${i} ss`).toBe(v.ss);

      expect(toHex(c.xwingDecapsulate(fromHex(v.ct), fromHex(v.sk))), `vector ${i} dec`).toBe(v.ss);
      const key = c.xwingDecapsulationKey(fromHex(v.sk));
      expect(toHex(key.publicKey), `vector ${i} key pk`).toBe(v.pk);
      expect(toHex(key.decapsulate(fromHex(v.ct))), `vector ${i} key dec`).toBe(v.ss);
      expect(toHex(key.decapsulate(fromHex(v.ct))), `vector ${i} key dec again`).toBe(v.ss);
      key.destroy();
      expectCryptoError(() => key.decapsulate(fromHex(v.ct)), 'CRYPTO_BAD_STATE', 'destroyed');
    }
  });

  it('random encapsulation opens with the other provider (byte-compatible)', () => {
    const c = p(name);
    const other = p(name === 'sodium-native' ? 'libsodium-wrappers' : 'sodium-native');
    const seed = c.randomBytes(XWING_SEED_BYTES);
    const kp = c.xwingKeyPairFromSeed(seed);
    expect(toHex(other.xwingKeyPairFromSeed(seed).publicKey)).toBe(toHex(kp.publicKey));
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const enc = c.xwingEncapsulate(kp.publicKey);
      expect(enc.ciphertext.length).toBe(XWING_CIPHERTEXT_BYTES);
      seen.add(toHex(enc.sharedSecret));
      expect(toHex(other.xwingDecapsulate(enc.ciphertext, seed))).toBe(toHex(enc.sharedSecret));
      expect(toHex(c.xwingDecapsulate(enc.ciphertext, seed))).toBe(toHex(enc.sharedSecret));
    }
    expect(seen.size, 'fresh randomness per encapsulation').toBe(4);
  });

  it('a modified ciphertext gives a different, deterministic secret, the same on both providers', () => {
    const c = p(name);
    const other = p(name === 'sodium-native' ? 'libsodium-wrappers' : 'sodium-native');
    const v = VECTORS[0];
    if (v === undefined) throw new Error('no vector');
    const ct = fromHex(v.ct);
    const key = c.xwingDecapsulationKey(fromHex(v.sk));
    // ML-KEM part (first, middle, last byte) and X25519 part (first and last byte).
    const secrets = new Set<string>([v.ss]);
    for (const index of [0, 544, 1087, 1088, 1119]) {
      const bad = flipped(ct, index);
      const once = toHex(key.decapsulate(bad));
      expect(once, `index ${index}: not the real secret`).not.toBe(v.ss);
      expect(toHex(key.decapsulate(bad)), `index ${index}: deterministic`).toBe(once);
      expect(toHex(other.xwingDecapsulate(bad, fromHex(v.sk))), `index ${index}: compatible`).toBe(
        once,
      );
      secrets.add(once);
    }
    expect(secrets.size).toBe(6);
    key.destroy();
  });

  it('refuses a low-order X25519 part or an invalid ML-KEM key with one typed error', () => {
    const c = p(name);
    const v = VECTORS[1];
    if (v === undefined) throw new Error('no vector');
    const zeroCtX = fromHex(v.ct);
    zeroCtX.fill(0, 1088);
    expectCryptoError(
      () => c.xwingDecapsulate(zeroCtX, fromHex(v.sk)),
      'CRYPTO_BAD_ARGUMENT',
      'ctX zero',
    );
    const key = c.xwingDecapsulationKey(fromHex(v.sk));
    expectCryptoError(() => key.decapsulate(zeroCtX), 'CRYPTO_BAD_ARGUMENT', 'key ctX zero');
    key.destroy();

    const zeroPkX = fromHex(v.pk);
    zeroPkX.fill(0, 1184);
    expectCryptoError(() => c.xwingEncapsulate(zeroPkX), 'CRYPTO_BAD_ARGUMENT', 'pkX zero');
    expectCryptoError(
      () => c.xwingEncapsulateDeterministic(zeroPkX, fromHex(v.eseed)),
      'CRYPTO_BAD_ARGUMENT',
      'pkX zero deterministic',
    );
    // 0xfff is not reduced mod q = 3329 (FIPS 203 encapsulation key check).
    const badPkM = fromHex(v.pk);
    badPkM.fill(0xff, 0, 1184);
    const err = expectCryptoError(
      () => c.xwingEncapsulate(badPkM),
      'CRYPTO_BAD_ARGUMENT',
      'pkM unreduced',
    );
    expect(err.message).not.toContain(toHex(badPkM).slice(0, 16));
  });

  it('checks every length before use', () => {
    const c = p(name);
    const v = VECTORS[2];
    if (v === undefined) throw new Error('no vector');
    const pk = fromHex(v.pk);
    const sk = fromHex(v.sk);
    const ct = fromHex(v.ct);
    const eseed = fromHex(v.eseed);
    for (const n of [0, 31, 33, 64]) {
      expectCryptoError(() => c.xwingKeyPairFromSeed(new Uint8Array(n)), 'CRYPTO_BAD_LENGTH');
      expectCryptoError(() => c.xwingDecapsulationKey(new Uint8Array(n)), 'CRYPTO_BAD_LENGTH');
      expectCryptoError(() => c.xwingDecapsulate(ct, new Uint8Array(n)), 'CRYPTO_BAD_LENGTH');
    }
    for (const n of [0, 32, 1184, 1215, 1217]) {
      expectCryptoError(() => c.xwingEncapsulate(new Uint8Array(n)), 'CRYPTO_BAD_LENGTH');
      expectCryptoError(
        () => c.xwingEncapsulateDeterministic(new Uint8Array(n), eseed),
        'CRYPTO_BAD_LENGTH',
      );
    }
    expectCryptoError(
      () => c.xwingEncapsulateDeterministic(Uint8Array.from([...pk, 0]), eseed),
      'CRYPTO_BAD_LENGTH',
    );
    for (const n of [0, 32, 63, 65]) {
      expectCryptoError(
        () => c.xwingEncapsulateDeterministic(pk, new Uint8Array(n)),
        'CRYPTO_BAD_LENGTH',
      );
    }
    const key = c.xwingDecapsulationKey(sk);
    for (const n of [0, 32, 1088, 1119, 1121]) {
      const bad = new Uint8Array(n);
      expectCryptoError(() => c.xwingDecapsulate(bad, sk), 'CRYPTO_BAD_LENGTH');
      expectCryptoError(() => key.decapsulate(bad), 'CRYPTO_BAD_LENGTH');
    }
    key.destroy();
    const notBytes = 'x'.repeat(32) as unknown as Uint8Array;
    expectCryptoError(() => c.xwingKeyPairFromSeed(notBytes), 'CRYPTO_BAD_ARGUMENT');
    expectCryptoError(() => c.xwingEncapsulate(notBytes), 'CRYPTO_BAD_ARGUMENT');
    expectCryptoError(() => c.xwingDecapsulate(notBytes, sk), 'CRYPTO_BAD_ARGUMENT');
  });
});
