import type { CryptoProvider } from '../crypto/provider.js';
import {
  ED25519_SECRET_KEY_BYTES,
  X25519_SECRET_KEY_BYTES,
  XWING_SEED_BYTES,
} from '../crypto/provider.js';
import { toHex } from './bytes.js';
import { KeyError } from './key-error.js';

/** Identity names: lower-case, 1..63 characters, starting with a letter or digit. */
export const IDENTITY_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Throws KEY_IDENTITY_NAME_INVALID unless `name` matches IDENTITY_NAME_PATTERN. */
export function assertIdentityName(name: string): void {
  if (!IDENTITY_NAME_PATTERN.test(name)) {
    throw new KeyError(
      'KEY_IDENTITY_NAME_INVALID',
      'identity name must match [a-z0-9][a-z0-9._-]{0,62}',
    );
  }
}

/**
 * Lifecycle of one key generation in an identity file: `active` (sealed to, signs), `retiring`
 * (still opens and is still accepted as a sender until retiredAt + skew, no longer sealed to),
 * `destroyed` (private keys removed from the file: crypto-shredded).
 */
export type KeyGenerationState = 'active' | 'retiring' | 'destroyed';

/** An unwrapped keypair in memory. `secretKey` is zeroed by LoadedIdentity.close(). */
export interface UnwrappedKeyPair {
  readonly kid: Uint8Array;
  readonly publicKey: Uint8Array;
  /**
   * X25519: 32-byte scalar. Ed25519: 64 bytes (seed ‖ public key, libsodium layout). X-Wing: the
   * 32-byte seed (the decapsulation key; docs/PQ-NOTES.md).
   */
  readonly secretKey: Uint8Array;
}

/** One generation's keys in memory (destroyed generations are never loaded). */
export interface LoadedKeyGeneration {
  readonly generation: number;
  readonly state: 'active' | 'retiring';
  readonly createdAtMs: number;
  readonly retiredAtMs: number | null;
  /** X25519: opens sealed boxes addressed to this identity. */
  readonly box: UnwrappedKeyPair;
  /** Ed25519: signs session headers. */
  readonly sign: UnwrappedKeyPair;
  /**
   * X-Wing (suite 2): opens hybrid post-quantum slots addressed to this identity; `publicKey` is
   * 1,216 bytes. Absent for generations created without one (suite 1 only).
   */
  readonly kem?: UnwrappedKeyPair;
}

/**
 * An identity's private keys in memory, unwrapped once at start-up (one KMS unwrap per key). The KMS
 * is never consulted again: sealing and opening go on if the KMS goes away. `close()` zeros every
 * secret key; any use after that throws KEY_CLOSED.
 */
export class LoadedIdentity {
  readonly name: string;
  readonly kind: 'service' | 'authority';
  readonly #crypto: CryptoProvider;
  #generations: readonly LoadedKeyGeneration[];
  #closed = false;
  #revision = 0;

  constructor(
    name: string,
    kind: 'service' | 'authority',
    generations: readonly LoadedKeyGeneration[],
    crypto: CryptoProvider,
  ) {
    assertIdentityName(name);
    for (const g of generations) {
      if (
        g.box.secretKey.length !== X25519_SECRET_KEY_BYTES ||
        g.sign.secretKey.length !== ED25519_SECRET_KEY_BYTES ||
        (g.kem !== undefined && g.kem.secretKey.length !== XWING_SEED_BYTES)
      ) {
        throw new KeyError('KEY_BAD_LENGTH', 'secret key has the wrong length');
      }
    }
    if (generations.filter((g) => g.state === 'active').length !== 1) {
      throw new KeyError(
        'KEY_STATE_INVALID',
        `identity ${name} must have exactly one active key generation`,
      );
    }
    this.name = name;
    this.kind = kind;
    this.#generations = [...generations].sort((a, b) => b.generation - a.generation);
    this.#crypto = crypto;
  }

  /** All loaded generations, newest first. */
  generations(): readonly LoadedKeyGeneration[] {
    this.#assertOpen();
    return this.#generations;
  }

  /** The active generation: its box key is the one peers seal to, its signing key signs. */
  active(): LoadedKeyGeneration {
    this.#assertOpen();
    const g = this.#generations.find((x) => x.state === 'active');
    if (g === undefined)
      throw new KeyError('KEY_STATE_INVALID', `identity ${this.name} has no active key`);
    return g;
  }

  /** The Ed25519 keypair to sign with (the active generation's). */
  signingKey(): UnwrappedKeyPair {
    return this.active().sign;
  }

  /** Box keypairs that may open (active and retiring, newest first) — the recipient side's slots. */
  openingKeys(): readonly UnwrappedKeyPair[] {
    this.#assertOpen();
    return this.#generations.map((g) => g.box);
  }

  /** X-Wing keypairs that may open suite-2 slots (active and retiring generations that have one, newest first). */
  openingKemKeys(): readonly UnwrappedKeyPair[] {
    this.#assertOpen();
    return this.#generations.flatMap((g) => (g.kem === undefined ? [] : [g.kem]));
  }

  /** True when the active generation has an X-Wing key pair (peers can seal suite 2 to it). */
  hasActiveKem(): boolean {
    return this.active().kem !== undefined;
  }

  /** Finds an opening box key by kid (constant time per comparison); undefined if none. */
  boxKeyByKid(kid: Uint8Array): UnwrappedKeyPair | undefined {
    this.#assertOpen();
    return this.#generations.find((g) => this.#crypto.equalConstantTime(g.box.kid, kid))?.box;
  }

  /** Hex kids of the loaded keys, for logs and listings (public values only). */
  describe(): {
    name: string;
    generations: {
      generation: number;
      state: string;
      boxKid: string;
      signKid: string;
      kemKid?: string;
    }[];
  } {
    this.#assertOpen();
    return {
      name: this.name,
      generations: this.#generations.map((g) => ({
        generation: g.generation,
        state: g.state,
        boxKid: toHex(g.box.kid),
        signKid: toHex(g.sign.kid),
        ...(g.kem === undefined ? {} : { kemKid: toHex(g.kem.kid) }),
      })),
    };
  }

  /**
   * Takes the key generations of `next` (the same identity, loaded again from its source after a
   * rotation) as this identity's own, in place, so that every holder of this object sees the new keys
   * at once. Generations held before keep their key objects (openers that hold them stay valid) with
   * the state `next` gives them; generations `next` no longer has are zeroed; `next` is closed.
   * Returns the hex box kids that were added.
   */
  adopt(next: LoadedIdentity): { readonly addedBoxKids: readonly string[] } {
    this.#assertOpen();
    next.#assertOpen();
    if (next === this) return { addedBoxKids: [] };
    if (next.name !== this.name || next.kind !== this.kind)
      throw new KeyError('KEY_MISMATCH', `identity ${next.name} cannot replace ${this.name}`);
    const same = (a: LoadedKeyGeneration, b: LoadedKeyGeneration): boolean =>
      a.generation === b.generation &&
      this.#crypto.equalConstantTime(a.box.kid, b.box.kid) &&
      this.#crypto.equalConstantTime(a.sign.kid, b.sign.kid) &&
      (a.kem === undefined) === (b.kem === undefined) &&
      (a.kem === undefined || this.#crypto.equalConstantTime(a.kem.kid, b.kem!.kid));
    const merged: LoadedKeyGeneration[] = [];
    const addedBoxKids: string[] = [];
    for (const g of next.#generations) {
      const held = this.#generations.find((h) => same(h, g));
      if (held === undefined) {
        merged.push(g);
        addedBoxKids.push(toHex(g.box.kid));
        continue;
      }
      // Keep our key objects; the copies just unwrapped are not needed.
      this.#zero(g);
      merged.push({ ...held, state: g.state, retiredAtMs: g.retiredAtMs });
    }
    for (const h of this.#generations) {
      if (merged.some((m) => m.box === h.box)) continue;
      this.#zero(h);
    }
    this.#generations = merged.sort((a, b) => b.generation - a.generation);
    next.#generations = [];
    next.#closed = true;
    this.#revision += 1;
    return { addedBoxKids };
  }

  /** Incremented by each {@link adopt}: holders that cache derived key lists compare it. */
  get revision(): number {
    return this.#revision;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Zeros every secret key. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const g of this.#generations) this.#zero(g);
    this.#generations = [];
  }

  /** Zeros a generation's secret keys (X25519, Ed25519 and the X-Wing seed). */
  #zero(g: LoadedKeyGeneration): void {
    this.#crypto.memzero(g.box.secretKey);
    this.#crypto.memzero(g.sign.secretKey);
    if (g.kem !== undefined) this.#crypto.memzero(g.kem.secretKey);
  }

  #assertOpen(): void {
    if (this.#closed) throw new KeyError('KEY_CLOSED', `identity ${this.name} is closed`);
  }

  /** Never print keys, even by accident. */
  toJSON(): unknown {
    return { name: this.name, kind: this.kind, closed: this.#closed };
  }
}
