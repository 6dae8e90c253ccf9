/**
 * The size a broker checks against a topic's `max.message.bytes`: one record batch (magic v2) per
 * partition and produce request — its 61-byte header and each record's varint framing, key, value
 * and headers — compressed as the producer sends it. The in-memory broker refuses what a real one
 * would (RECORD_TOO_LARGE) by the same measure, so a sender that forgets to split a large send fails
 * in unit tests too (the Transport contract checks both adapters against it).
 */
import { gzipSync } from 'node:zlib';
import { sizeOfVarLong } from '../produce-request-encoding.js';

/** magic v2: base offset 8, length 4, leader epoch 4, magic 1, CRC 4, attributes 2, last offset
 *  delta 4, first and max timestamp 8 + 8, producer id 8, epoch 2, base sequence 4, count 4. */
const BATCH_HEADER_BYTES = 61;

export interface SizedRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: readonly { readonly key: string; readonly value: Buffer | null }[];
}

/** Bytes of a zig-zag varint (Kafka's record fields). */
const varintBytes = sizeOfVarLong;

/** A nullable byte field: its varint length (-1 for null) and its bytes. */
const field = (b: Buffer | null): number =>
  b === null ? varintBytes(-1) : varintBytes(b.length) + b.length;

/** One record's bytes inside a batch (offset and timestamp deltas taken as one byte each). */
function recordBytes(r: SizedRecord, offsetDelta: number): number {
  let body = 1 + 1 + varintBytes(offsetDelta) + field(r.key) + field(r.value);
  const headers = r.headers ?? [];
  body += varintBytes(headers.length);
  for (const h of headers) {
    const keyBytes = Buffer.byteLength(h.key);
    body += varintBytes(keyBytes) + keyBytes + field(h.value);
  }
  return varintBytes(body) + body;
}

/**
 * The batch's size as the broker sees it. Uncompressed: header + records. gzip: header + the gzip
 * of the records' bytes (computed only when the uncompressed size is above `limit`, so a send under
 * the limit costs no compression here).
 */
export function batchBytes(
  records: readonly SizedRecord[],
  compression: 'none' | 'gzip',
  limit: number,
): number {
  let plain = BATCH_HEADER_BYTES;
  records.forEach((r, i) => (plain += recordBytes(r, i)));
  if (compression === 'none' || plain <= limit) return plain;
  const parts: Buffer[] = [];
  for (const r of records) {
    if (r.key !== null) parts.push(r.key);
    if (r.value !== null) parts.push(r.value);
    for (const h of r.headers ?? []) if (h.value !== null) parts.push(h.value);
  }
  return BATCH_HEADER_BYTES + gzipSync(Buffer.concat(parts)).length;
}
