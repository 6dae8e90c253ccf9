/** Big-endian integer helpers. u64 values are limited to < 2^53 (exact JavaScript numbers). */

export function writeU16(buf: Uint8Array, off: number, v: number): number {
  buf[off] = (v >>> 8) & 0xff;
  buf[off + 1] = v & 0xff;
  return off + 2;
}

export function writeU32(buf: Uint8Array, off: number, v: number): number {
  buf[off] = (v >>> 24) & 0xff;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
  return off + 4;
}

export function writeU64(buf: Uint8Array, off: number, v: number): number {
  writeU32(buf, off, Math.floor(v / 0x1_0000_0000));
  writeU32(buf, off + 4, v >>> 0);
  return off + 8;
}

export function readU16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/** Reads a u64; returns -1 when it is ≥ 2^53 (callers reject it). */
export function readU64(buf: Uint8Array, off: number): number {
  const hi = readU32(buf, off);
  if (hi >= 0x20_0000) return -1;
  return hi * 0x1_0000_0000 + readU32(buf, off + 4);
}

/** True when `v` is an integer in [0, 2^53). */
export function isU53(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

/** True when `v` is an integer in [0, 2^32). */
export function isU32(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
}

/**
 * Equality of two public byte strings (kids, namespaces, header bytes): returns at the first
 * difference, so never for secrets or MACs.
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Equality of two MACs in constant time (docs/SPEC.md §5 step 6): no early exit, every byte pair is
 * read and the differences OR-ed, so the time depends only on the lengths (which are public). In
 * JavaScript rather than the provider's sodium_memcmp: for a 16-byte tag the native call costs about
 * ten times the loop.
 */
export function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * A copy of `b` (or of `b[start, end)`) as a plain Uint8Array. Not `b.slice()`: on a Buffer that is a
 * view, and inputs here may be Buffers (Kafka values, provider outputs, caller keys).
 */
export function copyBytes(b: Uint8Array, start = 0, end = b.length): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(b.subarray(start, end));
  return out;
}
