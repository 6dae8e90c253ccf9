/**
 * kafkajs' own decoding of a fetch response's record set against the linear one
 * (src/kafka/kafkajs-fetch-decoding.ts) in one process, no broker: a partition's record set of
 * `--batches` record batches of `--records` records (a 16-byte key, a `--value`-byte value, and
 * optionally two headers; `--gzip`: gzip-compressed batches), encoded by kafkajs' own record-batch encoder, decoded
 * as kafkajs' fetch response v11 does. Rounds alternate own and linear; per round, CPU per record
 * (process.cpuUsage, and the main thread's alone where Node has process.threadCpuUsage) over
 * `--fetches` decodings; medians and per-round ratios linear/own at the end.
 *
 *   npx tsx bench/fetch-decoding-ab.ts [--rounds 20] [--fetches 40] [--batches 2] [--records 500]
 *     [--value 1000] [--headers] [--gzip]
 *
 * kafkajs' own decodeMessages is loaded first, so the install keeps it and this builds the linear
 * one beside it with the same factories the install uses.
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import '../src/kafka/kafkajs-crc32c.js';
import { ownVsLinear, type RoundCpu } from './own-vs-linear.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string): number => {
  const i = argv.indexOf(`--${name}`);
  return Number(i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback);
};
const ROUNDS = opt('rounds', '20');
const FETCHES = opt('fetches', '40');
const BATCHES = opt('batches', '2');
const RECORDS = opt('records', '500');
const VALUE = opt('value', '1000');
const HEADERS = argv.includes('--headers');
const GZIP = argv.includes('--gzip');

const require = createRequire(import.meta.url);
type DecodeMessages = (decoder: unknown) => Promise<unknown[]>;
const own = require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js') as DecodeMessages;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch: (args: object) => Promise<{ buffer: Buffer }>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (
  args: object,
) => unknown;
const { linearDecodeMessages, kafkajsDecodingDeps } =
  await import('../src/kafka/kafkajs-fetch-decoding.js');
const linear = linearDecodeMessages(own, kafkajsDecodingDeps()) as DecodeMessages;

const batches: Buffer[] = [];
for (let b = 0; b < BATCHES; b++) {
  const records = Array.from({ length: RECORDS }, (_, i) =>
    Record({
      offsetDelta: i,
      timestampDelta: i,
      key: randomBytes(16),
      value: randomBytes(VALUE + (i % 7)),
      headers: HEADERS ? { 'sealpost.v': randomBytes(1), 'sealpost.s': randomBytes(24) } : {},
    }),
  );
  const bytes = await RecordBatch({
    compression: GZIP ? 1 : 0,
    firstOffset: String(1_000_000 + b * RECORDS),
    firstTimestamp: '1765000000000',
    maxTimestamp: String(1765000000000 + RECORDS),
    lastOffsetDelta: RECORDS - 1,
    records,
  });
  batches.push(Buffer.from(bytes.buffer));
}
const set = Buffer.concat(batches);
const recordSet = Buffer.alloc(4 + set.length);
recordSet.writeInt32BE(set.length, 0);
set.copy(recordSet, 4);

const threadCpu = (
  process as unknown as { threadCpuUsage?: () => { user: number; system: number } }
).threadCpuUsage?.bind(process);

async function round(impl: DecodeMessages): Promise<RoundCpu> {
  const t0 = process.cpuUsage();
  const m0 = threadCpu?.();
  let count = 0;
  for (let f = 0; f < FETCHES; f++) count += (await impl(new Decoder(recordSet))).length;
  const t = process.cpuUsage(t0);
  const m1 = threadCpu?.();
  if (count !== FETCHES * BATCHES * RECORDS) throw new Error(`decoded ${count} records`);
  return {
    cpu: (t.user + t.system) / count,
    main:
      m0 === undefined || m1 === undefined
        ? undefined
        : (m1.user - m0.user + m1.system - m0.system) / count,
  };
}

await ownVsLinear(
  round,
  own,
  linear,
  ROUNDS,
  3,
  `${ROUNDS} rounds × ${FETCHES} fetches × ${BATCHES} batches × ${RECORDS} records of ${VALUE} B${HEADERS ? ' + 2 headers' : ''}${GZIP ? ', gzip' : ''}`,
);
