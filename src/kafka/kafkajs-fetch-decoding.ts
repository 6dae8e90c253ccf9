/**
 * Installs the linear decoding of fetched record batches (fetch-record-decoding.ts) into kafkajs
 * (docs/PERFORMANCE.md "Where the time goes"). kafkajs 2.2.4 has no option for it, so this puts a
 * replacement for its fetch responses' record-set decoder (src/protocol/requests/fetch/v4/
 * decodeMessages.js, which fetch responses v4–v11 use) into Node's module cache under kafkajs' own
 * module path (kafkajs-module-cache.ts), before kafkajs first requires it — kafkajs loads it with
 * the first fetch response version it builds, not with its entry point, so this holds even when
 * kafkajs was imported first, unless that process had already fetched.
 *
 * The replacement gives exactly kafkajs' records (the same fields in the same order, the same
 * offset and timestamp strings, the same headers objects, one batch context object per batch).
 * A record set in the old message formats (magic 0 or 1) goes whole to kafkajs' own decoder, and
 * each batch the linear decoding does not reproduce (malformed, a codec kafkajs lacks) to kafkajs' own batch
 * decoder. Before anything uses it, it is checked against kafkajs' own on fixed record sets
 * (kafkajs' decoders are async, so the check is too: until it has passed, and forever when it
 * fails, every record set goes to kafkajs' own code).
 */
// kafkajs' CRC32C must be replaced before the check below loads kafkajs' record-batch encoder.
import './kafkajs-crc32c.js';
import {
  decodeRecordBatches,
  type BatchFallback,
  type CodecLookup,
  type KafkajsRecord,
} from './fetch-record-decoding.js';
import {
  alreadyLoaded,
  kafkajsModulePath,
  kafkajsRequire,
  preloadModule,
} from './kafkajs-module-cache.js';

/** Which record-set decoding kafkajs' fetch responses use, and why. */
export type KafkajsFetchDecoding =
  | { readonly kind: 'linear' }
  | {
      readonly kind: 'kafkajs';
      readonly reason:
        'module not found' | 'kafkajs record-set decoding already loaded' | 'check failed';
    };

/** The part of kafkajs' Decoder (src/protocol/decoder.js) the record-set decoder uses. */
export interface KafkajsDecoder {
  offset: number;
  readInt32(): number;
  canReadBytes(length: number): boolean;
  readBytes(length: number): Buffer;
}
type DecoderClass = new (buffer: Buffer) => KafkajsDecoder;

/** kafkajs' fetch v4 decodeMessages: a partition's record set from the response's decoder. */
export type DecodeMessagesModule = (decoder: KafkajsDecoder) => Promise<unknown[]>;
type RecordBatchDecoderModule = (decoder: KafkajsDecoder) => Promise<{ records: unknown[] }>;

const DECODE_MODULE = 'kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js';
const BATCH_DECODER_MODULE = 'kafkajs/src/protocol/recordBatch/v0/decoder.js';
const DECODER_MODULE = 'kafkajs/src/protocol/decoder.js';
const COMPRESSION_MODULE = 'kafkajs/src/protocol/message/compression/index.js';
const BATCH_ENCODER_MODULE = 'kafkajs/src/protocol/recordBatch/v0/index.js';
const RECORD_ENCODER_MODULE = 'kafkajs/src/protocol/recordBatch/record/v0/index.js';

/** Where every message format has its magic byte, as kafkajs reads it. */
const MAGIC_OFFSET = 16;
const MAGIC_BYTE = 2;

/** What the linear decoding takes from kafkajs: its codec lookup and its own batch decoder. */
export interface FetchDecodingDeps {
  readonly codecFor: CodecLookup;
  readonly fallback: BatchFallback;
}

/** kafkajs' codec lookup and its own decoding of one record batch from a Decoder at `start`. */
export function kafkajsDecodingDeps(): FetchDecodingDeps {
  const Decoder = kafkajsRequire(DECODER_MODULE) as DecoderClass;
  const decodeBatch = kafkajsRequire(BATCH_DECODER_MODULE) as RecordBatchDecoderModule;
  const { lookupCodecByAttributes } = kafkajsRequire(COMPRESSION_MODULE) as {
    lookupCodecByAttributes: CodecLookup;
  };
  return {
    codecFor: lookupCodecByAttributes,
    fallback: async (messages, start) => {
      const decoder = new Decoder(messages);
      decoder.offset = start;
      const batch = await decodeBatch(decoder);
      return { records: batch.records, end: decoder.offset };
    },
  };
}

/** kafkajs' decodeMessages with the linear decoding of record batches (magic 2). */
export function linearDecodeMessages(
  own: DecodeMessagesModule,
  deps: FetchDecodingDeps,
): DecodeMessagesModule {
  return async (decoder) => {
    const start = decoder.offset;
    const size = decoder.readInt32();
    if (size <= 0 || !decoder.canReadBytes(size)) return [];
    const messages = decoder.readBytes(size);
    if (size <= MAGIC_OFFSET || messages.readInt8(MAGIC_OFFSET) !== MAGIC_BYTE) {
      decoder.offset = start;
      return own(decoder);
    }
    return decodeRecordBatches(messages, deps.codecFor, deps.fallback);
  };
}

/** The same values: primitives, Buffers by bytes, arrays, and objects with the same keys in order. */
export function sameDecoded(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b))
    return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const keys = Reflect.ownKeys(a);
  const otherKeys = Reflect.ownKeys(b);
  if (keys.length !== otherKeys.length || keys.some((k, i) => k !== otherKeys[i])) return false;
  const x = a as Record<PropertyKey, unknown>;
  const y = b as Record<PropertyKey, unknown>;
  return keys.every((k) => sameDecoded(x[k], y[k]));
}

/** Deterministic bytes (the check needs no randomness). */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 131 + seed) & 0xff;
  return b;
}

interface BatchEncoderArgs {
  compression?: number;
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  lastOffsetDelta: number;
  transactional?: boolean;
  producerId?: string;
  producerEpoch?: number;
  firstSequence?: number;
  records: unknown[];
}

/**
 * Fixed record sets covering what the linear decoding reads, built by kafkajs' own encoder (one
 * batch gzip-compressed): null,
 * empty and long keys and values (three-byte varints), repeated and inherited header keys,
 * negative timestamp deltas, offsets and timestamps on both sides of 2^53, transactional, control
 * and log-append-time batches (their attribute bits set after encoding: kafkajs does not check
 * the CRC), and a batch cut off at the end.
 */
async function checkCases(): Promise<Buffer[]> {
  const RecordBatch = (
    kafkajsRequire(BATCH_ENCODER_MODULE) as {
      RecordBatch: (args: BatchEncoderArgs) => Promise<{ buffer: Buffer }>;
    }
  ).RecordBatch;
  const Record = kafkajsRequire(RECORD_ENCODER_MODULE) as (args: object) => unknown;
  const records = (n: number, seed: number): unknown[] =>
    Array.from({ length: n }, (_, i) =>
      Record({
        offsetDelta: i,
        timestampDelta: (i % 3) * 1000 - 700,
        key: i % 3 === 0 ? null : pattern(i, seed),
        value: i === 1 ? pattern(20_000, seed) : i % 4 === 2 ? null : pattern(40 + i, seed),
        headers:
          i % 2 === 0
            ? { a: 'x', toString: pattern(2, i), 'b-ü': [pattern(3, 1), 'y', 'z'], none: [] }
            : {},
      }),
    );
  const batch = async (args: BatchEncoderArgs, attributeBits = 0): Promise<Buffer> => {
    const bytes = Buffer.from((await RecordBatch(args)).buffer);
    bytes.writeInt16BE(bytes.readInt16BE(21) | attributeBits, 21);
    return bytes;
  };
  const plain = await batch({
    firstOffset: '0',
    firstTimestamp: '1700000000000',
    maxTimestamp: '1700000002000',
    lastOffsetDelta: 6,
    records: records(7, 1),
  });
  const big = await batch(
    {
      firstOffset: '9007199254740990',
      firstTimestamp: '9007199254740000',
      maxTimestamp: '9007199254741000',
      lastOffsetDelta: 4,
      transactional: true,
      producerId: '4321',
      producerEpoch: 3,
      firstSequence: 17,
      records: records(5, 2),
    },
    0x08,
  );
  const control = await batch(
    {
      firstOffset: '12',
      firstTimestamp: '-5',
      maxTimestamp: '3',
      lastOffsetDelta: 0,
      transactional: true,
      records: records(1, 3),
    },
    0x20,
  );
  const gzip = await batch({
    compression: 1,
    firstOffset: '40',
    firstTimestamp: '1700000000000',
    maxTimestamp: '1700000002000',
    lastOffsetDelta: 5,
    records: records(6, 4),
  });
  const sized = (bytes: Buffer): Buffer => {
    const out = Buffer.alloc(4 + bytes.length);
    out.writeInt32BE(bytes.length, 0);
    bytes.copy(out, 4);
    return out;
  };
  return [
    sized(plain),
    sized(Buffer.concat([plain, big, gzip, control])),
    sized(Buffer.concat([big, plain.subarray(0, plain.length - 9)])),
  ];
}

/** True when the linear decodeMessages gives kafkajs' own records for every check case. */
export async function sameAsKafkajs(
  own: DecodeMessagesModule,
  linear: DecodeMessagesModule,
): Promise<boolean> {
  try {
    const Decoder = kafkajsRequire(DECODER_MODULE) as DecoderClass;
    for (const bytes of await checkCases()) {
      const a = await own(new Decoder(bytes));
      const b = (await linear(new Decoder(bytes))) as KafkajsRecord[];
      if (b.length === 0 || !sameDecoded(a, b)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function install(): Promise<KafkajsFetchDecoding> {
  const path = kafkajsModulePath(DECODE_MODULE);
  if (path === undefined) return Promise.resolve({ kind: 'kafkajs', reason: 'module not found' });
  if (alreadyLoaded(path))
    return Promise.resolve({
      kind: 'kafkajs',
      reason: 'kafkajs record-set decoding already loaded',
    });
  // Loading kafkajs' own for the check and the fallback caches it; preloadModule below replaces
  // the cache entry before kafkajs' fetch responses require it.
  let own: DecodeMessagesModule;
  let linear: DecodeMessagesModule;
  try {
    own = kafkajsRequire(path) as DecodeMessagesModule;
    linear = linearDecodeMessages(own, kafkajsDecodingDeps());
  } catch {
    return Promise.resolve({ kind: 'kafkajs', reason: 'module not found' });
  }
  let checked = false;
  // Named, so a test can tell it from kafkajs' own (`decodeMessages`).
  const installed: DecodeMessagesModule = function sealpostDecodeMessages(decoder) {
    return (checked ? linear : own)(decoder);
  };
  preloadModule(path, installed);
  return sameAsKafkajs(own, linear).then((same) => {
    checked = same;
    return same ? { kind: 'linear' } : { kind: 'kafkajs', reason: 'check failed' };
  });
}

/**
 * Resolved once the check has run (it starts when this module is first evaluated and settles
 * within milliseconds: its gzip batch is compressed and inflated on libuv's thread pool; record
 * sets fetched before then are decoded by kafkajs' own code).
 */
export const kafkajsFetchDecoding: Promise<KafkajsFetchDecoding> = install();
