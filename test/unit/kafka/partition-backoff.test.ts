import { describe, expect, it } from 'vitest';
import { PartitionBackoff } from '../../../src/kafka/partition-backoff.js';

const p0 = { topic: 't', partition: 0 };
const p1 = { topic: 't', partition: 1 };

describe('PartitionBackoff', () => {
  it('doubles per consecutive failure up to the cap, per partition', () => {
    const b = new PartitionBackoff({ initialDelayMs: 100, maxDelayMs: 1000 });
    expect([1, 2, 3, 4, 5, 6].map(() => b.nextDelayMs(p0))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(b.nextDelayMs(p1)).toBe(100);
    expect(b.failures(p0)).toBe(6);
  });

  it('starts over after reset', () => {
    const b = new PartitionBackoff({ initialDelayMs: 50 });
    b.nextDelayMs(p0);
    b.nextDelayMs(p0);
    b.reset(p0);
    expect(b.failures(p0)).toBe(0);
    expect(b.nextDelayMs(p0)).toBe(50);
  });

  it('draws jitter from the injected random source within [delay/2, delay]', () => {
    const draws = [0, 0.5, 0.999];
    let i = 0;
    const b = new PartitionBackoff({
      initialDelayMs: 1000,
      multiplier: 1,
      random: () => draws[i++ % draws.length]!,
    });
    expect([b.nextDelayMs(p0), b.nextDelayMs(p0), b.nextDelayMs(p0)]).toEqual([500, 750, 1000]);
  });

  it('never overflows for very long failure streaks', () => {
    const b = new PartitionBackoff({ initialDelayMs: 10, maxDelayMs: 5000 });
    let last = 0;
    for (let i = 0; i < 2000; i++) last = b.nextDelayMs(p0);
    expect(last).toBe(5000);
  });
});
