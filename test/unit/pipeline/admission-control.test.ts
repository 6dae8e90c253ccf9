import { describe, expect, it } from 'vitest';
import { AdmissionControl } from '../../../src/pipeline/admission-control.js';
import { ManualClock } from '../../../src/runtime/clock.js';

describe('AdmissionControl', () => {
  it('admits a partition burst, then refuses until tokens refill', () => {
    const clock = new ManualClock();
    const ac = new AdmissionControl(clock, {
      partition: { perSecond: 10, burst: 3 },
      global: { perSecond: 1000, burst: 1000 },
    });
    expect([ac.take('a'), ac.take('a'), ac.take('a'), ac.take('a')]).toEqual([
      'admitted',
      'admitted',
      'admitted',
      'partition',
    ]);
    expect(ac.waitMs('a')).toBe(100);
    clock.advance(99);
    expect(ac.take('a')).toBe('partition');
    clock.advance(1);
    expect(ac.take('a')).toBe('admitted');
    // Other partitions have their own bucket.
    expect(ac.take('b')).toBe('admitted');
  });

  it('enforces the global budget across partitions without consuming partition tokens on refusal', () => {
    const clock = new ManualClock();
    const ac = new AdmissionControl(clock, {
      partition: { perSecond: 100, burst: 5 },
      global: { perSecond: 2, burst: 2 },
    });
    expect(ac.take('a')).toBe('admitted');
    expect(ac.take('b')).toBe('admitted');
    expect(ac.take('c')).toBe('global');
    expect(ac.waitMs('c')).toBe(500);
    clock.advance(500);
    expect(ac.take('c')).toBe('admitted');
    // With partition tokens to spare, the global bucket (burst 2) still limits 'c'.
    clock.advance(10_000);
    const results = Array.from({ length: 5 }, () => ac.take('c'));
    expect(results.filter((r) => r === 'admitted')).toHaveLength(2);
  });

  it('refuses nonsense rates', () => {
    expect(
      () => new AdmissionControl(new ManualClock(), { partition: { perSecond: 0, burst: 1 } }),
    ).toThrow(expect.objectContaining({ code: 'ARGUMENT_INVALID' }) as Error);
    expect(
      () => new AdmissionControl(new ManualClock(), { global: { perSecond: 1, burst: 0 } }),
    ).toThrow(expect.objectContaining({ code: 'ARGUMENT_INVALID' }) as Error);
  });
});
