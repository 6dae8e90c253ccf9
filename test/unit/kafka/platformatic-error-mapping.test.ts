/**
 * toTransportError of the @platformatic/kafka adapter: the client's own error objects (built with its
 * exported classes, as it builds them from wire error codes) map to the same TransportError codes as
 * kafkajs's (test/unit/kafka/transport-error-mapping.test.ts).
 */
import {
  AuthenticationError,
  MultipleErrors,
  NetworkError,
  ProtocolError,
  ResponseError,
  TimeoutError,
  UnsupportedApiError,
  UserError,
} from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { exhaustedAfter, toTransportError } from '../../../src/kafka/platformatic-errors.js';
import { TransportError } from '../../../src/kafka/transport-error.js';

describe('toTransportError (@platformatic/kafka -> TransportError)', () => {
  it('maps broker error names to the port codes, with retriable where a retry may succeed', () => {
    const cases: [string, string, boolean][] = [
      ['UNKNOWN_TOPIC_OR_PARTITION', 'TOPIC_NOT_FOUND', true],
      ['TOPIC_ALREADY_EXISTS', 'TOPIC_ALREADY_EXISTS', false],
      ['REBALANCE_IN_PROGRESS', 'REBALANCE_IN_PROGRESS', true],
      ['ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', true],
      ['UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', true],
      ['TOPIC_AUTHORIZATION_FAILED', 'AUTHORIZATION_FAILED', false],
      ['GROUP_AUTHORIZATION_FAILED', 'AUTHORIZATION_FAILED', false],
      ['MESSAGE_TOO_LARGE', 'RECORD_TOO_LARGE', false],
      ['OFFSET_METADATA_TOO_LARGE', 'OFFSET_METADATA_TOO_LARGE', false],
      ['NOT_LEADER_OR_FOLLOWER', 'BROKER_BUSY', true],
      ['NOT_COORDINATOR', 'BROKER_BUSY', true],
      ['COORDINATOR_LOAD_IN_PROGRESS', 'BROKER_BUSY', true],
      ['NOT_ENOUGH_REPLICAS', 'BROKER_BUSY', true],
      ['NON_EMPTY_GROUP', 'TRANSPORT_FAILED', false],
    ];
    for (const [apiId, code, retriable] of cases) {
      const err = new ProtocolError(apiId);
      const mapped = toTransportError(err, 'ctx');
      expect(mapped, apiId).toBeInstanceOf(TransportError);
      expect([apiId, mapped.code, mapped.retriable]).toEqual([apiId, code, retriable]);
      expect(mapped.brokerErrorType).toBe(apiId);
      expect(mapped.cause).toBe(err);
      expect(mapped.message.startsWith('ctx: ')).toBe(true);
    }
  });

  it('finds the broker error inside the aggregate errors the client reports', () => {
    const inner = new ProtocolError('ILLEGAL_GENERATION');
    const response = new ResponseError(8, 8, { '/topics/0/partitions/0': [22, null] }, {});
    expect(toTransportError(response, 'commit').code).toBe('REBALANCE_IN_PROGRESS');
    const retries = new MultipleErrors('commit failed 3 times.', [
      new NetworkError('Connection closed'),
      inner,
    ]);
    expect(toTransportError(retries, 'commit')).toMatchObject({
      code: 'REBALANCE_IN_PROGRESS',
      retriable: true,
    });
  });

  it('maps connection failures to a retriable BROKER_UNAVAILABLE, and the rest by kind', () => {
    for (const err of [
      new NetworkError('Connection to 127.0.0.1:1 failed.'),
      new TimeoutError('Request timed out.'),
      new MultipleErrors('metadata failed 4 times.', [new NetworkError('Connection closed')]),
    ]) {
      expect(toTransportError(err, 'x')).toMatchObject({
        code: 'BROKER_UNAVAILABLE',
        retriable: true,
      });
    }
    expect(toTransportError(new AuthenticationError('SASL failed'), 'x')).toMatchObject({
      code: 'AUTHENTICATION_FAILED',
      retriable: false,
    });
    expect(toTransportError(new UnsupportedApiError('no Fetch v4'), 'x').code).toBe(
      'UNSUPPORTED_VERSION',
    );
    // A metadata request for a missing topic fails on the client's side, as a user error.
    expect(toTransportError(new UserError('Unknown topic orders.'), 'x')).toMatchObject({
      code: 'TOPIC_NOT_FOUND',
      retriable: true,
    });
    expect(toTransportError(new UserError('Client is closed.'), 'x').code).toBe('TRANSPORT_FAILED');
  });

  it('passes a TransportError through unchanged', () => {
    const err = new TransportError('INVALID_ARGUMENT', 'bad partition');
    expect(toTransportError(err, 'x')).toBe(err);
  });
});

describe('exhaustedAfter (a send whose tries waited out a request timeout)', () => {
  const timedOut = () =>
    toTransportError(
      new MultipleErrors('Producing messages failed.', [
        new TimeoutError('Request timed out', { canRetry: true }),
      ]),
      'produce',
    );

  it('marks a failure that took at least one request timeout, keeping code, retriable and cause', () => {
    const err = timedOut();
    const marked = exhaustedAfter(err, 90_600, 30_000);
    expect(marked).toBeInstanceOf(TransportError);
    expect([marked.code, marked.retriable, marked.exhausted]).toEqual([
      'BROKER_UNAVAILABLE',
      true,
      true,
    ]);
    expect(marked.message).toBe(err.message);
    expect(marked.cause).toBe(err.cause);
    expect(exhaustedAfter(err, 30_000, 30_000).exhausted).toBe(true);
  });

  it('leaves a faster failure as it is (the caller may retry it at once)', () => {
    const err = timedOut();
    expect(exhaustedAfter(err, 29_999, 30_000)).toBe(err);
    expect(err.exhausted).toBe(false);
    const busy = toTransportError(new ProtocolError('NOT_ENOUGH_REPLICAS'), 'produce');
    const marked = exhaustedAfter(busy, 31_000, 30_000);
    expect([marked.code, marked.brokerErrorType, marked.exhausted]).toEqual([
      'BROKER_BUSY',
      'NOT_ENOUGH_REPLICAS',
      true,
    ]);
  });
});
