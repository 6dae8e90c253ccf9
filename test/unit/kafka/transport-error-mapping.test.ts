import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { toTransportError } from '../../../src/kafka/kafkajs-transport.js';
import { TransportError } from '../../../src/kafka/transport-error.js';

// The broker error objects kafkajs builds from wire error codes (not exported from its index).
const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  createErrorFromCode: (code: number) => {
    type: string;
    retriable: boolean;
    message: string;
    code: number;
  };
};
const protocolError = (code: number) =>
  new kafkajs.KafkaJSProtocolError(createErrorFromCode(code) as unknown as Error);

describe('toTransportError (kafkajs -> TransportError)', () => {
  it('maps connection-level failures to a retriable BROKER_UNAVAILABLE', () => {
    for (const err of [
      new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1', {
        broker: '127.0.0.1:1',
        code: 'ECONNREFUSED',
      }),
      new kafkajs.KafkaJSRequestTimeoutError('Request Metadata(key: 3, version: 6) timed out'),
      new (kafkajs.KafkaJSBrokerNotFound as unknown as new (m: string) => Error)(
        'Broker not found',
      ),
    ]) {
      const mapped = toTransportError(err, 'ctx');
      expect(mapped).toBeInstanceOf(TransportError);
      expect(mapped.code).toBe('BROKER_UNAVAILABLE');
      expect(mapped.retriable).toBe(true);
      expect(mapped.cause).toBe(err);
      expect(mapped.message.startsWith('ctx: ')).toBe(true);
    }
  });

  it('unwraps retries-exhausted so a broker that stayed down stays retriable', () => {
    const inner = new kafkajs.KafkaJSConnectionError('Connection error', {
      broker: 'b:1',
      code: 'ECONNREFUSED',
    });
    const outer = new kafkajs.KafkaJSNumberOfRetriesExceeded(inner, {
      retryCount: 5,
      retryTime: 1000,
    });
    expect(outer.retriable).toBe(false);
    const mapped = toTransportError(outer, 'produce');
    expect(mapped.code).toBe('BROKER_UNAVAILABLE');
    expect(mapped.retriable).toBe(true);
  });

  it('maps broker protocol errors by their type', () => {
    const cases: [number, string, boolean][] = [
      [3, 'TOPIC_NOT_FOUND', true], // UNKNOWN_TOPIC_OR_PARTITION
      [36, 'TOPIC_ALREADY_EXISTS', false],
      [27, 'REBALANCE_IN_PROGRESS', true],
      [22, 'REBALANCE_IN_PROGRESS', true], // ILLEGAL_GENERATION
      [29, 'AUTHORIZATION_FAILED', false], // TOPIC_AUTHORIZATION_FAILED
      [58, 'AUTHENTICATION_FAILED', false], // SASL_AUTHENTICATION_FAILED
      [10, 'RECORD_TOO_LARGE', false], // MESSAGE_TOO_LARGE
      [12, 'OFFSET_METADATA_TOO_LARGE', false],
      [6, 'BROKER_BUSY', true], // NOT_LEADER_FOR_PARTITION
      [35, 'UNSUPPORTED_VERSION', false],
      [42, 'TRANSPORT_FAILED', false], // INVALID_REQUEST
    ];
    for (const [code, expected, retriable] of cases) {
      const mapped = toTransportError(protocolError(code), 'x');
      expect([code, mapped.code, mapped.retriable]).toEqual([code, expected, retriable]);
      expect(mapped.brokerErrorType).toBe(createErrorFromCode(code).type);
    }
  });

  it('takes the first error of an aggregate', () => {
    const agg = new kafkajs.KafkaJSAggregateError('create topics failed', [protocolError(36)]);
    expect(toTransportError(agg, 'create').code).toBe('TOPIC_ALREADY_EXISTS');
  });

  it('keeps the library verdict for anything else and passes TransportErrors through', () => {
    expect(toTransportError(new kafkajs.KafkaJSNonRetriableError('bad'), 'x')).toMatchObject({
      code: 'TRANSPORT_FAILED',
      retriable: false,
    });
    expect(toTransportError(new kafkajs.KafkaJSError('flaky'), 'x')).toMatchObject({
      code: 'TRANSPORT_FAILED',
      retriable: true,
    });
    expect(toTransportError('a string', 'x')).toMatchObject({
      code: 'TRANSPORT_FAILED',
      retriable: false,
    });
    const own = new TransportError('INVALID_ARGUMENT', 'bad partition');
    expect(toTransportError(own, 'x')).toBe(own);
  });
});
