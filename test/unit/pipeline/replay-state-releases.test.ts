import { describe, expect, it } from 'vitest';
import { ReplayWindow } from '../../../src/envelope/replay-window.js';
import {
  decodeStatePlaintext,
  encodeStatePlaintext,
} from '../../../src/pipeline/replay-state-store.js';
import { pruneReleases } from '../../../src/pipeline/consumer/release-dedupe.js';

const windows = () => new Map([['a.b.t.0', new ReplayWindow(5)]]);
const ids = new Map([
  ['11'.repeat(16), 1_000],
  ['22'.repeat(16), 2_000],
]);

describe('accepted release ids in the replay state (docs/SPEC.md §11.3)', () => {
  it('round-trip with and without a hand-out mark; a state without them keeps its bytes', () => {
    for (const mark of [null, 77n]) {
      const without = encodeStatePlaintext(3, 10n, windows(), new Map(), mark);
      const withIds = encodeStatePlaintext(3, 10n, windows(), new Map(), mark, ids);
      expect(withIds.length).toBe(without.length + 5 + 2 * 24);
      expect(Buffer.from(withIds.subarray(0, without.length))).toEqual(Buffer.from(without));
      const back = decodeStatePlaintext(withIds);
      expect(back.handOutMark).toBe(mark);
      expect(back.releases).toEqual(ids);
      expect(decodeStatePlaintext(without).releases).toBeUndefined();
      expect(encodeStatePlaintext(3, 10n, windows(), new Map(), mark, new Map())).toEqual(without);
    }
  });

  it('refuses a truncated, padded or duplicated block', () => {
    const bytes = encodeStatePlaintext(3, 10n, windows(), new Map(), 77n, ids);
    const refused = (b: Uint8Array) => expect(() => decodeStatePlaintext(b)).toThrow(/malformed/);
    refused(bytes.subarray(0, bytes.length - 1));
    refused(new Uint8Array([...bytes, 0]));
    const dup = Uint8Array.from(bytes);
    dup.set(dup.subarray(dup.length - 48, dup.length - 24), dup.length - 24);
    refused(dup);
    const zero = Uint8Array.from(bytes);
    new DataView(zero.buffer).setUint32(zero.length - 48 - 4, 0);
    refused(zero);
  });

  it('drops expired entries only', () => {
    const set = new Map(ids);
    pruneReleases(set, 1_500);
    expect([...set.keys()]).toEqual(['22'.repeat(16)]);
  });
});
