/**
 * Byte helpers for the canonical encodings signed in keys/ (labels, big-endian integers,
 * length-prefixed strings). Every length is checked before it is written.
 */
import { KeyError } from './key-error.js';

/** `L(x)`: one definition for the whole protocol (docs/SPEC.md §1.1). */
export { label } from '../envelope/labels.js';

const encoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Appends big-endian integers and byte strings; `finish()` returns one contiguous buffer. */
export class ByteWriter {
  readonly #parts: Uint8Array[] = [];
  #length = 0;

  bytes(b: Uint8Array): this {
    this.#parts.push(b);
    this.#length += b.length;
    return this;
  }
  u8(n: number): this {
    this.#checkInt(n, 0xff);
    return this.bytes(Uint8Array.of(n));
  }
  u16(n: number): this {
    this.#checkInt(n, 0xffff);
    return this.bytes(Uint8Array.of(n >>> 8, n & 0xff));
  }
  u32(n: number): this {
    this.#checkInt(n, 0xffffffff);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    return this.bytes(b);
  }
  u64(n: number): this {
    this.#checkInt(n, Number.MAX_SAFE_INTEGER);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n));
    return this.bytes(b);
  }
  /** u16 length then the UTF-8 bytes. */
  str16(s: string): this {
    const b = utf8(s);
    this.#checkInt(b.length, 0xffff);
    return this.u16(b.length).bytes(b);
  }
  /** Fixed-size field: refuses any other length. */
  fixed(b: Uint8Array, size: number): this {
    if (b.length !== size)
      throw new KeyError('KEY_BAD_LENGTH', `expected ${size} bytes, got ${b.length}`);
    return this.bytes(b);
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let off = 0;
    for (const p of this.#parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
  #checkInt(n: number, max: number): void {
    if (!Number.isInteger(n) || n < 0 || n > max) {
      throw new KeyError('KEY_BAD_LENGTH', `integer out of range 0..${max}`);
    }
  }
}

/** Standard base64 of bytes. */
export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');
}

/** Strict base64 decode with an expected length; throws KEY_BAD_ENCODING on anything else. */
export function fromBase64(s: string, expectedLength?: number): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) {
    throw new KeyError('KEY_BAD_ENCODING', 'not canonical base64');
  }
  const b = new Uint8Array(Buffer.from(s, 'base64'));
  if (toBase64(b) !== s) throw new KeyError('KEY_BAD_ENCODING', 'not canonical base64');
  if (expectedLength !== undefined && b.length !== expectedLength) {
    throw new KeyError('KEY_BAD_LENGTH', `expected ${expectedLength} bytes, got ${b.length}`);
  }
  return b;
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Hex digits of short ids and digests, written here and read back as one flat string. */
const HEX_SCRATCH = Buffer.alloc(64);

/**
 * Lower-case hex. Ids and digests (up to 32 bytes) are written digit by digit into a scratch buffer,
 * never through `b.buffer`: a small Uint8Array (a message id) lives on the V8 heap, and asking for its
 * ArrayBuffer moves it off the heap, which cost more than the conversion itself (docs/PERFORMANCE.md
 * "Issue 18, third round").
 */
export function toHex(b: Uint8Array): string {
  const n = b.length;
  if (n * 2 > HEX_SCRATCH.length) return Buffer.from(b.buffer, b.byteOffset, n).toString('hex');
  for (let i = 0; i < n; i++) {
    const v = b[i]!;
    HEX_SCRATCH[2 * i] = HEX_DIGITS[v >> 4]!;
    HEX_SCRATCH[2 * i + 1] = HEX_DIGITS[v & 15]!;
  }
  return HEX_SCRATCH.toString('latin1', 0, 2 * n);
}

/** Strict lower-case hex decode with an expected length. */
export function fromHex(s: string, expectedLength: number): Uint8Array {
  if (s.length !== expectedLength * 2 || !/^[0-9a-f]*$/.test(s)) {
    throw new KeyError(
      'KEY_BAD_ENCODING',
      `expected ${expectedLength * 2} lower-case hex characters`,
    );
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}
