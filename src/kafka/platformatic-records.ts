/**
 * Record conversion between the port and @platformatic/kafka's wire types: outgoing headers as a Map
 * (one distinct Buffer key object per header, so repeated keys survive — the client keys its header
 * Map by identity) and fetched record batches as ConsumedRecords.
 */
import type { RecordsBatch } from '@platformatic/kafka';
import type { ConsumedRecord, OutgoingRecord, TransportHeader } from './transport.js';

/** The RecordBatch attribute bit of a control batch (transaction markers): never handed out. */
const IS_CONTROL = 0b10_0000;
/** The attribute bit of a batch stamped with the broker's LogAppendTime (its maxTimestamp). */
const LOG_APPEND_TIME = 0b1000;

/**
 * Outgoing headers in order. Keys are fresh Buffer objects, so a key that repeats is two Map
 * entries (a Map compares object keys by identity) and reaches the broker twice, in order. A null
 * value is written as a null header value (Kafka allows it; the kafkajs adapter cannot).
 */
export function toPlatformaticHeaders(
  headers: readonly TransportHeader[] | undefined,
): Map<Buffer, Buffer> | undefined {
  if (headers === undefined || headers.length === 0) return undefined;
  const out = new Map<Buffer, Buffer>();
  // The client's header Map is typed Buffer → Buffer; a null value is encoded as Kafka's null bytes.
  for (const { key, value } of headers) out.set(Buffer.from(key, 'utf8'), value as Buffer);
  return out;
}

/** The client's message for one port record of an explicit partition. */
export function toPlatformaticMessage(
  topic: string,
  partition: number,
  record: OutgoingRecord,
): {
  topic: string;
  partition: number;
  key?: Buffer;
  value?: Buffer;
  headers?: Map<Buffer, Buffer>;
  timestamp?: bigint;
} {
  const headers = toPlatformaticHeaders(record.headers);
  return {
    topic,
    partition,
    // The client writes `undefined`/null as Kafka's null key or value (varint length -1).
    ...(record.key === null ? {} : { key: record.key }),
    ...(record.value === null ? {} : { value: record.value }),
    ...(headers === undefined ? {} : { headers }),
    ...(record.timestampMs === undefined ? {} : { timestamp: BigInt(record.timestampMs) }),
  };
}

/**
 * The data records of fetched batches at or after `from` (a fetch may start inside a batch), and the
 * offset after the last batch (control batches included, so the position moves past them).
 */
export function fromPlatformaticBatches(
  topic: string,
  partition: number,
  batches: readonly RecordsBatch[],
  from: bigint,
): { records: ConsumedRecord[]; next: bigint | undefined } {
  const records: ConsumedRecord[] = [];
  let next: bigint | undefined;
  for (const batch of batches) {
    const end = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
    if (next === undefined || end > next) next = end;
    if ((batch.attributes & IS_CONTROL) !== 0) continue;
    const logAppendTime = (batch.attributes & LOG_APPEND_TIME) !== 0;
    for (const r of batch.records) {
      const offset = batch.firstOffset + BigInt(r.offsetDelta);
      if (offset < from) continue;
      const headers: TransportHeader[] = [];
      for (const [key, value] of r.headers) {
        headers.push({ key: key === null ? '' : key.toString('utf8'), value });
      }
      records.push({
        topic,
        partition,
        offset: offset.toString(),
        key: r.key,
        value: r.value,
        headers,
        timestampMs: Number(
          logAppendTime ? batch.maxTimestamp : batch.firstTimestamp + r.timestampDelta,
        ),
      });
    }
  }
  return { records, next };
}
