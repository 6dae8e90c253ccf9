/**
 * resolvePlatformaticOptions (src/kafka/platformatic-options.ts): the request timeout and the tries of
 * one produce request, bounded by the delivery timeout, as the @platformatic/kafka client spells them
 * (`false` for one try; an idempotent producer retries forever with `retries` 0 or 1).
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  resolvePlatformaticOptions,
  type PlatformaticTransportOptions,
} from '../../../src/kafka/platformatic-options.js';

const resolve = (options: Partial<PlatformaticTransportOptions> = {}) =>
  resolvePlatformaticOptions({
    brokers: ['127.0.0.1:9092'],
    clientId: 'options-test',
    logger: pino({ level: 'silent' }),
    nowMs: () => 0,
    ...options,
  });

describe('resolvePlatformaticOptions', () => {
  it('by default: 30 s request timeout, consumer and admin retries 5, a produce request tried 3 times', () => {
    const o = resolve();
    expect(o.base.requestTimeout).toBe(30_000);
    expect(o.requestTimeoutMs).toBe(30_000);
    expect(o.retries).toBe(5);
    // deliveryTimeoutMs 90 000 / requestTimeoutMs 30 000 = 3 tries: 2 retries.
    expect(o.produceRetries).toBe(2);
    expect(o.base.retryDelay).toBe(300);
  });

  it('the tries of a produce request: as many request timeouts as fit the delivery timeout, at most retries + 1', () => {
    const cases: [Partial<PlatformaticTransportOptions>, number | false][] = [
      // As many tries as `retries` allows when the request timeout is short.
      [{ requestTimeoutMs: 3000 }, 5],
      [{ requestTimeoutMs: 3000, retries: 1 }, 2],
      [{ requestTimeoutMs: 10_000, retries: 20 }, 8],
      [{ deliveryTimeoutMs: 600_000 }, 5],
      [{ deliveryTimeoutMs: 600_000, retries: 9 }, 9],
      // One try: the client's `false`.
      [{ retries: 0 }, false],
      [{ deliveryTimeoutMs: 30_000 }, false],
      [{ deliveryTimeoutMs: 1000 }, false],
      // Two tries cannot be spelled for an idempotent producer (1 would retry forever): three.
      [{ deliveryTimeoutMs: 60_000 }, 2],
      [{ deliveryTimeoutMs: 120_000 }, 3],
    ];
    for (const [options, expected] of cases) {
      expect([options, resolve(options).produceRetries]).toEqual([options, expected]);
    }
  });

  it('consumer and admin keep `retries` whatever the delivery timeout', () => {
    expect(resolve({ deliveryTimeoutMs: 1000, retries: 7 }).retries).toBe(7);
    expect(resolve({ requestTimeoutMs: 5000 }).base.requestTimeout).toBe(5000);
  });

  it('refuses bad values with a message naming the option', () => {
    expect(() => resolve({ requestTimeoutMs: 0 })).toThrow(/requestTimeoutMs/);
    expect(() => resolve({ deliveryTimeoutMs: -1 })).toThrow(/deliveryTimeoutMs/);
    expect(() => resolve({ deliveryTimeoutMs: 1.5 })).toThrow(/deliveryTimeoutMs/);
    expect(() => resolve({ retries: -1 })).toThrow(/retries/);
    expect(() => resolve({ brokers: [] })).toThrow(/broker/);
  });
});
