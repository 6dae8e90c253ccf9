/** SealedConsumer refuses bad numeric options at construction, before it touches the transport. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import {
  SealedConsumer,
  type SealedConsumerOptions,
} from '../../../src/pipeline/sealed-consumer.js';

/** Options whose services are never reached: construction fails on the numbers first. */
function options(extra: Partial<SealedConsumerOptions>): SealedConsumerOptions {
  const unreachable = new Proxy(
    {},
    {
      get() {
        throw new Error('the transport must not be used before the options are checked');
      },
    },
  );
  return {
    transport: unreachable,
    groupId: 'g',
    topics: ['t'],
    stateTopic: 's',
    deadLetterTopic: 'd',
    ...extra,
  } as unknown as SealedConsumerOptions;
}

describe('SealedConsumer options', () => {
  it.each([
    ['redeliveryMarkAhead', 0],
    ['redeliveryMarkAhead', -5],
    ['redeliveryMarkAhead', 1.5],
    ['redeliveryMarkAhead', Number.NaN],
    ['redeliveryMarkAhead', 2 ** 60],
    ['commitEveryRecords', 0],
    ['commitEveryRecords', 2.5],
    ['maxCiphertextBytes', 0],
    ['maxCiphertextBytes', 2 ** 31],
    ['maxCiphertextBytes', '1000'],
    ['partitionsConsumedConcurrently', 0],
    ['partitionsConsumedConcurrently', Number.POSITIVE_INFINITY],
    ['maxRetryDelayMs', -1],
    ['maxRetryDelayMs', 2 ** 31],
    ['unknownSenderWaitMs', Number.NaN],
    ['windowIdleShrinkMs', 0],
  ])('refuses %s = %s with ARGUMENT_INVALID naming the option', (name, value) => {
    let caught: unknown;
    try {
      new SealedConsumer(options({ [name]: value }));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).code).toBe('ARGUMENT_INVALID');
    expect((caught as ConfigError).message).toContain(name);
  });

  it('keeps a value at the edge of its range (the bounds are inclusive)', () => {
    let caught: unknown;
    try {
      new SealedConsumer(
        options({
          maxRetryDelayMs: 0,
          unknownSenderWaitMs: 2 ** 31 - 1,
          maxCiphertextBytes: 2 ** 31 - 1,
          partitionsConsumedConcurrently: 1,
        }),
      );
    } catch (err) {
      caught = err;
    }
    // Construction gets past the numbers and only then reaches the (unreachable) transport.
    expect(caught).not.toBeInstanceOf(ConfigError);
  });
});
