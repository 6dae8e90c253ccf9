/**
 * Fetched kafkajs records as the port's ConsumedRecords (src/kafka/kafkajs-records.ts): headers in
 * kafkajs' order with repeated keys and null values kept, and a record without headers given the one
 * shared, frozen empty array (no array of its own per record).
 */
import type { Batch, KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  fromKafkajsHeaders,
  NO_HEADERS,
  toConsumedBatch,
  toConsumedRecord,
} from '../../../src/kafka/kafkajs-records.js';

const message = (offset: string, headers?: KafkaMessage['headers']): KafkaMessage =>
  ({
    key: Buffer.from(`k${offset}`),
    value: Buffer.from(`v${offset}`),
    timestamp: '1796000000123',
    attributes: 0,
    offset,
    size: 0,
    ...(headers === undefined ? {} : { headers }),
  }) as KafkaMessage;

describe('fromKafkajsHeaders', () => {
  it('gives every record without headers the same frozen empty array', () => {
    expect(Object.isFrozen(NO_HEADERS)).toBe(true);
    expect(NO_HEADERS).toEqual([]);
    expect(fromKafkajsHeaders({})).toBe(NO_HEADERS);
    expect(fromKafkajsHeaders(undefined)).toBe(NO_HEADERS);
    // Nothing can add to it: a push throws (modules run in strict mode) and it stays empty.
    expect(() => (NO_HEADERS as unknown as unknown[]).push({ key: 'x', value: null })).toThrow(
      TypeError,
    );
    expect(NO_HEADERS).toHaveLength(0);
  });

  it('keeps keys in order, repeated keys as consecutive headers, and null values', () => {
    const a1 = Buffer.from('a1');
    const a2 = Buffer.from('a2');
    const headers = fromKafkajsHeaders({ a: [a1, a2], b: 'text', c: undefined });
    expect(headers).toEqual([
      { key: 'a', value: a1 },
      { key: 'a', value: a2 },
      { key: 'b', value: Buffer.from('text') },
      { key: 'c', value: null },
    ]);
    expect(headers[0]!.value).toBe(a1);
    expect(Object.isFrozen(headers)).toBe(false);
  });

  it('reads a header whose key is an own property named like an inherited one', () => {
    const headers: Record<string, unknown> = {};
    Object.defineProperty(headers, '__proto__', {
      value: Buffer.from('p'),
      enumerable: true,
      configurable: true,
      writable: true,
    });
    expect(fromKafkajsHeaders(headers as KafkaMessage['headers'])).toEqual([
      { key: '__proto__', value: Buffer.from('p') },
    ]);
  });
});

describe('toConsumedBatch', () => {
  it('converts every record of the batch in order, the headerless ones sharing NO_HEADERS', () => {
    const messages = [message('7'), message('8', { h: Buffer.from('x') }), message('9', {})];
    const batch = {
      topic: 't',
      partition: 2,
      highWatermark: '10',
      messages,
    } as unknown as Batch;
    const consumed = toConsumedBatch(batch);
    expect(consumed.topic).toBe('t');
    expect(consumed.partition).toBe(2);
    expect(consumed.highWatermark).toBe('10');
    expect(consumed.records.map((r) => r.offset)).toEqual(['7', '8', '9']);
    expect(consumed.records[0]!.headers).toBe(NO_HEADERS);
    expect(consumed.records[2]!.headers).toBe(NO_HEADERS);
    expect(consumed.records[1]!.headers).toEqual([{ key: 'h', value: Buffer.from('x') }]);
    expect(consumed.records[1]).toEqual(toConsumedRecord('t', 2, messages[1]!));
    expect(consumed.records[0]).toEqual({
      topic: 't',
      partition: 2,
      offset: '7',
      key: messages[0]!.key,
      value: messages[0]!.value,
      headers: [],
      timestampMs: 1796000000123,
    });
    expect(consumed.records[0]!.value).toBe(messages[0]!.value);
  });
});
