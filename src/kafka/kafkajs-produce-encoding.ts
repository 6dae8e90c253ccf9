/**
 * Installs the linear produce-request encoding (produce-request-encoding.ts) into kafkajs
 * (docs/PERFORMANCE.md "Where the time goes"). kafkajs 2.2.4 has no option for it, so this puts
 * two replacements into Node's module cache under kafkajs' own module paths
 * (kafkajs-module-cache.ts), before kafkajs loads them:
 *
 * - its produce request v3 (which v4–v7 reuse): the same request object, whose encode() writes the
 *   body once into one buffer and which carries a way to write the whole framed request at once;
 * - its request framing (src/protocol/request.js, used by its connection for every request): for a
 *   produce request carrying that, the size, header and body in one buffer; for every other
 *   request, kafkajs' own framing.
 *
 * Compressed batches, and inputs the linear encoding does not reproduce, go to kafkajs' own code.
 * kafkajs keeps its own modules when it had loaded them earlier or they are not where expected.
 * Before anything uses the linear encoding, it is checked against kafkajs' own on fixed inputs
 * (kafkajs' encoders are async, so the check is too: until it has passed, and forever when it
 * fails, every request goes to kafkajs' own code). The broker verifies each batch's CRC32C and
 * framing on produce, so every produce on the real stack checks this too.
 */
import { systemClock } from '../runtime/clock.js';
// kafkajs' CRC32C must be replaced before kafkajs' own request loads its record-batch encoder.
import './kafkajs-crc32c.js';
import {
  alreadyLoaded,
  kafkajsModulePath,
  kafkajsRequire,
  preloadModule,
} from './kafkajs-module-cache.js';
import {
  encodeFramedProduceRequest,
  encodeProduceRequestBody,
  type ProduceEncodingDeps,
  type ProduceRequestArgs,
} from './produce-request-encoding.js';

/** Which produce-request encoding kafkajs uses, and why. */
export type KafkajsProduceEncoding =
  | { readonly kind: 'linear' }
  | {
      readonly kind: 'kafkajs';
      readonly reason:
        'module not found' | 'kafkajs request encoding already loaded' | 'check failed';
    };

/** What kafkajs' encode() returns and its connection accepts: an Encoder (its `buf`, `offset`). */
interface EncoderLike {
  readonly buf: Buffer;
  readonly offset: number;
  readonly buffer: Buffer;
}

/** kafkajs' request object as its produce request v3 builds it. */
interface KafkajsRequest {
  apiKey: number;
  apiVersion: number;
  encode: () => Promise<EncoderLike>;
  [FRAMED]?: (
    apiKey: number,
    apiVersion: number,
    correlationId: number,
    clientId: unknown,
  ) => Buffer | undefined;
}
export type ProduceRequestModule = (args: ProduceRequestArgs) => KafkajsRequest;

interface CreateRequestArgs {
  readonly correlationId: number;
  readonly clientId: unknown;
  readonly request: KafkajsRequest;
}
export type CreateRequestModule = (args: CreateRequestArgs) => Promise<EncoderLike>;

const PRODUCE_MODULE = 'kafkajs/src/protocol/requests/produce/v3/request.js';
const FRAMING_MODULE = 'kafkajs/src/protocol/request.js';
const ENCODER_MODULE = 'kafkajs/src/protocol/encoder.js';
const LONG_MODULE = 'kafkajs/src/utils/long.js';
const CRC_MODULE = 'kafkajs/src/protocol/recordBatch/crc32C/index.js';

/** Marks a request whose framed bytes this module writes itself. */
const FRAMED = Symbol('sealpost.framedProduceRequest');

interface KafkajsLong {
  getHighBits(): number;
  getLowBits(): number;
}

/** The encoding's collaborators taken from kafkajs itself: its Long, its (possibly native) CRC32C. */
export function kafkajsEncodingDeps(): ProduceEncodingDeps {
  const Long = kafkajsRequire(LONG_MODULE) as { fromValue(value: unknown): KafkajsLong };
  const crc32c = kafkajsRequire(CRC_MODULE) as (bytes: Buffer) => number;
  return {
    nowMs: () => systemClock.nowMs(),
    crc32c,
    writeInt64: (buf, value, offset) => {
      const long = Long.fromValue(value);
      buf.writeInt32BE(long.getHighBits(), offset);
      buf.writeInt32BE(long.getLowBits(), offset + 4);
    },
  };
}

/** Wraps bytes as a kafkajs Encoder holding exactly them (no copy, no zero-filled spare). */
function encoderOf(): (bytes: Buffer) => EncoderLike {
  const Encoder = kafkajsRequire(ENCODER_MODULE) as { prototype: object };
  return (bytes) => {
    const encoder = Object.create(Encoder.prototype) as { buf: Buffer; offset: number };
    encoder.buf = bytes;
    encoder.offset = bytes.length;
    return encoder as unknown as EncoderLike;
  };
}

/** kafkajs' produce request with the linear encode() and framing; compressed ones unchanged. */
export function linearProduceRequest(
  own: ProduceRequestModule,
  deps: ProduceEncodingDeps,
): ProduceRequestModule {
  const toEncoder = encoderOf();
  return (args) => {
    const request = own(args);
    if (args.compression !== undefined && args.compression !== 0) return request;
    const ownEncode = request.encode;
    request.encode = async () => {
      const bytes = encodeProduceRequestBody(args, deps);
      return bytes === undefined ? ownEncode() : toEncoder(bytes);
    };
    request[FRAMED] = (apiKey, apiVersion, correlationId, clientId) =>
      encodeFramedProduceRequest(args, { apiKey, apiVersion, correlationId, clientId }, deps);
    return request;
  };
}

/** kafkajs' request framing, writing a linear produce request's whole frame at once. */
export function linearCreateRequest(own: CreateRequestModule): CreateRequestModule {
  const toEncoder = encoderOf();
  return async (args) => {
    const { request, correlationId, clientId } = args;
    const framed = request[FRAMED];
    if (framed !== undefined) {
      const bytes = framed(request.apiKey, request.apiVersion, correlationId, clientId);
      if (bytes !== undefined) return toEncoder(bytes);
    }
    return own(args);
  };
}

/** Deterministic bytes (the check needs no randomness). */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 131 + seed) & 0xff;
  return b;
}

/**
 * Fixed requests covering what the linear encoding writes: null and string keys and values,
 * headers (string and Buffer values, arrays), timestamps as strings and numbers (every message has
 * one, so the clock is not read), an idempotent and transactional producer, several topics and
 * partitions, a value long enough for three-byte varints, negative timestamp deltas. Each is tried at two API versions.
 */
function checkCases(): ProduceRequestArgs[] {
  const big = pattern(20_000, 7);
  const base = 1_700_000_000_000;
  const messages = (n: number, seed: number): object[] =>
    Array.from({ length: n }, (_, i) => ({
      key: i % 3 === 0 ? null : i % 3 === 1 ? `key-${seed}-${i}-é` : pattern(i + 1, seed),
      value:
        i === 1 ? big : i % 4 === 2 ? null : i % 4 === 3 ? 'välue' : pattern(40 + i * 13, seed),
      ...(i % 2 === 0
        ? { headers: { a: 'x', 'b-ü': pattern(5, i), list: [pattern(3, 1), 'y'], none: [] } }
        : {}),
      timestamp: i % 2 === 0 ? String(base + 1000 - i * 7) : base + i * 999,
    }));
  return [
    {
      acks: -1,
      timeout: 30_000,
      topicData: [{ topic: 'check', partitions: [{ partition: 0, messages: messages(5, 1) }] }],
    },
    {
      acks: 1,
      timeout: 5000,
      transactionalId: 'tx-ü',
      producerId: 4321,
      producerEpoch: 3,
      topicData: [
        {
          topic: 'check-a',
          partitions: [
            { partition: 2, firstSequence: 17, messages: messages(9, 2) },
            { partition: 0, firstSequence: 0, messages: messages(1, 3) },
          ],
        },
        { topic: 'check-b', partitions: [{ partition: 1, messages: messages(3, 4) }] },
      ],
    },
    {
      // kafkajs orders timestamps as strings: "999" after "1000", so some deltas are negative.
      acks: 0,
      timeout: 1,
      topicData: [
        {
          topic: 'check-c',
          partitions: [
            {
              partition: 5,
              messages: ['999', 1000, '5', 99, 1_000_000].map((timestamp, i) => ({
                key: null,
                value: pattern(i, 3),
                timestamp,
              })),
            },
          ],
        },
      ],
    },
  ];
}

async function bytesOf(encoder: Promise<EncoderLike>): Promise<Buffer> {
  return Buffer.from((await encoder).buffer);
}

/**
 * True when the linear request and framing give kafkajs' own bytes for every check case: the
 * request's encode() and the framed request, at API versions 3 and 7.
 */
export async function sameAsKafkajs(
  own: { produce: ProduceRequestModule; createRequest: CreateRequestModule },
  linear: { produce: ProduceRequestModule; createRequest: CreateRequestModule },
): Promise<boolean> {
  try {
    for (const args of checkCases()) {
      const a = await bytesOf(own.produce(args).encode());
      const b = await bytesOf(linear.produce(args).encode());
      if (!a.equals(b)) return false;
      for (const apiVersion of [3, 7]) {
        const header = { correlationId: 12_345 + apiVersion, clientId: 'sealpost-check' };
        const ownRequest = Object.assign(own.produce(args), { apiVersion });
        const linearRequest = Object.assign(linear.produce(args), { apiVersion });
        const c = await bytesOf(own.createRequest({ ...header, request: ownRequest }));
        const d = await bytesOf(linear.createRequest({ ...header, request: linearRequest }));
        if (!c.equals(d)) return false;
      }
    }
    return true;
  } catch {
    return false;
  }
}

function install(): Promise<KafkajsProduceEncoding> {
  const producePath = kafkajsModulePath(PRODUCE_MODULE);
  const framingPath = kafkajsModulePath(FRAMING_MODULE);
  if (producePath === undefined || framingPath === undefined)
    return Promise.resolve({ kind: 'kafkajs', reason: 'module not found' });
  if (alreadyLoaded(producePath) || alreadyLoaded(framingPath))
    return Promise.resolve({ kind: 'kafkajs', reason: 'kafkajs request encoding already loaded' });
  // Loading kafkajs' own for the check and the fallback caches them; preloadModule below replaces
  // the cache entries before kafkajs' connection and produce protocol require them.
  let own: { produce: ProduceRequestModule; createRequest: CreateRequestModule };
  let linear: typeof own;
  try {
    own = {
      produce: kafkajsRequire(producePath) as ProduceRequestModule,
      createRequest: kafkajsRequire(framingPath) as CreateRequestModule,
    };
    linear = {
      produce: linearProduceRequest(own.produce, kafkajsEncodingDeps()),
      createRequest: linearCreateRequest(own.createRequest),
    };
  } catch {
    // A kafkajs whose modules are laid out differently (its Encoder, Long or CRC32C elsewhere).
    return Promise.resolve({ kind: 'kafkajs', reason: 'module not found' });
  }
  let checked = false;
  preloadModule(producePath, ((args) =>
    (checked ? linear.produce : own.produce)(args)) satisfies ProduceRequestModule);
  preloadModule(framingPath, linear.createRequest);
  return sameAsKafkajs(own, linear).then((same) => {
    checked = same;
    return same ? { kind: 'linear' } : { kind: 'kafkajs', reason: 'check failed' };
  });
}

/**
 * Resolved once the check has run (it starts when this module is first evaluated, before kafkajs
 * loads, and settles within that turn of the event loop: no I/O).
 */
export const kafkajsProduceEncoding: Promise<KafkajsProduceEncoding> = install();
