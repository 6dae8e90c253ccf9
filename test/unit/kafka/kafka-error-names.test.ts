/** Broker error names → port codes, shared by both adapters (src/kafka/kafka-error-names.ts). */
import { describe, expect, it } from 'vitest';
import { fromKafkaErrorName } from '../../../src/kafka/kafka-error-names.js';

describe('fromKafkaErrorName', () => {
  it('maps both clients’ spellings of the same protocol error', () => {
    for (const [old, current] of [
      ['NOT_LEADER_FOR_PARTITION', 'NOT_LEADER_OR_FOLLOWER'],
      ['NOT_COORDINATOR_FOR_GROUP', 'NOT_COORDINATOR'],
      ['GROUP_COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_NOT_AVAILABLE'],
      ['GROUP_LOAD_IN_PROGRESS', 'COORDINATOR_LOAD_IN_PROGRESS'],
    ] as const) {
      expect(fromKafkaErrorName(old, false)).toEqual({ code: 'BROKER_BUSY', retriable: true });
      expect(fromKafkaErrorName(current, false)).toEqual({ code: 'BROKER_BUSY', retriable: true });
    }
  });

  it('retriable: always for busy/rebalance, by the client’s word for unknown names and missing topics, never otherwise', () => {
    expect(fromKafkaErrorName('ILLEGAL_GENERATION', false)).toEqual({
      code: 'REBALANCE_IN_PROGRESS',
      retriable: true,
    });
    for (const said of [true, false]) {
      expect(fromKafkaErrorName('SOMETHING_NEW', said)).toEqual({
        code: 'TRANSPORT_FAILED',
        retriable: said,
      });
      expect(fromKafkaErrorName('UNKNOWN_TOPIC_OR_PARTITION', said)).toEqual({
        code: 'TOPIC_NOT_FOUND',
        retriable: said,
      });
      expect(fromKafkaErrorName('TOPIC_AUTHORIZATION_FAILED', said)).toEqual({
        code: 'AUTHORIZATION_FAILED',
        retriable: false,
      });
    }
  });

  it('names of Object.prototype members are unknown names, not table entries', () => {
    for (const name of ['constructor', 'toString', '__proto__'])
      expect(fromKafkaErrorName(name, false)).toEqual({
        code: 'TRANSPORT_FAILED',
        retriable: false,
      });
  });
});
