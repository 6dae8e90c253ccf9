import type { CryptoProvider } from '../../crypto/provider.js';

/**
 * Checks on public keys published in the directory, done once when a record is accepted (not on the
 * message path). Pure BigInt arithmetic for Ed25519 so they do not depend on a provider exposing
 * crypto_core_ed25519_is_valid_point.
 */

const P = (1n << 255n) - 19n;
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);
/** Order of the prime-order subgroup. */
const L = (1n << 252n) + 27742317777372353535851937790883648493n;

function mod(a: bigint): bigint {
  const r = a % P;
  return r >= 0n ? r : r + P;
}
function pow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}
function inv(a: bigint): bigint {
  return pow(a, P - 2n);
}

function leToBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/** Extended twisted Edwards coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z. */
type Point = readonly [bigint, bigint, bigint, bigint];
const IDENTITY: Point = [0n, 1n, 1n, 0n];

function add(p: Point, q: Point): Point {
  const [x1, y1, z1, t1] = p;
  const [x2, y2, z2, t2] = q;
  const a = mod((y1 - x1) * (y2 - x2));
  const b = mod((y1 + x1) * (y2 + x2));
  const c = mod(2n * D * t1 * t2);
  const d = mod(2n * z1 * z2);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

function multiply(p: Point, scalar: bigint): Point {
  let result = IDENTITY;
  let addend = p;
  let k = scalar;
  while (k > 0n) {
    if (k & 1n) result = add(result, addend);
    addend = add(addend, addend);
    k >>= 1n;
  }
  return result;
}

function isIdentity(p: Point): boolean {
  const [x, y, z] = p;
  return mod(x) === 0n && mod(y - z) === 0n;
}

/**
 * True iff `publicKey` is a canonical encoding of a point on edwards25519 that is not of small order
 * and lies in the prime-order subgroup — the checks of libsodium's crypto_core_ed25519_is_valid_point.
 */
export function isValidEd25519PublicKey(publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32) return false;
  const sign = (publicKey[31]! & 0x80) !== 0;
  const yBytes = Uint8Array.from(publicKey);
  yBytes[31] = yBytes[31]! & 0x7f;
  const y = leToBigInt(yBytes);
  if (y >= P) return false; // non-canonical y
  const y2 = mod(y * y);
  const u = mod(y2 - 1n);
  const v = mod(D * y2 + 1n);
  // x = sqrt(u/v) by the RFC 8032 method.
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 !== u) {
    if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
    else return false; // not on the curve
  }
  if (x === 0n && sign) return false; // non-canonical encoding of x = 0
  if ((x & 1n) !== (sign ? 1n : 0n)) x = mod(-x);
  const point: Point = [x, y, 1n, mod(x * y)];
  if (isIdentity(multiply(point, 8n))) return false; // small order
  return isIdentity(multiply(point, L)); // prime-order subgroup only
}

/** A fixed clamped-anyway scalar: X25519 with any scalar maps a low-order point to all zeros. */
const PROBE_SCALAR = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 7) & 0xff);

/** Encodings of the low-order points of Curve25519 (libsodium's blocklist), canonical or not. */
const LOW_ORDER_X25519 = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((h) => Buffer.from(h, 'hex'));

/**
 * True iff `publicKey` is a usable X25519 public key: 32 bytes, canonical (< p, top bit clear), not
 * in the low-order blocklist, and X25519 with a fixed scalar does not yield all zeros.
 */
export function isValidX25519PublicKey(crypto: CryptoProvider, publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32) return false;
  if ((publicKey[31]! & 0x80) !== 0) return false;
  if (leToBigInt(publicKey) >= P) return false;
  // Compare with the top bit masked, as libsodium does.
  const masked = Uint8Array.from(publicKey);
  masked[31] = masked[31]! & 0x7f;
  if (LOW_ORDER_X25519.some((b) => Buffer.compare(b, masked) === 0)) return false;
  const shared = crypto.scalarMult(PROBE_SCALAR, publicKey);
  if (shared === null) return false;
  const allZero = shared.every((b) => b === 0);
  crypto.memzero(shared);
  return !allZero;
}
