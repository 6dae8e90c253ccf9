/**
 * A linear decoding of the record batches in a fetch response's partition (record batch magic 2)
 * into exactly the objects kafkajs 2.2.4 builds for them (docs/PERFORMANCE.md "Where the time
 * goes"). kafkajs decodes every record through a fresh Decoder over a copy-free slice, computes
 * every record's offset and timestamp as BigInt-backed Longs parsed from and printed to decimal
 * strings, and builds its headers by spreading an object per header; this reads the bytes in place
 * and does the arithmetic on Numbers where the result is an exact integer (below 2^53), on BigInt
 * (kafkajs' own unbounded arithmetic) where it is not. Compressed batches are inflated by kafkajs'
 * own codecs (the caller's `codecFor`, kafkajs' lookup) and their records read the same way.
 *
 * It reproduces a batch only when every field lies inside the batch (or the inflated records) and
 * the record that holds it, and every varint is one kafkajs reads the same way (at most 5 bytes;
 * varlongs at most 10). Anything else — another magic version, a negative or oversized length, a
 * record that ends early, a codec kafkajs lacks or that fails — goes whole to the caller's
 * `fallback`, kafkajs' own batch decoder, so the result is kafkajs' result (its records or its
 * error) for every input. Unlike kafkajs it does not spread a batch's records into one call's
 * arguments (kafkajs fails with a RangeError on a batch of more than about 120,000 records).
 *
 * Layout (Kafka protocol, record batch magic 2; offsets within the batch's body after `length`):
 *   batch   = firstOffset:int64 length:int32 body
 *   body    = leaderEpoch:int32(0) magic:int8(4) crc:int32(5) attributes:int16(9)
 *             lastOffsetDelta:int32(11) firstTimestamp:int64(15) maxTimestamp:int64(23)
 *             producerId:int64(31) producerEpoch:int16(39) firstSequence:int32(41)
 *             count:int32(45) records     (compressed: the records inflated from the rest)
 *   record  = length:varint attributes:int8 timestampDelta:varlong offsetDelta:varint
 *             key:varint-bytes value:varint-bytes headerCount:varint [key:varint-string value:varint-bytes]
 */

/** The batch context kafkajs puts on each of a batch's records (one object per batch). */
export interface KafkajsBatchContext {
  readonly firstOffset: string;
  readonly firstTimestamp: string;
  readonly partitionLeaderEpoch: number;
  readonly inTransaction: boolean;
  readonly isControlBatch: boolean;
  readonly lastOffsetDelta: number;
  readonly producerId: string;
  readonly producerEpoch: number;
  readonly firstSequence: number;
  readonly maxTimestamp: string;
  readonly timestampType: number;
  readonly magicByte: number;
}

/** A record as kafkajs' record decoder returns it. */
export interface KafkajsRecord {
  readonly magicByte: number;
  readonly attributes: number;
  readonly timestamp: string;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, unknown>;
  readonly isControlRecord: boolean;
  readonly batchContext: KafkajsBatchContext;
}

/**
 * kafkajs' own decoding of the batch that starts at `start` of `messages`: its records and where
 * the next batch starts; it throws what kafkajs throws (a KafkaJSPartialMessageError for a batch
 * cut off by the fetch's size limit).
 */
export type BatchFallback = (
  messages: Buffer,
  start: number,
) => Promise<{ readonly records: readonly unknown[]; readonly end: number }>;

const MAGIC_BYTE = 2;
/** kafkajs reads a batch while at least this many bytes remain (its RECORD_BATCH_OVERHEAD). */
const RECORD_BATCH_OVERHEAD = 49;
/** firstOffset:int64 length:int32. */
const BATCH_PREFIX = 12;
/** The body's fixed fields and the record count. */
const BODY_FIXED = 49;
const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_FLAG = 0x08;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;
/** kafkajs' TimestampTypes. */
const CREATE_TIME = 0;
const LOG_APPEND_TIME = 1;
const TWO_32 = 4294967296;
const TWO_21 = 2097152;

/**
 * A batch this does not reproduce goes to kafkajs' own decoder: a signal thrown inside, caught by
 * identity and never let out of this module (so not an error class of the library's; one
 * instance, made once: throwing it costs no stack trace).
 */
const NOT_REPRODUCED = new Error('record batch not reproduced');

/** An int64 as a Number when exact (|value| ≤ 2^53), else as kafkajs reads it (a BigInt). */
function int64At(buf: Buffer, at: number): number | bigint {
  const high = buf.readInt32BE(at);
  const low = buf.readUInt32BE(at + 4);
  if (high >= -TWO_21 && high < TWO_21) return high * TWO_32 + low;
  return (BigInt(high) << 32n) + BigInt(low);
}

/** kafkajs' Long.fromValue(first).add(delta).toString(), for an int32 or a BigInt delta. */
function sumString(first: number | bigint, delta: number | bigint): string {
  if (typeof first === 'number' && typeof delta === 'number') {
    const sum = first + delta;
    // Rounding is monotone and 2^53 is a double: a safe result is the exact one.
    if (Number.isSafeInteger(sum)) return String(sum);
  }
  return String(BigInt(first) + BigInt(delta));
}

/**
 * Reads records from `buf` between a position and an end, the way kafkajs' Decoder does, refusing
 * (NOT_REPRODUCED) any read that kafkajs would make past the end of its slice.
 */
class RecordReader {
  pos = 0;
  end = 0;

  constructor(readonly buf: Buffer) {}

  /** kafkajs' readVarInt (its arithmetic, so its int32 wrap-around) for varints of ≤ 5 bytes. */
  varInt(): number {
    const { buf, end } = this;
    let pos = this.pos;
    let result = 0;
    let shift = 0;
    let byte: number;
    do {
      if (pos >= end || shift > 28) throw NOT_REPRODUCED;
      byte = buf[pos++]!;
      result += (byte & 0x7f) << shift;
      shift += 7;
    } while (byte >= 0x80);
    this.pos = pos;
    return (result >>> 1) ^ -(result & 1);
  }

  /**
   * kafkajs' readVarLong and its zig-zag decoding: a Number when it has ≤ 7 bytes (below 2^49,
   * exact), else kafkajs' unbounded BigInt arithmetic over up to 10 bytes (it throws at the 11th).
   */
  varLong(): number | bigint {
    const { buf, end } = this;
    let pos = this.pos;
    let raw = 0;
    let scale = 1;
    let byte: number;
    let count = 0;
    do {
      if (pos >= end) throw NOT_REPRODUCED;
      byte = buf[pos++]!;
      raw += (byte & 0x7f) * scale;
      scale *= 128;
      count += 1;
    } while (byte >= 0x80 && count < 7);
    if (byte < 0x80) {
      this.pos = pos;
      return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
    }
    let big = BigInt(raw);
    let shift = 49n;
    do {
      if (pos >= end || count >= 10) throw NOT_REPRODUCED;
      byte = buf[pos++]!;
      big += BigInt(byte & 0x7f) << shift;
      shift += 7n;
      count += 1;
    } while (byte >= 0x80);
    this.pos = pos;
    return (big >> 1n) ^ -(big & 1n);
  }

  /** kafkajs' readVarIntBytes: a view of the bytes, or null for length -1. */
  bytes(): Buffer | null {
    const length = this.varInt();
    if (length === -1) return null;
    const from = this.pos;
    if (length < 0 || length > this.end - from) throw NOT_REPRODUCED;
    this.pos = from + length;
    return this.buf.subarray(from, from + length);
  }

  /** kafkajs' readVarIntString: UTF-8, or null for length -1. */
  string(): string | null {
    const length = this.varInt();
    if (length === -1) return null;
    const from = this.pos;
    if (length < 0 || length > this.end - from) throw NOT_REPRODUCED;
    this.pos = from + length;
    return this.buf.toString('utf8', from, from + length);
  }
}

/**
 * kafkajs' headers object: one property per key in first-seen order, a repeated key's values
 * gathered into an array — built in place with kafkajs' own expression, so a key Object.prototype
 * already has ("toString", "__proto__") comes out as it does in kafkajs' spread.
 */
function readHeaders(reader: RecordReader): Record<string, unknown> {
  const count = reader.varInt();
  const headers: Record<string, unknown> = {};
  if (count === -1) return headers;
  if (count < 0) throw NOT_REPRODUCED;
  for (let i = 0; i < count; i++) {
    const key = String(reader.string());
    const value = reader.bytes();
    const prev = headers[key];
    const next =
      prev === undefined ? value : Array.isArray(prev) ? prev.concat([value]) : [prev, value];
    if (key === '__proto__')
      Object.defineProperty(headers, key, {
        value: next,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    else headers[key] = next;
  }
  return headers;
}

/** A batch's fields before its records, and where its records are. */
interface BatchHeader {
  readonly batchContext: KafkajsBatchContext;
  readonly firstOffset: number | bigint;
  readonly firstTimestamp: number | bigint;
  readonly logAppendTime: boolean;
  /** The codec kafkajs finds for the batch's attributes (null: uncompressed). */
  readonly codec: RecordCodec | null;
  /** The int32 after the fixed fields: the record count (compressed: the count before inflating). */
  readonly count: number;
  readonly recordsStart: number;
  readonly end: number;
}

/** What kafkajs' lookupCodecByAttributes returns: a codec, or null for uncompressed records. */
export interface RecordCodec {
  decompress(bytes: Buffer): Promise<Buffer>;
}
export type CodecLookup = (attributes: number) => RecordCodec | null;

/** The batch at `start`'s header; or 'partial' where kafkajs throws its partial-message error. */
function readBatchHeader(
  buf: Buffer,
  start: number,
  codecFor: CodecLookup,
): BatchHeader | 'partial' {
  // kafkajs moves back by a negative batch length (after decoding that batch from Buffer#slice's
  // end-relative bounds): where it goes from there is its own.
  if (start < 0) throw NOT_REPRODUCED;
  const length = buf.readInt32BE(start + 8);
  const body = start + BATCH_PREFIX;
  if (length >= 0 && buf.length - body < length) return 'partial';
  if (length < BODY_FIXED) throw NOT_REPRODUCED;
  const magicByte = buf.readInt8(body + 4);
  if (magicByte !== MAGIC_BYTE) throw NOT_REPRODUCED;
  const attributes = buf.readInt16BE(body + 9);
  let codec: RecordCodec | null = null;
  if ((attributes & COMPRESSION_MASK) !== 0) {
    // kafkajs' own lookup (an application may have registered codecs); where it throws, kafkajs'
    // decoder throws the same.
    try {
      codec = codecFor(attributes);
    } catch {
      throw NOT_REPRODUCED;
    }
  }
  const count = buf.readInt32BE(body + 45);
  if (codec === null && count < -1) throw NOT_REPRODUCED;
  const firstOffset = int64At(buf, start);
  const firstTimestamp = int64At(buf, body + 15);
  const logAppendTime = (attributes & TIMESTAMP_TYPE_FLAG) !== 0;
  const batchContext: KafkajsBatchContext = {
    firstOffset: String(firstOffset),
    firstTimestamp: String(firstTimestamp),
    partitionLeaderEpoch: buf.readInt32BE(body),
    inTransaction: (attributes & TRANSACTIONAL_FLAG) !== 0,
    isControlBatch: (attributes & CONTROL_FLAG) !== 0,
    lastOffsetDelta: buf.readInt32BE(body + 11),
    producerId: String(int64At(buf, body + 31)),
    producerEpoch: buf.readInt16BE(body + 39),
    firstSequence: buf.readInt32BE(body + 41),
    maxTimestamp: String(int64At(buf, body + 23)),
    timestampType: logAppendTime ? LOG_APPEND_TIME : CREATE_TIME,
    magicByte,
  };
  return {
    batchContext,
    firstOffset,
    firstTimestamp,
    logAppendTime,
    codec,
    count,
    recordsStart: body + BODY_FIXED,
    end: body + length,
  };
}

/** `count` records from `reader.buf` between `start` and `end` into `out`. */
function readRecords(
  reader: RecordReader,
  header: BatchHeader,
  count: number,
  start: number,
  end: number,
  out: KafkajsRecord[],
): void {
  const { buf } = reader;
  const { batchContext, firstOffset, firstTimestamp, logAppendTime } = header;
  const { magicByte, isControlBatch } = batchContext;
  reader.pos = start;
  for (let i = 0; i < count; i++) {
    // The record's length varint is read within the batch; its fields within the record.
    reader.end = end;
    const size = reader.varInt();
    const recordStart = reader.pos;
    if (size < 1 || size > end - recordStart) throw NOT_REPRODUCED;
    const recordEnd = recordStart + size;
    reader.end = recordEnd;
    const recordAttributes = (buf[recordStart]! << 24) >> 24;
    reader.pos = recordStart + 1;
    const timestampDelta = reader.varLong();
    const offsetDelta = reader.varInt();
    const key = reader.bytes();
    const value = reader.bytes();
    const headers = readHeaders(reader);
    out.push({
      magicByte,
      attributes: recordAttributes,
      // kafkajs: maxTimestamp for log-append time (a non-empty string, so always taken).
      timestamp: logAppendTime
        ? batchContext.maxTimestamp
        : sumString(firstTimestamp, timestampDelta),
      offset: sumString(firstOffset, offsetDelta),
      key,
      value,
      headers,
      isControlRecord: isControlBatch,
      batchContext,
    });
    reader.pos = recordEnd;
  }
}

/**
 * A compressed batch's records: kafkajs inflates the rest of the batch after the count with the
 * codec and reads `count` records from the result (none when the count is not positive).
 */
async function readCompressedRecords(
  messages: Buffer,
  header: BatchHeader,
  out: KafkajsRecord[],
): Promise<void> {
  if (header.count <= 0) return;
  let inflated: Buffer;
  try {
    inflated = await header.codec!.decompress(messages.subarray(header.recordsStart, header.end));
  } catch {
    // kafkajs' decoder meets the same failure (and throws it).
    throw NOT_REPRODUCED;
  }
  readRecords(new RecordReader(inflated), header, header.count, 0, inflated.length, out);
}

/**
 * The records of a partition's record batches (`messages`: the record set's bytes, after its
 * int32 size), as kafkajs' fetch response v4–v11 decodes them: batches while at least 49 bytes
 * remain, a batch cut off at the end ending the loop, compressed batches inflated by kafkajs'
 * codecs (`codecFor`), every batch this does not reproduce decoded by `fallback`.
 */
export async function decodeRecordBatches(
  messages: Buffer,
  codecFor: CodecLookup,
  fallback: BatchFallback,
): Promise<unknown[]> {
  const out: KafkajsRecord[] = [];
  const reader = new RecordReader(messages);
  let at = 0;
  while (messages.length - at >= RECORD_BATCH_OVERHEAD) {
    const mark = out.length;
    let next: number | undefined;
    try {
      const header = readBatchHeader(messages, at, codecFor);
      if (header === 'partial') break;
      if (header.codec === null)
        readRecords(reader, header, header.count, header.recordsStart, header.end, out);
      else await readCompressedRecords(messages, header, out);
      next = header.end;
    } catch (err) {
      if (err !== NOT_REPRODUCED) throw err;
      // kafkajs decodes the whole batch: drop what this had of it.
      out.length = mark;
    }
    if (next !== undefined) {
      at = next;
      continue;
    }
    try {
      const own = await fallback(messages, at);
      for (const record of own.records) (out as unknown[]).push(record);
      at = own.end;
    } catch (err) {
      // kafkajs: the tail of a fetch may hold a batch cut off by its size limit.
      if (err instanceof Error && err.name === 'KafkaJSPartialMessageError') break;
      throw err;
    }
  }
  return out;
}
