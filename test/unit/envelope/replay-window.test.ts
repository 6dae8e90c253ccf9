import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { EnvelopeError, REPLAY_WINDOW_BITS, ReplayWindow } from '../../../src/envelope/index.js';
import { codeOf, outcomeOf } from './support/outcome.js';
import { loadProvider, PROVIDER_NAMES } from './support/providers.js';
import { makeWorld, SCHEMA_FP, TOPIC, type World } from './support/world.js';

describe('ReplayWindow', () => {
  it('fresh until marked, then duplicate; far behind is stale', () => {
    const w = new ReplayWindow();
    expect(w.check(0)).toBe('fresh');
    w.mark(0, 1);
    expect(w.check(0)).toBe('duplicate');
    w.mark(5000, 2);
    expect(w.highest).toBe(5000);
    expect(w.check(5000)).toBe('duplicate');
    expect(w.check(4999)).toBe('fresh');
    expect(w.check(5000 - REPLAY_WINDOW_BITS + 1)).toBe('fresh');
    expect(w.check(5000 - REPLAY_WINDOW_BITS)).toBe('stale');
    expect(w.check(0)).toBe('stale');
    expect(w.lastSeenMs).toBe(2);
    expect(codeOf(() => w.mark(0, 3))).toBe('ARGUMENT_INVALID');
  });

  it('slides: out-of-order inside the window, bits passed over are cleared', () => {
    const w = new ReplayWindow();
    for (const s of [10, 8, 12, 9]) w.mark(s, 0);
    expect([8, 9, 10, 11, 12].map((s) => w.check(s))).toEqual([
      'duplicate',
      'duplicate',
      'duplicate',
      'fresh',
      'duplicate',
    ]);
    // A jump of exactly one window: the old bit positions alias the new range and must read fresh.
    w.mark(12 + REPLAY_WINDOW_BITS, 0);
    expect(w.check(12 + REPLAY_WINDOW_BITS - 1)).toBe('fresh');
    expect(w.check(11 + REPLAY_WINDOW_BITS)).toBe('fresh');
    expect(w.check(12)).toBe('stale');
    // Far ahead.
    w.mark(1_000_000_000, 0);
    expect(w.check(1_000_000_000 - 1)).toBe('fresh');
    expect(w.check(12 + REPLAY_WINDOW_BITS)).toBe('stale');
  });

  it('idle shrink: everything ≤ highest then counts as seen; it re-expands on a new seq', () => {
    const w = new ReplayWindow();
    w.mark(100, 0);
    w.mark(98, 0);
    expect(w.isIdle(10_000, 5_000)).toBe(true);
    w.shrink();
    expect(w.shrunk).toBe(true);
    expect(w.check(99)).toBe('duplicate');
    expect(w.check(101)).toBe('fresh');
    expect(w.toBytes().length).toBe(18);
    w.mark(102, 20_000);
    expect(w.shrunk).toBe(false);
    expect([99, 100, 101, 102, 103].map((s) => w.check(s))).toEqual([
      'duplicate',
      'duplicate',
      'fresh',
      'duplicate',
      'fresh',
    ]);
  });

  it('toBytes/fromBytes round-trip and strict validation', () => {
    const w = new ReplayWindow();
    for (const s of [3, 7, 1030, 1029, 2000]) w.mark(s, 1234);
    const b = w.toBytes();
    const r = ReplayWindow.fromBytes(b);
    for (let s = 0; s < 2100; s++) expect(r.check(s)).toBe(w.check(s));
    expect(r.lastSeenMs).toBe(1234);
    expect(ReplayWindow.fromBytes(new ReplayWindow(5).toBytes()).check(0)).toBe('fresh');
    const bad = (bytes: Uint8Array) => () => ReplayWindow.fromBytes(bytes);
    expect(codeOf(bad(b.subarray(0, b.length - 1)))).toBe('REPLAY_STATE_INVALID');
    expect(codeOf(bad(Uint8Array.of(...b, 0)))).toBe('REPLAY_STATE_INVALID');
    const wrongVersion = b.slice();
    wrongVersion[0] = 2;
    expect(codeOf(bad(wrongVersion))).toBe('REPLAY_STATE_INVALID');
    const wrongFlags = b.slice();
    wrongFlags[1] = 4;
    expect(codeOf(bad(wrongFlags))).toBe('REPLAY_STATE_INVALID');
    const noHighestBit = b.slice();
    noHighestBit.fill(0, 18);
    expect(codeOf(bad(noHighestBit))).toBe('REPLAY_STATE_INVALID');
    const small = new ReplayWindow();
    small.mark(3, 0);
    const belowZero = small.toBytes();
    belowZero[18 + 127] = 0x80; // seq 1023 ≡ −1: below seq 0
    expect(codeOf(bad(belowZero))).toBe('REPLAY_STATE_INVALID');
    const huge = b.slice();
    huge[2] = 0xff;
    expect(codeOf(bad(huge))).toBe('REPLAY_STATE_INVALID');
  });

  it('matches a reference set model (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5000), { maxLength: 200 }), (marks) => {
        const w = new ReplayWindow();
        const seen = new Set<number>();
        let highest = -1;
        for (const s of marks) {
          const v = w.check(s);
          const expected =
            s <= highest - REPLAY_WINDOW_BITS ? 'stale' : seen.has(s) ? 'duplicate' : 'fresh';
          if (v !== expected) return false;
          if (v === 'fresh') {
            w.mark(s, 0);
            seen.add(s);
            highest = Math.max(highest, s);
          }
        }
        const r = ReplayWindow.fromBytes(w.toBytes());
        for (let s = Math.max(0, highest - 1100); s <= highest + 2; s++)
          if (r.check(s) !== w.check(s)) return false;
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe.each(PROVIDER_NAMES)('replay through the opener (%s)', (providerName) => {
  let p: CryptoProvider;
  let w: World;
  beforeAll(async () => {
    p = await loadProvider(providerName);
    w = makeWorld(p, ['alice', 'bob', 'mallory']);
  });

  it('same-offset redelivery before mark is accepted; after mark the seq is DUPLICATE at any offset; far behind is STALE', () => {
    const s = w.session('alice', ['bob']);
    const bob = w.opener('bob');
    const windows = new Map<string, ReplayWindow>();
    const hooks = { window: (k: string) => windows.get(k) };
    const ctx = { topic: TOPIC, partition: 0, key: null };
    const rec = s.seal({
      partition: 0,
      seq: 0,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: '',
      payload: new Uint8Array([1]),
    });
    const first = bob.open(rec.value, ctx, hooks);
    expect(first.kind).toBe('delivered');
    // The handler crashed before mark: the redelivered record (same offset) opens again.
    const again = bob.open(rec.value, ctx, hooks);
    expect(again.kind).toBe('delivered');
    if (again.kind !== 'delivered') return;
    // Handler succeeded: the pipeline marks.
    const win = windows.get(again.message.replayKey) ?? new ReplayWindow();
    win.mark(again.message.seq, w.clock.nowMs());
    windows.set(again.message.replayKey, win);
    // The same bytes re-injected (another offset): DUPLICATE, not an error.
    expect(bob.open(rec.value, ctx, hooks)).toEqual({
      kind: 'duplicate',
      replayKey: again.message.replayKey,
      seq: 0,
    });
    // Far ahead then far behind.
    const ahead = s.seal({
      partition: 0,
      seq: 5000,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: '',
      payload: new Uint8Array(0),
    });
    const r = bob.open(ahead.value, ctx, hooks);
    expect(r.kind).toBe('delivered');
    win.mark(5000, w.clock.nowMs());
    const behind = s.seal({
      partition: 0,
      seq: 10,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: '',
      payload: new Uint8Array(0),
    });
    expect(outcomeOf(() => bob.open(behind.value, ctx, hooks))).toBe('STALE:SEQ_TOO_OLD');
    // Inside the window, never marked: fresh.
    const inside = s.seal({
      partition: 0,
      seq: 4500,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: '',
      payload: new Uint8Array(0),
    });
    expect(bob.open(inside.value, ctx, hooks).kind).toBe('delivered');
    s.close();
  });

  it("another allowed sender reusing the victim's session id and stream id gets its own window", () => {
    const victim = w.session('alice', ['bob']);
    // Mallory copies alice's session id and stream id (she can read both: she sees the header, and
    // she could be a co-recipient); deterministic random source forces the same session id.
    const sid = victim.sessionId;
    let first = true;
    const forced = (out: Uint8Array) => {
      if (first && out.length === 16) {
        out.set(sid);
        first = false;
      } else p.randomFill(out);
    };
    const attacker = w.session('mallory', ['bob'], { streamId: victim.streamId, random: forced });
    expect(Buffer.compare(attacker.sessionId, victim.sessionId)).toBe(0);
    const bob = w.opener('bob');
    const windows = new Map<string, ReplayWindow>();
    const hooks = { window: (k: string) => windows.get(k) };
    const ctx = { topic: TOPIC, partition: 0, key: null };
    const deliverAndMark = (value: Uint8Array) => {
      const r = bob.open(value, ctx, hooks);
      if (r.kind !== 'delivered') throw new Error(r.kind);
      const win = windows.get(r.message.replayKey) ?? new ReplayWindow();
      win.mark(r.message.seq, 0);
      windows.set(r.message.replayKey, win);
      return r.message;
    };
    for (let seq = 100; seq < 110; seq++) {
      expect(
        deliverAndMark(
          attacker.seal({
            partition: 0,
            seq,
            key: null,
            schemaFp: SCHEMA_FP,
            contentType: '',
            payload: new Uint8Array(0),
          }).value,
        ).senderIdentity,
      ).toBe('mallory');
    }
    for (let seq = 0; seq < 10; seq++) {
      expect(
        deliverAndMark(
          victim.seal({
            partition: 0,
            seq,
            key: null,
            schemaFp: SCHEMA_FP,
            contentType: '',
            payload: new Uint8Array(0),
          }).value,
        ).senderIdentity,
      ).toBe('alice');
    }
    expect(windows.size).toBe(2);
    victim.close();
    attacker.close();
  });

  it('a STALE rejection is an EnvelopeError with coarse STALE', () => {
    const e = new EnvelopeError('SEQ_TOO_OLD');
    expect(e.coarse).toBe('STALE');
    expect(e.retriable).toBe(false);
  });
});
