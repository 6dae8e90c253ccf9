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
});
