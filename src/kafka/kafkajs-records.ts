/**
 * Fetched kafkajs records as the port's ConsumedRecords. Kept small and short-lived: a fetched
 * batch's records hold views into the fetch response (key, value), so every object made per record
 * here keeps that response's memory alive for as long as it lives (docs/PERFORMANCE.md, garbage
 * collection of the sealed consumer).
 */
import type { Batch, IHeaders, KafkaMessage } from 'kafkajs';
import type { ConsumedBatch, ConsumedRecord, TransportHeader } from './transport.js';

/**
 * The headers of every record that has none: one frozen array, so such a record costs no array of
 * its own (sealed records carry no Kafka headers). Frozen: nothing may add to it.
 */
export const NO_HEADERS: readonly TransportHeader[] = Object.freeze([]);

/** Whether kafkajs' headers object has a key of its own (no array built to find out). */
function hasOwnKey(headers: IHeaders): boolean {
  for (const key in headers) if (Object.hasOwn(headers, key)) return true;
  return false;
}

/** kafkajs' headers object (a repeated key's values as an array) as the port's ordered list. */
export function fromKafkajsHeaders(headers: IHeaders | undefined): readonly TransportHeader[] {
  if (headers === undefined || !hasOwnKey(headers)) return NO_HEADERS;
  const out: TransportHeader[] = [];
  for (const [key, raw] of Object.entries(headers)) {
    const values = Array.isArray(raw) ? raw : [raw];
    for (const value of values) {
      out.push({
        key,
        value:
          value === undefined || value === null
            ? null
            : Buffer.isBuffer(value)
              ? value
              : Buffer.from(value),
      });
    }
  }
  return out;
}

export function toConsumedRecord(
  topic: string,
  partition: number,
  message: KafkaMessage,
): ConsumedRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: fromKafkajsHeaders(message.headers),
    timestampMs: Number(message.timestamp),
  };
}

export function toConsumedBatch(batch: Batch): ConsumedBatch {
  return {
    topic: batch.topic,
    partition: batch.partition,
    highWatermark: batch.highWatermark,
    records: batch.messages.map((m) => toConsumedRecord(batch.topic, batch.partition, m)),
  };
}
