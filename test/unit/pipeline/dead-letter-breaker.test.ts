import { describe, expect, it } from 'vitest';
import { COARSE_CLASSES } from '../../../src/events/dead-letter.js';
import { DeadLetterBreaker } from '../../../src/pipeline/dead-letter-breaker.js';
import { ManualClock } from '../../../src/runtime/clock.js';

function recorder(): {
  events: string[];
  listener: { opened(t: string, p: number): void; closed(t: string, p: number): void };
} {
  const events: string[] = [];
  return {
    events,
    listener: {
      opened: (t, p) => events.push(`open ${t}/${p}`),
      closed: (t, p) => events.push(`close ${t}/${p}`),
    },
  };
}

describe('DeadLetterBreaker', () => {
  it('governs the classes a keyless topic writer can flood by default, the configured ones otherwise', () => {
    const clock = new ManualClock();
    const d = new DeadLetterBreaker(clock);
    expect(COARSE_CLASSES.filter((c) => d.governs(c))).toEqual([
      'MALFORMED',
      'CONTEXT',
      'HEADER',
      'MESSAGE',
      'STALE',
    ]);
    const b = new DeadLetterBreaker(clock, { classes: ['MALFORMED', 'HEADER'] });
    expect(['MALFORMED', 'HEADER', 'CONTEXT'].map((c) => b.governs(c as 'HEADER'))).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('allows the partition burst, then refuses and opens once, and closes after a quiet period', () => {
    const clock = new ManualClock();
    const r = recorder();
    const b = new DeadLetterBreaker(
      clock,
      {
        partition: { perSecond: 10, burst: 3 },
        global: { perSecond: 1000, burst: 1000 },
        closeAfterMs: 1000,
      },
      r.listener,
    );
    expect([
      b.take('t', 0),
      b.take('t', 0),
      b.take('t', 0),
      b.take('t', 0),
      b.take('t', 0),
    ]).toEqual(['allowed', 'allowed', 'allowed', 'partition', 'partition']);
    expect(r.events).toEqual(['open t/0']);
    expect(b.isOpen('t', 0)).toBe(true);
    expect(b.waitMs('t', 0)).toBe(100);
    // Another partition has its own budget.
    expect(b.take('t', 1)).toBe('allowed');
    clock.advance(100);
    expect(b.take('t', 0)).toBe('allowed');
    // Still open: the last refusal was only 100 ms ago.
    b.tick();
    expect(b.isOpen('t', 0)).toBe(true);
    clock.advance(1000);
    b.tick();
    expect(b.isOpen('t', 0)).toBe(false);
    expect(r.events).toEqual(['open t/0', 'close t/0']);
  });

  it('enforces the global budget across partitions without spending partition tokens on refusal', () => {
    const clock = new ManualClock();
    const r = recorder();
    const b = new DeadLetterBreaker(
      clock,
      { partition: { perSecond: 100, burst: 2 }, global: { perSecond: 4, burst: 2 } },
      r.listener,
    );
    expect([b.take('t', 0), b.take('t', 1), b.take('t', 2)]).toEqual([
      'allowed',
      'allowed',
      'global',
    ]);
    expect(r.events).toEqual(['open t/2']);
    expect(b.waitMs('t', 2)).toBe(250);
    clock.advance(250);
    expect(b.take('t', 2)).toBe('allowed');
  });

  it('never allows more than burst + rate × t writes in any interval t', () => {
    const clock = new ManualClock();
    const b = new DeadLetterBreaker(clock, {
      partition: { perSecond: 20, burst: 5 },
      global: { perSecond: 1000, burst: 1000 },
    });
    const allowedAt: number[] = [];
    // Try a write every millisecond for 3 s.
    for (let i = 0; i < 3000; i++) {
      if (b.take('t', 0) === 'allowed') allowedAt.push(clock.nowMs());
      clock.advance(1);
    }
    // 5 at once, then one every 50 ms: t = 50, 100, …, 2950.
    expect(allowedAt.length).toBe(5 + 59);
    for (let i = 0; i < allowedAt.length; i++) {
      for (let j = i; j < allowedAt.length; j++) {
        const t = allowedAt[j]! - allowedAt[i]!;
        expect(j - i + 1).toBeLessThanOrEqual(5 + Math.floor((20 * t) / 1000) + 1);
      }
    }
  });

  it('release closes an open breaker but keeps the spent budget', () => {
    const clock = new ManualClock();
    const r = recorder();
    const b = new DeadLetterBreaker(clock, { partition: { perSecond: 1, burst: 1 } }, r.listener);
    expect([b.take('t', 0), b.take('t', 0)]).toEqual(['allowed', 'partition']);
    b.release('t', 0);
    expect(r.events).toEqual(['open t/0', 'close t/0']);
    expect(b.take('t', 0)).toBe('partition');
  });

  it('rejects nonsensical rates', () => {
    expect(
      () => new DeadLetterBreaker(new ManualClock(), { partition: { perSecond: 0, burst: 1 } }),
    ).toThrow(expect.objectContaining({ code: 'ARGUMENT_INVALID' }) as Error);
    expect(() => new DeadLetterBreaker(new ManualClock(), { closeAfterMs: -1 })).toThrow(
      expect.objectContaining({ code: 'ARGUMENT_INVALID' }) as Error,
    );
  });
});
