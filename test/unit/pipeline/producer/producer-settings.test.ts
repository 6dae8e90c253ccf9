/** The producer's numeric options are checked once, at construction (ARGUMENT_INVALID naming each). */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/errors.js';
import { resolveProducerSettings } from '../../../../src/pipeline/producer/producer-settings.js';
import type { SealedProducerOptions } from '../../../../src/pipeline/producer/producer-types.js';

/** Only the numbers matter here: the settings never touch the services. */
function resolve(extra: Record<string, unknown>): ReturnType<typeof resolveProducerSettings> {
  return resolveProducerSettings({ ...extra } as unknown as SealedProducerOptions);
}

describe('resolveProducerSettings', () => {
  it.each([
    // NaN used to pass: `attempt >= NaN` is never true, so a send retried without end.
    ['maxSendAttempts', Number.NaN],
    ['maxSendAttempts', 0],
    ['maxSendAttempts', 2.5],
    ['retryDelayMs', -1],
    ['retryDelayMs', 2 ** 31],
    ['maxSessionAgeMs', 0],
    ['maxSessionAgeMs', Number.POSITIVE_INFINITY],
    ['maxCiphertextBytes', 0],
    ['maxCiphertextBytes', 2 ** 31],
    ['maxCiphertextBytes', '1048576'],
    ['maxMessagesPerSession', 0],
    ['maxMessagesPerSession', 2 ** 32],
    ['maxRequestBytes', 1023],
  ])('refuses %s = %s with ARGUMENT_INVALID naming the option', (name, value) => {
    let caught: unknown;
    try {
      resolve({ [name]: value });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).code).toBe('ARGUMENT_INVALID');
    expect((caught as ConfigError).message).toContain(name);
  });

  it('resolves the documented defaults (docs/API.md) and keeps in-range values', () => {
    const d = resolve({});
    expect([d.maxSendAttempts, d.retryDelayMs, d.maxSessionAgeMs]).toEqual([5, 200, 3_600_000]);
    expect([d.maxCiphertextBytes, d.maxMessagesPerSession, d.maxRequestBytes]).toEqual([
      1_048_576 + 65_536,
      10_000,
      921_600,
    ]);
    const edge = resolve({ maxSendAttempts: 1, retryDelayMs: 0, maxRequestBytes: 1024 });
    expect([edge.maxSendAttempts, edge.retryDelayMs, edge.maxRequestBytes]).toEqual([1, 0, 1024]);
  });
});
