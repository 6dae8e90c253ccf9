/**
 * The token construction (docs/SPEC.md §Tokenization). Pure: keys in, bytes out, no I/O.
 *
 * Per (class, version) a 32-byte class key K; subkeys `kSiv = KDF(K, 1)`, `kEnc = KDF(K, 2)`,
 * `kMask = KDF(K, 3)` with context "spost-tk". With `ctx = u8 |class| ‖ class ‖ u32 version ‖ u8 type`
 * (type 1 = string, 2 = bytes):
 * - deterministic: `siv = BLAKE2b-192(key kSiv, L(token-siv) ‖ ctx ‖ u32 |v| ‖ v)`;
 *   `ct = XChaCha20-Poly1305(kEnc, nonce = siv, v, aad = L(token-aad) ‖ ctx)`; token bytes `siv ‖ ct`.
 *   Opening decrypts and then recomputes the siv over the plaintext (constant-time compare): the
 *   SIV check, so only bytes made by `seal` with this key are accepted.
 * - mask: `BLAKE2b-256(key kMask, L(token-mask) ‖ ctx ‖ u32 |v| ‖ v)` — one-way.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { AEAD_TAG_BYTES } from '../crypto/provider.js';
import { TokenizeError } from './tokenize-error.js';

/** Which Avro type the tokenized value had (bound into the token). */
export type TokenValueType = 'string' | 'bytes';

export const TOKEN_CLASS_KEY_BYTES = 32;
export const TOKEN_SIV_BYTES = 24;
export const TOKEN_MASK_BYTES = 32;
/** Largest value (UTF-8 bytes for strings) that is tokenized; longer values are refused. */
export const MAX_TOKENIZED_VALUE_BYTES = 65_536;
const KDF_CONTEXT = 'spost-tk';
const TYPE_CODE: Record<TokenValueType, number> = { string: 1, bytes: 2 };

const encoder = new TextEncoder();
const lbl = (x: string): Uint8Array => encoder.encode(`sealpost/v1/${x}\0`);
const SIV_LABEL = lbl('token-siv');
const AAD_LABEL = lbl('token-aad');
const MASK_LABEL = lbl('token-mask');
const CHECK_LABEL = lbl('token-key-check');

function context(tokenClass: string, version: number, type: TokenValueType): Uint8Array {
  const c = encoder.encode(tokenClass);
  if (c.length < 1 || c.length > 255)
    throw new TokenizeError('TOKEN_VALUE_INVALID', 'token class length out of range');
  if (!Number.isInteger(version) || version < 1 || version > 0x7fffffff)
    throw new TokenizeError('TOKEN_VALUE_INVALID', 'token version out of range');
  const out = new Uint8Array(1 + c.length + 4 + 1);
  out[0] = c.length;
  out.set(c, 1);
  new DataView(out.buffer).setUint32(1 + c.length, version);
  out[out.length - 1] = TYPE_CODE[type];
  return out;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/** The subkeys of one class key version. Zero them with `zero()`. */
export class TokenClassKey {
  readonly tokenClass: string;
  readonly version: number;
  readonly #siv: Uint8Array;
  readonly #enc: Uint8Array;
  readonly #mask: Uint8Array;
  readonly #crypto: CryptoProvider;

  /** Derives the subkeys; does not keep or modify `classKey` (the caller zeroes it). */
  constructor(crypto: CryptoProvider, tokenClass: string, version: number, classKey: Uint8Array) {
    if (classKey.length !== TOKEN_CLASS_KEY_BYTES)
      throw new TokenizeError(
        'TOKEN_KEY_FILE_INVALID',
        `a token class key must be ${TOKEN_CLASS_KEY_BYTES} bytes`,
      );
    this.#crypto = crypto;
    this.tokenClass = tokenClass;
    this.version = version;
    this.#siv = new Uint8Array(32);
    this.#enc = new Uint8Array(32);
    this.#mask = new Uint8Array(32);
    crypto.kdfDerive(this.#siv, 1, KDF_CONTEXT, classKey);
    crypto.kdfDerive(this.#enc, 2, KDF_CONTEXT, classKey);
    crypto.kdfDerive(this.#mask, 3, KDF_CONTEXT, classKey);
  }

  #keyed(
    out: Uint8Array,
    key: Uint8Array,
    label: Uint8Array,
    ctx: Uint8Array,
    value: Uint8Array,
  ): void {
    // Incremental hashing: the plaintext is never copied into a transcript buffer.
    const h = this.#crypto.createHash(out.length, key);
    h.update(label);
    h.update(ctx);
    h.update(u32(value.length));
    h.update(value);
    h.final(out);
  }

  /** Deterministic token bytes `siv ‖ ct` for `value`. */
  seal(value: Uint8Array, type: TokenValueType): Uint8Array {
    checkValueLength(value);
    const ctx = context(this.tokenClass, this.version, type);
    const out = new Uint8Array(TOKEN_SIV_BYTES + value.length + AEAD_TAG_BYTES);
    const siv = out.subarray(0, TOKEN_SIV_BYTES);
    this.#keyed(siv, this.#siv, SIV_LABEL, ctx, value);
    this.#crypto.aeadEncrypt(
      out.subarray(TOKEN_SIV_BYTES),
      value,
      concat(AAD_LABEL, ctx),
      siv,
      this.#enc,
    );
    return out;
  }

  /** Opens token bytes; throws TOKEN_INVALID unless they authenticate and the SIV matches. */
  open(token: Uint8Array, type: TokenValueType): Uint8Array {
    if (
      token.length < TOKEN_SIV_BYTES + AEAD_TAG_BYTES ||
      token.length > TOKEN_SIV_BYTES + AEAD_TAG_BYTES + MAX_TOKENIZED_VALUE_BYTES
    ) {
      throw new TokenizeError('TOKEN_MALFORMED', 'token length out of range');
    }
    const ctx = context(this.tokenClass, this.version, type);
    const siv = token.subarray(0, TOKEN_SIV_BYTES);
    const ct = token.subarray(TOKEN_SIV_BYTES);
    const plain = new Uint8Array(ct.length - AEAD_TAG_BYTES);
    if (!this.#crypto.aeadDecrypt(plain, ct, concat(AAD_LABEL, ctx), siv, this.#enc)) {
      throw new TokenizeError(
        'TOKEN_INVALID',
        'the token does not authenticate under its class key',
      );
    }
    const expected = new Uint8Array(TOKEN_SIV_BYTES);
    this.#keyed(expected, this.#siv, SIV_LABEL, ctx, plain);
    if (!this.#crypto.equalConstantTime(expected, siv)) {
      this.#crypto.memzero(plain);
      throw new TokenizeError(
        'TOKEN_INVALID',
        'the token does not authenticate under its class key',
      );
    }
    return plain;
  }

  /** One-way mask of `value`. */
  mask(value: Uint8Array, type: TokenValueType): Uint8Array {
    checkValueLength(value);
    const out = new Uint8Array(TOKEN_MASK_BYTES);
    this.#keyed(out, this.#mask, MASK_LABEL, context(this.tokenClass, this.version, type), value);
    return out;
  }

  zero(): void {
    this.#crypto.memzero(this.#siv);
    this.#crypto.memzero(this.#enc);
    this.#crypto.memzero(this.#mask);
  }
}

/**
 * Key check value stored beside a wrapped class key: `H16(L(token-key-check) ‖ ctx-less class ‖ u32
 * version ‖ K)`. It binds a wrapped key to its (class, version), so a key moved to another slot of
 * the file is refused at load; it reveals nothing usable about K (a keyed-preimage of BLAKE2b).
 */
export function classKeyCheck(
  crypto: CryptoProvider,
  tokenClass: string,
  version: number,
  classKey: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(16);
  const h = crypto.createHash(16);
  h.update(CHECK_LABEL);
  h.update(context(tokenClass, version, 'bytes').subarray(0, -1));
  h.update(classKey);
  h.final(out);
  return out;
}

function checkValueLength(value: Uint8Array): void {
  if (value.length > MAX_TOKENIZED_VALUE_BYTES) {
    throw new TokenizeError(
      'TOKEN_VALUE_INVALID',
      `a tokenized value may have at most ${MAX_TOKENIZED_VALUE_BYTES} bytes`,
    );
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
