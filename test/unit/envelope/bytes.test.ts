import { describe, expect, it } from 'vitest';
import { equalBytes, equalConstantTime } from '../../../src/envelope/bytes.js';

describe('byte comparisons', () => {
  const a = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
  const variants = (): Uint8Array[] => [
    Uint8Array.from(a, (x, i) => (i === 0 ? x ^ 1 : x)),
    Uint8Array.from(a, (x, i) => (i === 15 ? x ^ 0x80 : x)),
    Uint8Array.from(a, (x, i) => (i === 7 ? x ^ 0xff : x)),
    a.subarray(0, 15),
    Uint8Array.of(...a, 0),
    new Uint8Array(0),
  ];

  it.each([
    ['equalConstantTime', equalConstantTime],
    ['equalBytes', equalBytes],
  ])(
    '%s: equal contents (also across a Buffer and a view), any difference or length refused',
    (_, eq) => {
      expect(eq(a, Uint8Array.from(a))).toBe(true);
      expect(eq(a, Buffer.from(a))).toBe(true);
      const wide = new Uint8Array(40);
      wide.set(a, 9);
      expect(eq(wide.subarray(9, 25), a)).toBe(true);
      expect(eq(new Uint8Array(0), new Uint8Array(0))).toBe(true);
      expect(variants().map((v) => [eq(a, v), eq(v, a)])).toEqual(
        variants().map(() => [false, false]),
      );
    },
  );
});
