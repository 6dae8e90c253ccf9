/**
 * Record keys and hex ids (src/pipeline/producer/record-key.ts): `hex` gives Node's lowercase hex for
 * on-heap arrays (message ids), views into a larger buffer, the empty array and lengths past its
 * scratch; `toKeyBuffer` takes each RecordKey form and refuses anything else with MESSAGE_INVALID.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hex, toKeyBuffer } from '../../../../src/pipeline/producer/record-key.js';

const nodeHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('hex', () => {
  it('matches Buffer hex for every length from 0 to 40 bytes, on-heap arrays and views', () => {
    for (let n = 0; n <= 40; n++) {
      const onHeap = new Uint8Array(randomBytes(n));
      expect(hex(onHeap)).toBe(nodeHex(onHeap));
      const view = randomBytes(n + 7).subarray(3, 3 + n);
      expect(hex(view)).toBe(nodeHex(view));
    }
  });

  it('covers every byte value and gives independent strings call after call', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(hex(all)).toBe(nodeHex(all));
    const first = hex(Uint8Array.of(0x00, 0xff));
    const second = hex(Uint8Array.of(0xab, 0x01));
    expect([first, second]).toEqual(['00ff', 'ab01']);
  });
});

describe('toKeyBuffer', () => {
  it('takes null, strings, Buffers and Uint8Array views without copying the view', () => {
    expect(toKeyBuffer(null)).toBeNull();
    expect(toKeyBuffer('k-é')).toEqual(Buffer.from('k-é', 'utf8'));
    const buf = Buffer.from('abc');
    expect(toKeyBuffer(buf)).toBe(buf);
    const backing = new Uint8Array([1, 2, 3, 4]);
    const key = toKeyBuffer(backing.subarray(1, 3))!;
    expect([...key]).toEqual([2, 3]);
    backing[1] = 9;
    expect(key[0]).toBe(9);
  });

  it('refuses other values with MESSAGE_INVALID', () => {
    let caught: unknown;
    try {
      toKeyBuffer(42 as unknown as string);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'MESSAGE_INVALID' });
  });
});
