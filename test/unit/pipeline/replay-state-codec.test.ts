import { describe, expect, it } from 'vitest';
import { ReplayWindow } from '../../../src/envelope/replay-window.js';
import { PipelineError } from '../../../src/pipeline/pipeline-error.js';
import {
  decodeStatePlaintext,
  encodeStatePlaintext,
  parseStatePointer,
} from '../../../src/pipeline/replay-state-store.js';

function windows(): Map<string, ReplayWindow> {
  const a = new ReplayWindow(1000);
  for (const s of [0, 1, 2, 5, 900]) a.mark(s, 2000);
  const b = new ReplayWindow(0);
  b.mark(3, 5);
  b.shrink();
  return new Map([
    ['aa.bb.topic.0', a],
    ['cc.dd.topic.0', b],
  ]);
}

const refused = (f: () => unknown): void => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe('REPLAY_STATE_MISMATCH');
    return;
  }
  throw new Error('expected REPLAY_STATE_MISMATCH');
};

describe('replay state plaintext', () => {
  it('round-trips generation, offset and windows exactly', () => {
    const versions = new Map([
      ['11'.repeat(32), 3],
      ['22'.repeat(32), 2 ** 40],
    ]);
    const bytes = encodeStatePlaintext(42, 123_456_789_012n, windows(), versions);
    const back = decodeStatePlaintext(bytes);
    expect(back.entityVersions).toEqual(versions);
    expect(back.generation).toBe(42);
    expect(back.nextOffset).toBe(123_456_789_012n);
    expect([...back.windows.keys()]).toEqual(['aa.bb.topic.0', 'cc.dd.topic.0']);
    const a = back.windows.get('aa.bb.topic.0')!;
    expect([0, 1, 2, 5, 900].map((s) => a.check(s))).toEqual(Array(5).fill('duplicate'));
    expect(a.check(3)).toBe('fresh');
    expect(back.windows.get('cc.dd.topic.0')!.check(1)).toBe('duplicate');
    expect(
      encodeStatePlaintext(back.generation, back.nextOffset, back.windows, back.entityVersions),
    ).toEqual(bytes);
  });

  it('carries the optional hand-out mark; records without it decode with the mark unknown', () => {
    const withMark = encodeStatePlaintext(
      7,
      100n,
      windows(),
      new Map([['11'.repeat(32), 1]]),
      1100n,
    );
    const back = decodeStatePlaintext(withMark);
    expect(back.handOutMark).toBe(1100n);
    expect(back.nextOffset).toBe(100n);
    expect(back.entityVersions.size).toBe(1);
    expect(
      encodeStatePlaintext(
        back.generation,
        back.nextOffset,
        back.windows,
        back.entityVersions,
        back.handOutMark,
      ),
    ).toEqual(withMark);
    const without = encodeStatePlaintext(7, 100n, windows(), new Map([['11'.repeat(32), 1]]));
    expect(without.length).toBe(withMark.length - 8);
    expect(decodeStatePlaintext(without).handOutMark).toBeNull();
    // Anything but 0 or 8 trailing bytes is refused.
    for (const extra of [1, 4, 7, 9, 16])
      refused(() => decodeStatePlaintext(new Uint8Array([...without, ...new Uint8Array(extra)])));
  });

  it('refuses truncation, trailing bytes, duplicate keys and corrupted windows', () => {
    const bytes = encodeStatePlaintext(1, 10n, windows());
    for (let cut = 0; cut < bytes.length; cut += 7)
      refused(() => decodeStatePlaintext(bytes.subarray(0, cut)));
    refused(() => decodeStatePlaintext(new Uint8Array([...bytes, 0])));
    const one = encodeStatePlaintext(1, 10n, new Map([['k', new ReplayWindow(0)]]));
    // Same window twice under one key: count 2, entries duplicated.
    const entry = one.subarray(20, one.length - 4);
    const dup = new Uint8Array(20 + entry.length * 2 + 4);
    dup.set(one.subarray(0, 20));
    new DataView(dup.buffer).setUint32(16, 2);
    dup.set(entry, 20);
    dup.set(entry, 20 + entry.length);
    // Sanity: the same layout with distinct keys decodes (so the refusal is about the duplicate).
    const distinct = Uint8Array.from(dup);
    distinct[20 + entry.length + 2] = 'j'.charCodeAt(0);
    expect(decodeStatePlaintext(distinct).windows.size).toBe(2);
    refused(() => decodeStatePlaintext(dup));
    // Entity versions: a count that does not match the bytes, and a duplicated key hash.
    const withVersions = encodeStatePlaintext(1, 10n, new Map(), new Map([['33'.repeat(32), 1]]));
    const badCount = Uint8Array.from(withVersions);
    new DataView(badCount.buffer).setUint32(20, 2);
    refused(() => decodeStatePlaintext(badCount));
    const twice = new Uint8Array(withVersions.length + 40);
    twice.set(withVersions);
    twice.set(withVersions.subarray(24), withVersions.length);
    new DataView(twice.buffer).setUint32(20, 2);
    refused(() => decodeStatePlaintext(twice));
    const badWindow = Uint8Array.from(one);
    badWindow[20 + 2 + 1 + 2] = 9; // window state version
    refused(() => decodeStatePlaintext(badWindow));
    const huge = Uint8Array.from(one);
    new DataView(huge.buffer).setUint32(16, 0xffffffff);
    refused(() => decodeStatePlaintext(huge));
  });
});

describe('state pointer in the commit metadata', () => {
  const h = 'ab'.repeat(32);
  it('parses exactly the pointer format', () => {
    expect(parseStatePointer(`sealpost-replay/v1 17 ${h}`)).toEqual({ generation: 17, hash: h });
    // v2 names where the state record and its key record are (docs/SPEC.md §6).
    expect(parseStatePointer(`sealpost-replay/v2 17 ${h} 3:1234 3:7`)).toEqual({
      generation: 17,
      hash: h,
      state: { partition: 3, offset: 1234n },
      key: { partition: 3, offset: 7n },
    });
    for (const bad of [
      `sealpost-replay/v2 17 ${h} 3:1234`,
      `sealpost-replay/v2 17 ${h} 3:01 3:7`,
      `sealpost-replay/v2 17 ${h} -1:5 3:7`,
      `sealpost-replay/v2 17 ${h} 3:5 3:7 `,
      null,
      '',
      `sealpost-replay/v1 0 ${h}`,
      `sealpost-replay/v1 17 ${h.toUpperCase()}`,
      `sealpost-replay/v2 1 ${h}`,
      `sealpost-replay/v1 1 ${h} `,
      `sealpost-replay/v1 01 ${h}`,
    ]) {
      expect(parseStatePointer(bad)).toBeUndefined();
    }
  });
});
