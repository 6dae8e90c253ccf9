/**
 * A linear encoding of kafkajs 2.2.4's produce request (versions 3–7 share version 3's body) for
 * uncompressed record batches (docs/PERFORMANCE.md "Where the time goes"). kafkajs encodes a
 * request through nested growable encoders, copying every record's bytes five or six times into
 * zero-filled buffers; this computes every size first and writes each byte once into one buffer,
 * with the same bytes as kafkajs (kafkajs-produce-encoding.ts checks that before kafkajs uses it).
 *
 * It takes kafkajs' arguments as they are and accepts only inputs whose encoding it reproduces
 * exactly: keys and values that are Buffers, strings, null or undefined; headers whose values are
 * Buffers, strings or arrays of them; timestamps (numbers or non-empty strings) whose distance to
 * the batch's first is a safe integer; string topics, client and transactional ids. For anything
 * else it returns undefined and the caller lets kafkajs encode the request (and fail the way
 * kafkajs fails, where it does).
 *
 * Layout (Kafka protocol, produce v3, record batch magic 2):
 *   request    = size:int32 apiKey:int16 apiVersion:int16 correlationId:int32 clientId:string body
 *   body       = transactionalId:nullable-string acks:int16 timeout:int32 [topic]
 *   topic      = name:string [partition]
 *   partition  = partition:int32 size:int32 firstOffset:int64 length:int32
 *                leaderEpoch:int32 magic:int8 crc:uint32 batchBody     (crc32c over batchBody)
 *   batchBody  = attributes:int16 lastOffsetDelta:int32 firstTimestamp:int64 maxTimestamp:int64
 *                producerId:int64 producerEpoch:int16 firstSequence:int32 [record]
 *   record     = length:varint attributes:int8 timestampDelta:varlong offsetDelta:varint
 *                key:varint-bytes value:varint-bytes headerCount:varint [headerKey headerValue]
 */
import { TransportError } from './transport-error.js';

/** What the encoding needs from outside: kafkajs' own int64 conversion, the CRC32C, the clock. */
export interface ProduceEncodingDeps {
  /** Milliseconds since the epoch; kafkajs stamps a batch's records without timestamps with it. */
  readonly nowMs: () => number;
  /** CRC32C of the bytes, as an unsigned 32-bit number. */
  readonly crc32c: (bytes: Buffer) => number;
  /** Writes `value` as kafkajs writes an int64 (its Long.fromValue), big-endian at `offset`. */
  readonly writeInt64: (buf: Buffer, value: unknown, offset: number) => void;
}

/** kafkajs' produce request arguments (src/protocol/requests/produce/v3/request.js). */
export interface ProduceRequestArgs {
  readonly acks?: unknown;
  readonly timeout?: unknown;
  readonly transactionalId?: unknown;
  readonly producerId?: unknown;
  readonly producerEpoch?: unknown;
  readonly compression?: unknown;
  readonly topicData?: unknown;
}

/** The request header kafkajs puts before a request's body (src/protocol/request.js). */
export interface RequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: unknown;
}

/** kafkajs' CompressionTypes.None. */
const COMPRESSION_NONE = 0;
const MAGIC_BYTE = 2;
const TRANSACTIONAL_ATTRIBUTE = 16;
/** attributes … firstSequence, then the int32 record count. */
const BATCH_BODY_FIXED = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;
/** firstOffset:int64 length:int32, then leaderEpoch:int32 magic:int8 crc:uint32. */
const BATCH_PREFIX = 8 + 4;
const BATCH_HEADER = 4 + 1 + 4;

interface Message {
  readonly key?: unknown;
  readonly value?: unknown;
  readonly headers?: unknown;
  readonly timestamp?: unknown;
}

interface PartitionPlan {
  readonly partition: unknown;
  readonly firstSequence: unknown;
  readonly messages: readonly Message[];
  readonly firstTimestamp: unknown;
  readonly maxTimestamp: unknown;
  /** Per record: its body length (after the length varint) and its timestamp delta. */
  readonly bodySizes: number[];
  readonly deltas: number[];
  /** batchBody's length. */
  readonly bodySize: number;
}

interface TopicPlan {
  readonly topic: string;
  readonly partitions: PartitionPlan[];
}

interface RequestPlan {
  readonly size: number;
  readonly topics: TopicPlan[];
}

// ---------------------------------------------------------------------------------------------------
// Sizes (the same arithmetic as kafkajs' Encoder: zigzag on 32 bits for varints)

function zigZag32(value: number): number {
  return (value << 1) ^ (value >> 31);
}

function sizeOfUVarInt(value: number): number {
  let v = value;
  let bytes = 1;
  while ((v & 0xffffff80) !== 0) {
    bytes += 1;
    v >>>= 7;
  }
  return bytes;
}

function sizeOfVarInt(value: number): number {
  return sizeOfUVarInt(zigZag32(value));
}

/** A safe integer's zigzag (64-bit), exact as a double: |value| < 2^53. */
function zigZag64(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/** Bytes of a zig-zag varlong (Kafka's record fields; the in-memory broker's batch sizes too). */
export function sizeOfVarLong(value: number): number {
  let v = zigZag64(value);
  let bytes = 1;
  while (v >= 128) {
    bytes += 1;
    v = Math.floor(v / 128);
  }
  return bytes;
}

/** A string's or Buffer's byte length, or -1 for null/undefined, or -2 for anything else. */
function bytesLength(value: unknown): number {
  if (value === null || value === undefined) return -1;
  if (Buffer.isBuffer(value)) return value.length;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  return -2;
}

function sizeOfVarIntBytes(length: number): number {
  return length < 0 ? sizeOfVarInt(-1) : sizeOfVarInt(length) + length;
}

/** kafkajs' nullable string: int16 length (-1 for null) and UTF-8 bytes; -1 if not a string. */
function sizeOfString(value: unknown): number {
  if (value === null || value === undefined) return 2;
  if (typeof value !== 'string') return -1;
  return 2 + Buffer.byteLength(value, 'utf8');
}

/** A header value kafkajs encodes as it sizes it: a Buffer or a string. */
function headerValueSize(value: unknown): number {
  const length = Buffer.isBuffer(value)
    ? value.length
    : typeof value === 'string'
      ? Buffer.byteLength(value, 'utf8')
      : -1;
  return length < 0 ? -1 : sizeOfVarInt(length) + length;
}

/** Headers' bytes after the count, and their count; undefined if kafkajs would encode them otherwise. */
function sizeOfHeaders(headers: unknown): { size: number; count: number } | undefined {
  if (headers === undefined) return { size: sizeOfVarInt(0), count: 0 };
  if (typeof headers !== 'object' || headers === null) return undefined;
  const record = headers as Record<string, unknown>;
  let size = 0;
  let count = 0;
  for (const key of Object.keys(record)) {
    const keyLength = Buffer.byteLength(key, 'utf8');
    const keySize = sizeOfVarInt(keyLength) + keyLength;
    const value = record[key];
    if (Array.isArray(value)) {
      for (const item of value as unknown[]) {
        const valueSize = headerValueSize(item);
        if (valueSize < 0) return undefined;
        size += keySize + valueSize;
        count += 1;
      }
    } else {
      const valueSize = headerValueSize(value);
      if (valueSize < 0) return undefined;
      size += keySize + valueSize;
      count += 1;
    }
  }
  return { size: sizeOfVarInt(count) + size, count };
}

/**
 * kafkajs takes the batch's first and max timestamps from the records' timestamps sorted with
 * Array.prototype.sort's default order — as strings, stably — so this does the same in one pass:
 * the first of the smallest strings and the last of the largest.
 */
function timestampBounds(
  messages: readonly Message[],
  nowMs: number,
): { first: unknown; max: unknown } | undefined {
  let first: unknown;
  let max: unknown;
  let firstText = '';
  let maxText = '';
  let any = false;
  for (const message of messages) {
    const t = message.timestamp;
    if (t === undefined || t === null) continue;
    if (typeof t !== 'number' && (typeof t !== 'string' || t.length === 0)) return undefined;
    const text = String(t);
    if (!any) {
      first = max = t;
      firstText = maxText = text;
      any = true;
      continue;
    }
    if (text < firstText) {
      first = t;
      firstText = text;
    }
    if (text >= maxText) {
      max = t;
      maxText = text;
    }
  }
  return any ? { first, max } : { first: nowMs, max: nowMs };
}

function isPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function planPartition(data: unknown, deps: ProduceEncodingDeps): PartitionPlan | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { partition, firstSequence, messages } = data as {
    partition?: unknown;
    firstSequence?: unknown;
    messages?: unknown;
  };
  if (!Array.isArray(messages)) return undefined;
  const list = messages as unknown[];
  // kafkajs spreads each message: only a plain object's own properties read the same directly.
  for (const m of list) if (!isPlainObject(m)) return undefined;
  const typed = list as Message[];
  const dateNow = deps.nowMs();
  const bounds = timestampBounds(typed, dateNow);
  if (bounds === undefined) return undefined;
  const bodySizes: number[] = new Array<number>(typed.length);
  const deltas: number[] = new Array<number>(typed.length);
  let bodySize = BATCH_BODY_FIXED;
  for (let i = 0; i < typed.length; i++) {
    const message = typed[i]!;
    // kafkajs: (message.timestamp || dateNow) - firstTimestamp, written as a varlong.
    const stamp = (message.timestamp || dateNow) as number;
    const delta = stamp - (bounds.first as number);
    if (!Number.isSafeInteger(delta)) return undefined;
    const keyLength = bytesLength(message.key);
    const valueLength = bytesLength(message.value);
    if (keyLength === -2 || valueLength === -2) return undefined;
    const headers = sizeOfHeaders(message.headers);
    if (headers === undefined) return undefined;
    const size =
      1 +
      sizeOfVarLong(delta) +
      sizeOfVarInt(i) +
      sizeOfVarIntBytes(keyLength) +
      sizeOfVarIntBytes(valueLength) +
      headers.size;
    bodySizes[i] = size;
    deltas[i] = delta;
    bodySize += sizeOfVarInt(size) + size;
  }
  return {
    partition,
    firstSequence,
    messages: typed,
    firstTimestamp: bounds.first,
    maxTimestamp: bounds.max,
    bodySizes,
    deltas,
    bodySize,
  };
}

function plan(args: ProduceRequestArgs, deps: ProduceEncodingDeps): RequestPlan | undefined {
  if (args.compression !== undefined && args.compression !== COMPRESSION_NONE) return undefined;
  const transactionalSize = sizeOfString(args.transactionalId);
  if (transactionalSize < 0 || !Array.isArray(args.topicData)) return undefined;
  let size = transactionalSize + 2 + 4 + 4;
  const topics: TopicPlan[] = [];
  for (const data of args.topicData as unknown[]) {
    if (typeof data !== 'object' || data === null) return undefined;
    const { topic, partitions } = data as { topic?: unknown; partitions?: unknown };
    if (typeof topic !== 'string' || !Array.isArray(partitions)) return undefined;
    size += sizeOfString(topic) + 4;
    const planned: PartitionPlan[] = [];
    for (const p of partitions as unknown[]) {
      const partition = planPartition(p, deps);
      if (partition === undefined) return undefined;
      size += 4 + 4 + BATCH_PREFIX + BATCH_HEADER + partition.bodySize;
      planned.push(partition);
    }
    topics.push({ topic, partitions: planned });
  }
  return { size, topics };
}

// ---------------------------------------------------------------------------------------------------
// Writing (every byte of the buffer is written: the caller checks the final offset)

function writeUVarInt(buf: Buffer, value: number, offset: number): number {
  let v = value;
  let o = offset;
  while ((v & 0xffffff80) !== 0) {
    buf[o++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[o++] = v & 0x7f;
  return o;
}

function writeVarInt(buf: Buffer, value: number, offset: number): number {
  return writeUVarInt(buf, zigZag32(value), offset);
}

function writeVarLong(buf: Buffer, value: number, offset: number): number {
  let v = zigZag64(value);
  let o = offset;
  while (v >= 128) {
    buf[o++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[o++] = v;
  return o;
}

/** kafkajs' writeVarIntBytes for a Buffer, a string, or null/undefined. */
function writeVarIntBytes(buf: Buffer, value: unknown, offset: number): number {
  if (value === null || value === undefined) return writeVarInt(buf, -1, offset);
  if (Buffer.isBuffer(value)) {
    const o = writeVarInt(buf, value.length, offset);
    buf.set(value, o);
    return o + value.length;
  }
  const text = value as string;
  const o = writeVarInt(buf, Buffer.byteLength(text, 'utf8'), offset);
  return o + buf.write(text, o, 'utf8');
}

function writeString(buf: Buffer, value: unknown, offset: number): number {
  if (value === null || value === undefined) return buf.writeInt16BE(-1, offset);
  const text = value as string;
  const o = buf.writeInt16BE(Buffer.byteLength(text, 'utf8'), offset);
  return o + buf.write(text, o, 'utf8');
}

function writeHeaders(buf: Buffer, headers: unknown, offset: number): number {
  if (headers === undefined) return writeVarInt(buf, 0, offset);
  const record = headers as Record<string, unknown>;
  const keys = Object.keys(record);
  let count = 0;
  for (const key of keys) {
    const value = record[key];
    count += Array.isArray(value) ? value.length : 1;
  }
  let o = writeVarInt(buf, count, offset);
  for (const key of keys) {
    const value = record[key];
    if (Array.isArray(value)) {
      for (const item of value as unknown[]) {
        o = writeVarIntBytes(buf, key, o);
        o = writeVarIntBytes(buf, item, o);
      }
    } else {
      o = writeVarIntBytes(buf, key, o);
      o = writeVarIntBytes(buf, value, o);
    }
  }
  return o;
}

function writePartition(
  buf: Buffer,
  p: PartitionPlan,
  args: ProduceRequestArgs,
  deps: ProduceEncodingDeps,
  offset: number,
): number {
  const batchLength = BATCH_HEADER + p.bodySize;
  let o = buf.writeInt32BE(p.partition as number, offset);
  o = buf.writeInt32BE(BATCH_PREFIX + batchLength, o);
  o = buf.writeInt32BE(0, o); // firstOffset (int64 0)
  o = buf.writeInt32BE(0, o);
  o = buf.writeInt32BE(batchLength, o);
  o = buf.writeInt32BE(0, o); // partitionLeaderEpoch
  o = buf.writeInt8(MAGIC_BYTE, o);
  const crcAt = o;
  const bodyStart = o + 4;
  o = buf.writeInt16BE(args.transactionalId ? TRANSACTIONAL_ATTRIBUTE : 0, bodyStart);
  o = buf.writeInt32BE(p.messages.length - 1, o); // lastOffsetDelta
  deps.writeInt64(buf, p.firstTimestamp, o);
  deps.writeInt64(buf, p.maxTimestamp, o + 8);
  // kafkajs' defaults apply to undefined only; null goes on to Long.fromValue and Buffer's writers.
  deps.writeInt64(buf, args.producerId === undefined ? -1 : args.producerId, o + 16);
  o = buf.writeInt16BE(
    (args.producerEpoch === undefined ? 0 : args.producerEpoch) as number,
    o + 24,
  );
  o = buf.writeInt32BE((p.firstSequence === undefined ? 0 : p.firstSequence) as number, o);
  o = buf.writeInt32BE(p.messages.length, o);
  for (let i = 0; i < p.messages.length; i++) {
    const m = p.messages[i]!;
    o = writeVarInt(buf, p.bodySizes[i]!, o);
    buf[o++] = 0; // record attributes
    o = writeVarLong(buf, p.deltas[i]!, o);
    o = writeVarInt(buf, i, o);
    o = writeVarIntBytes(buf, m.key, o);
    o = writeVarIntBytes(buf, m.value, o);
    o = writeHeaders(buf, m.headers, o);
  }
  buf.writeUInt32BE(deps.crc32c(buf.subarray(bodyStart, o)), crcAt);
  return o;
}

function writeBody(
  buf: Buffer,
  requestPlan: RequestPlan,
  args: ProduceRequestArgs,
  deps: ProduceEncodingDeps,
  offset: number,
): number {
  let o = writeString(buf, args.transactionalId, offset);
  o = buf.writeInt16BE(args.acks as number, o);
  o = buf.writeInt32BE(args.timeout as number, o);
  o = buf.writeInt32BE(requestPlan.topics.length, o);
  for (const topic of requestPlan.topics) {
    o = writeString(buf, topic.topic, o);
    o = buf.writeInt32BE(topic.partitions.length, o);
    for (const p of topic.partitions) o = writePartition(buf, p, args, deps, o);
  }
  return o;
}

function written(buf: Buffer, end: number): Buffer {
  // Buffer.allocUnsafe is safe only because every byte is written; a short write is a bug here.
  if (end !== buf.length)
    throw new TransportError(
      'TRANSPORT_FAILED',
      `produce request encoding wrote ${end} of ${buf.length} bytes`,
    );
  return buf;
}

/**
 * The produce request's body exactly as kafkajs' encode() produces it, or undefined when kafkajs
 * must encode it (compression, or an input outside the ones this reproduces).
 */
export function encodeProduceRequestBody(
  args: ProduceRequestArgs,
  deps: ProduceEncodingDeps,
): Buffer | undefined {
  const requestPlan = plan(args, deps);
  if (requestPlan === undefined) return undefined;
  const buf = Buffer.allocUnsafe(requestPlan.size);
  return written(buf, writeBody(buf, requestPlan, args, deps, 0));
}

/**
 * The whole framed request — size, header and body — exactly as kafkajs' createRequest frames
 * its produce request, in one buffer; undefined as for encodeProduceRequestBody, or when the
 * client id is not a string.
 */
export function encodeFramedProduceRequest(
  args: ProduceRequestArgs,
  header: RequestHeader,
  deps: ProduceEncodingDeps,
): Buffer | undefined {
  const clientIdSize = sizeOfString(header.clientId);
  if (clientIdSize < 0) return undefined;
  const requestPlan = plan(args, deps);
  if (requestPlan === undefined) return undefined;
  const payloadSize = 2 + 2 + 4 + clientIdSize + requestPlan.size;
  const buf = Buffer.allocUnsafe(4 + payloadSize);
  let o = buf.writeInt32BE(payloadSize, 0);
  o = buf.writeInt16BE(header.apiKey, o);
  o = buf.writeInt16BE(header.apiVersion, o);
  o = buf.writeInt32BE(header.correlationId, o);
  o = writeString(buf, header.clientId, o);
  return written(buf, writeBody(buf, requestPlan, args, deps, o));
}
