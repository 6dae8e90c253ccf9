import * as nodeCrypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';

import { requireLength } from './argument-checks.js';
import { CryptoError } from './crypto-error.js';
import {
  X25519_PUBLIC_KEY_BYTES,
  XWING_CIPHERTEXT_BYTES,
  XWING_PUBLIC_KEY_BYTES,
  XWING_SEED_BYTES,
  type KeyPair,
  type XWingDecapsulationKey,
  type XWingEncapsulation,
} from './provider.js';
import type { XWingOperations, XWingRandomFill } from './xwing-libsodium.js';

/** X25519 and memzero from sodium-native (passed in by sodium-native-provider.ts, its one owner). */
export interface NodeXWingX25519 {
  scalarMultBase(out: Uint8Array, scalar: Uint8Array): void;
  /** Throws when the result is all zero (low-order point). */
  scalarMult(out: Uint8Array, scalar: Uint8Array, point: Uint8Array): void;
  memzero(buf: Uint8Array): void;
}

/** node:crypto's ML-KEM calls (Node ≥ 24.7; @types/node 20 does not declare them). */
interface NodeKem {
  encapsulate(key: KeyObject): { sharedKey: Buffer; ciphertext: Buffer };
  decapsulate(key: KeyObject, ciphertext: Uint8Array): Buffer;
}

const MLKEM_PUBLIC_KEY_BYTES = 1184;
const MLKEM_CIPHERTEXT_BYTES = 1088;
const MLKEM_SEED_BYTES = 64; // d ‖ z (FIPS 203 ML-KEM.KeyGen_internal)
/** The draft's label `\.//^\`, hashed last. */
const XWING_LABEL = Uint8Array.from([0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c]);
/** DER prefix of a PKCS#8 ML-KEM-768 private key in seed form: [0] IMPLICIT OCTET STRING (64). */
const PKCS8_SEED_PREFIX = Uint8Array.from(
  Buffer.from('3054020100300b060960864801650304040204428040', 'hex'),
);
/** DER prefix of an ML-KEM-768 SubjectPublicKeyInfo (OID 2.16.840.1.101.3.4.4.2). */
const SPKI_PREFIX = Uint8Array.from(
  Buffer.from('308204b2300b0609608648016503040402038204a100', 'hex'),
);
/**
 * DER prefix of a PKCS#8 ML-KEM-768 private key in expanded form: OCTET STRING (2,400) — the FIPS 203
 * decapsulation key encoding. Only for the ML-KEM vectors that give expanded keys (nodeMlKem768).
 */
const PKCS8_EXPANDED_PREFIX = Uint8Array.from(
  Buffer.from('30820978020100300b06096086480165030404020482096404820960', 'hex'),
);
const MLKEM_EXPANDED_KEY_BYTES = 2400;
const PUBLIC_KEY_CACHE_ENTRIES = 64;

function nodeKem(): NodeKem | null {
  const c = nodeCrypto as unknown as Partial<NodeKem>;
  return typeof c.encapsulate === 'function' && typeof c.decapsulate === 'function'
    ? (c as NodeKem)
    : null;
}

/** ML-KEM-768 private key object from the 64-byte d ‖ z seed; the DER copy is zeroed. */
function mlkemPrivateKey(x: Pick<NodeXWingX25519, 'memzero'>, dz: Uint8Array): KeyObject {
  const der = new Uint8Array(PKCS8_SEED_PREFIX.length + MLKEM_SEED_BYTES);
  der.set(PKCS8_SEED_PREFIX);
  der.set(dz, PKCS8_SEED_PREFIX.length);
  try {
    return nodeCrypto.createPrivateKey({
      key: Buffer.from(der.buffer),
      format: 'der',
      type: 'pkcs8',
    });
  } finally {
    x.memzero(der);
  }
}

/**
 * ML-KEM-768 encapsulation key object from its 1,184 bytes. OpenSSL refuses a key whose coefficients
 * are not reduced mod q (the FIPS 203 modulus check): CRYPTO_BAD_ARGUMENT.
 */
function mlkemPublicKey(op: string, pkM: Uint8Array): KeyObject {
  const der = new Uint8Array(SPKI_PREFIX.length + MLKEM_PUBLIC_KEY_BYTES);
  der.set(SPKI_PREFIX);
  der.set(pkM, SPKI_PREFIX.length);
  try {
    return nodeCrypto.createPublicKey({
      key: Buffer.from(der.buffer),
      format: 'der',
      type: 'spki',
    });
  } catch (cause) {
    throw new CryptoError('CRYPTO_BAD_ARGUMENT', `${op}: public key refused`, { cause });
  }
}

/** The 1,184-byte encapsulation key of an ML-KEM-768 key object. */
function mlkemEncapsulationKey(key: KeyObject): Uint8Array {
  const spki = nodeCrypto
    .createPublicKey(key)
    .export({ format: 'der', type: 'spki' }) as unknown as Uint8Array;
  return Uint8Array.from(spki.subarray(spki.length - MLKEM_PUBLIC_KEY_BYTES));
}

/** Expanded decapsulation key: the ML-KEM key object, the X25519 scalar and both public parts. */
interface Expanded {
  readonly mlkem: KeyObject;
  readonly skX: Uint8Array;
  readonly publicKey: Uint8Array; // pkM ‖ pkX
}

/** The draft's expandDecapsulationKey: SHAKE256(seed, 96) = d ‖ z ‖ skX. */
function expand(x: NodeXWingX25519, seed: Uint8Array): Expanded {
  const expanded = nodeCrypto.createHash('shake256', { outputLength: 96 }).update(seed).digest();
  try {
    const mlkem = mlkemPrivateKey(x, expanded.subarray(0, MLKEM_SEED_BYTES));
    const skX = Uint8Array.from(expanded.subarray(MLKEM_SEED_BYTES));
    const publicKey = new Uint8Array(XWING_PUBLIC_KEY_BYTES);
    publicKey.set(mlkemEncapsulationKey(mlkem));
    x.scalarMultBase(publicKey.subarray(MLKEM_PUBLIC_KEY_BYTES), skX);
    return { mlkem, skX, publicKey };
  } finally {
    x.memzero(expanded);
  }
}

/** The draft's combiner: SHA3-256(ssM ‖ ssX ‖ ctX ‖ pkX ‖ label). Zeroes the transcript copy. */
function combine(
  x: NodeXWingX25519,
  ssM: Uint8Array,
  ssX: Uint8Array,
  ctX: Uint8Array,
  pkX: Uint8Array,
): Uint8Array {
  const input = new Uint8Array(32 + 32 + 32 + 32 + XWING_LABEL.length);
  input.set(ssM, 0);
  input.set(ssX, 32);
  input.set(ctX, 64);
  input.set(pkX, 96);
  input.set(XWING_LABEL, 128);
  const digest = nodeCrypto.createHash('sha3-256').update(input).digest();
  x.memzero(input);
  const out = Uint8Array.from(digest);
  x.memzero(digest);
  return out;
}

/** X25519 that refuses an all-zero result the way libsodium's X-Wing does (CRYPTO_BAD_ARGUMENT). */
function x25519(
  x: NodeXWingX25519,
  op: string,
  what: string,
  scalar: Uint8Array,
  point: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(X25519_PUBLIC_KEY_BYTES);
  try {
    x.scalarMult(out, scalar, point);
  } catch (cause) {
    throw new CryptoError('CRYPTO_BAD_ARGUMENT', `${op}: ${what} refused`, { cause });
  }
  return out;
}

function decapsulateExpanded(
  x: NodeXWingX25519,
  kem: NodeKem,
  key: Expanded,
  ciphertext: Uint8Array,
): Uint8Array {
  requireLength('xwingDecapsulate', 'ciphertext', ciphertext, XWING_CIPHERTEXT_BYTES);
  const ctX = ciphertext.subarray(MLKEM_CIPHERTEXT_BYTES);
  const ssX = x25519(x, 'xwingDecapsulate', 'ciphertext', key.skX, ctX);
  let ssM: Buffer;
  try {
    ssM = kem.decapsulate(key.mlkem, ciphertext.subarray(0, MLKEM_CIPHERTEXT_BYTES));
  } catch (cause) {
    x.memzero(ssX);
    throw new CryptoError('CRYPTO_BAD_ARGUMENT', 'xwingDecapsulate: ciphertext refused', {
      cause,
    });
  }
  const ss = combine(x, ssM, ssX, ctX, key.publicKey.subarray(MLKEM_PUBLIC_KEY_BYTES));
  x.memzero(ssM);
  x.memzero(ssX);
  return ss;
}

class NodeDecapsulationKey implements XWingDecapsulationKey {
  readonly publicKey: Uint8Array;
  readonly #x: NodeXWingX25519;
  readonly #kem: NodeKem;
  #key: Expanded | null;

  constructor(x: NodeXWingX25519, kem: NodeKem, key: Expanded) {
    this.#x = x;
    this.#kem = kem;
    this.#key = key;
    this.publicKey = Uint8Array.from(key.publicKey);
  }

  decapsulate(ciphertext: Uint8Array): Uint8Array {
    if (this.#key === null)
      throw new CryptoError('CRYPTO_BAD_STATE', 'xwing decapsulate: key destroyed');
    return decapsulateExpanded(this.#x, this.#kem, this.#key, ciphertext);
  }

  destroy(): void {
    // The ML-KEM key lives inside OpenSSL (freed when the KeyObject is collected); the scalar is ours.
    if (this.#key !== null) this.#x.memzero(this.#key.skX);
    this.#key = null;
  }
}

/**
 * X-Wing assembled from node:crypto's ML-KEM-768 (Node ≥ 24.7, OpenSSL 3.5), sodium-native's X25519
 * and node:crypto's SHAKE256 and SHA3-256, exactly as draft-connolly-cfrg-xwing-kem specifies
 * (docs/PQ-NOTES.md). Node exposes no derandomised ML-KEM encapsulation, so the deterministic
 * encapsulation (vectors only) is delegated to `deterministic` (libsodium-wrappers). Parsed recipient
 * public keys are cached (public data, at most 64).
 */
class NodeXWing implements XWingOperations {
  readonly #x: NodeXWingX25519;
  readonly #kem: NodeKem;
  readonly #randomFill: XWingRandomFill;
  readonly #deterministic: XWingOperations | null;
  readonly #publicKeys = new Map<string, KeyObject>();

  constructor(
    x: NodeXWingX25519,
    kem: NodeKem,
    randomFill: XWingRandomFill,
    deterministic: XWingOperations | null,
  ) {
    this.#x = x;
    this.#kem = kem;
    this.#randomFill = randomFill;
    this.#deterministic = deterministic;
  }

  xwingKeyPairFromSeed(seed: Uint8Array): KeyPair {
    requireLength('xwingKeyPairFromSeed', 'seed', seed, XWING_SEED_BYTES);
    const key = expand(this.#x, seed);
    this.#x.memzero(key.skX);
    return { publicKey: key.publicKey, secretKey: Uint8Array.from(seed) };
  }

  xwingDecapsulationKey(seed: Uint8Array): XWingDecapsulationKey {
    requireLength('xwingDecapsulationKey', 'seed', seed, XWING_SEED_BYTES);
    return new NodeDecapsulationKey(this.#x, this.#kem, expand(this.#x, seed));
  }

  xwingEncapsulate(publicKey: Uint8Array): XWingEncapsulation {
    requireLength('xwingEncapsulate', 'publicKey', publicKey, XWING_PUBLIC_KEY_BYTES);
    const x = this.#x;
    const pkX = publicKey.subarray(MLKEM_PUBLIC_KEY_BYTES);
    const ekX = new Uint8Array(X25519_PUBLIC_KEY_BYTES);
    this.#randomFill(ekX);
    try {
      const ssX = x25519(x, 'xwingEncapsulate', 'public key', ekX, pkX);
      const ciphertext = new Uint8Array(XWING_CIPHERTEXT_BYTES);
      const ctX = ciphertext.subarray(MLKEM_CIPHERTEXT_BYTES);
      x.scalarMultBase(ctX, ekX);
      const { sharedKey, ciphertext: ctM } = this.#kem.encapsulate(this.#mlkemPublicKey(publicKey));
      ciphertext.set(ctM);
      const sharedSecret = combine(x, sharedKey, ssX, ctX, pkX);
      x.memzero(sharedKey);
      x.memzero(ssX);
      return { ciphertext, sharedSecret };
    } finally {
      x.memzero(ekX);
    }
  }

  xwingEncapsulateDeterministic(publicKey: Uint8Array, eseed: Uint8Array): XWingEncapsulation {
    if (this.#deterministic === null)
      throw new CryptoError(
        'CRYPTO_PROVIDER_UNAVAILABLE',
        'xwingEncapsulateDeterministic: needs libsodium-wrappers (node:crypto has no derandomised ML-KEM; createCryptoProvider(name, { deterministicXWing: true }))',
      );
    return this.#deterministic.xwingEncapsulateDeterministic(publicKey, eseed);
  }

  xwingDecapsulate(ciphertext: Uint8Array, seed: Uint8Array): Uint8Array {
    requireLength('xwingDecapsulate', 'ciphertext', ciphertext, XWING_CIPHERTEXT_BYTES);
    requireLength('xwingDecapsulate', 'seed', seed, XWING_SEED_BYTES);
    const key = expand(this.#x, seed);
    try {
      return decapsulateExpanded(this.#x, this.#kem, key, ciphertext);
    } finally {
      this.#x.memzero(key.skX);
    }
  }

  #mlkemPublicKey(publicKey: Uint8Array): KeyObject {
    const pkM = publicKey.subarray(0, MLKEM_PUBLIC_KEY_BYTES);
    const id = Buffer.from(pkM.buffer, pkM.byteOffset, pkM.length).toString('base64');
    const cached = this.#publicKeys.get(id);
    if (cached !== undefined) return cached;
    const key = mlkemPublicKey('xwingEncapsulate', pkM);
    if (this.#publicKeys.size >= PUBLIC_KEY_CACHE_ENTRIES) {
      const oldest = this.#publicKeys.keys().next();
      if (oldest.done !== true) this.#publicKeys.delete(oldest.value);
    }
    this.#publicKeys.set(id, key);
    return key;
  }
}

/**
 * True when this Node can run the native path: node:crypto has encapsulate/decapsulate and accepts an
 * ML-KEM-768 private key in seed form (Node ≥ 24.7 with OpenSSL ≥ 3.5).
 */
export function nodeHasMlKem768(): boolean {
  if (nodeKem() === null) return false;
  try {
    const probe = nodeCrypto.createPrivateKey({
      key: Buffer.concat([PKCS8_SEED_PREFIX, new Uint8Array(MLKEM_SEED_BYTES)]),
      format: 'der',
      type: 'pkcs8',
    });
    return (probe.asymmetricKeyType as string | undefined) === 'ml-kem-768';
  } catch {
    return false;
  }
}

/** The native X-Wing operations, or null when this Node has no ML-KEM-768 (see nodeHasMlKem768). */
export function createNodeXWing(
  x: NodeXWingX25519,
  randomFill: XWingRandomFill,
  deterministic: XWingOperations | null,
): XWingOperations | null {
  const kem = nodeKem();
  if (kem === null || !nodeHasMlKem768()) return null;
  return new NodeXWing(x, kem, randomFill, deterministic);
}

/** An ML-KEM-768 decapsulation key held by node:crypto. */
export interface NodeMlKemDecapsulationKey {
  /** 1,088-byte ciphertext → 32-byte shared key (implicit rejection for a modified ciphertext). */
  decapsulate(ciphertext: Uint8Array): Uint8Array;
}

/**
 * node:crypto's ML-KEM-768 (Node ≥ 24.7), the primitive the native X-Wing path is built from, with the
 * same key imports X-Wing uses. Not part of CryptoProvider (sealpost uses ML-KEM only inside X-Wing):
 * exposed so the C2SP CCTV and Wycheproof ML-KEM-768 vectors run against it (docs/PQ-NOTES.md). Node
 * has no derandomised encapsulation, so encapsulation is random.
 */
export interface NodeMlKem768 {
  /** ML-KEM.KeyGen_internal(d, z) from the 64-byte `d ‖ z`: the 1,184-byte encapsulation key. */
  keyPairFromSeed(dz: Uint8Array): {
    readonly encapsulationKey: Uint8Array;
    readonly key: NodeMlKemDecapsulationKey;
  };
  /** From the 2,400-byte FIPS 203 encoding; CRYPTO_BAD_ARGUMENT when OpenSSL refuses it. */
  decapsulationKeyFromExpanded(dk: Uint8Array): NodeMlKemDecapsulationKey;
  /** Random encapsulation; CRYPTO_BAD_ARGUMENT for a key that fails the modulus check. */
  encapsulate(encapsulationKey: Uint8Array): {
    readonly ciphertext: Uint8Array;
    readonly sharedKey: Uint8Array;
  };
}

function decapsulationKeyOf(kem: NodeKem, key: KeyObject): NodeMlKemDecapsulationKey {
  return {
    decapsulate(ciphertext: Uint8Array): Uint8Array {
      requireLength('mlkemDecapsulate', 'ciphertext', ciphertext, MLKEM_CIPHERTEXT_BYTES);
      return Uint8Array.from(kem.decapsulate(key, ciphertext));
    },
  };
}

/** node:crypto's ML-KEM-768, or null when this Node has none (see nodeHasMlKem768). */
export function nodeMlKem768(x: Pick<NodeXWingX25519, 'memzero'>): NodeMlKem768 | null {
  const kem = nodeKem();
  if (kem === null || !nodeHasMlKem768()) return null;
  return {
    keyPairFromSeed(dz) {
      requireLength('mlkemKeyPairFromSeed', 'seed', dz, MLKEM_SEED_BYTES);
      const key = mlkemPrivateKey(x, dz);
      return { encapsulationKey: mlkemEncapsulationKey(key), key: decapsulationKeyOf(kem, key) };
    },
    decapsulationKeyFromExpanded(dk) {
      requireLength('mlkemDecapsulationKey', 'dk', dk, MLKEM_EXPANDED_KEY_BYTES);
      const der = new Uint8Array(PKCS8_EXPANDED_PREFIX.length + MLKEM_EXPANDED_KEY_BYTES);
      der.set(PKCS8_EXPANDED_PREFIX);
      der.set(dk, PKCS8_EXPANDED_PREFIX.length);
      try {
        const key = nodeCrypto.createPrivateKey({
          key: Buffer.from(der.buffer),
          format: 'der',
          type: 'pkcs8',
        });
        return decapsulationKeyOf(kem, key);
      } catch (cause) {
        // OpenSSL checks the embedded H(ek) and the coefficient ranges of an expanded key.
        throw new CryptoError('CRYPTO_BAD_ARGUMENT', 'mlkemDecapsulationKey: dk refused', {
          cause,
        });
      } finally {
        x.memzero(der);
      }
    },
    encapsulate(encapsulationKey) {
      requireLength(
        'mlkemEncapsulate',
        'encapsulationKey',
        encapsulationKey,
        MLKEM_PUBLIC_KEY_BYTES,
      );
      const r = kem.encapsulate(mlkemPublicKey('mlkemEncapsulate', encapsulationKey));
      return { ciphertext: Uint8Array.from(r.ciphertext), sharedKey: Uint8Array.from(r.sharedKey) };
    },
  };
}
