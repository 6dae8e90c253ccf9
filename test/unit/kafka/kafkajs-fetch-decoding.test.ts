/**
 * kafkajs' fetch responses decode a partition's record batches with the linear decoding that
 * src/kafka/kafkajs-fetch-decoding.ts installs, with exactly kafkajs' own records (or kafkajs' own
 * error); when kafkajs' record-set decoder was loaded before it, kafkajs keeps its own, and a linear
 * decoding that differs from kafkajs' fails the install-time check. Each case runs in a fresh Node
 * process (the module cache is per process and vitest's workers share it between test files).
 */
import { describe, expect, it } from 'vitest';
import { runFreshScriptForJson } from '../../support/fresh-process.js';

/** Runs a case's script in a fresh Node process; the random cases take a while, hence 120 s. */
const run = (script: string) => runFreshScriptForJson(script, { timeoutMs: 120_000 });

const REQUIRE = `
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
const require = createRequire(process.cwd() + '/package.json');
const DECODE = 'kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js';
const Decoder = require('kafkajs/src/protocol/decoder.js');
`;

/**
 * Random record sets written byte by byte (seeded, so a failure reproduces): 1–3 batches of 0–30
 * records; first offsets and timestamps small, on both sides of 2^53, near ±2^63 and negative;
 * timestamp deltas of 1–10 varlong bytes (7 and 8 bytes around 2^48, beyond int64 at 10);
 * offset deltas in order, negative or at the int32 limits; null, empty and random keys and values;
 * headers with repeated keys, keys Object.prototype has ("toString", "__proto__"), null keys and
 * values; transactional, control and log-append-time batches, random leader epochs, CRCs and
 * record attributes; a fifth of the batches gzip-compressed. About a third carry one fault kafkajs meets in its own way: a set cut off
 * mid-batch (the fetch's size limit), a size prefix longer than the response, a batch length too
 * long or too short, bytes after a batch's records, a record length off by one, a key length of
 * -2, a record count of -1, -5, one too few or one too many, a header count of -1 or -3, a 6-byte
 * varint, an 11-byte varlong, magic 0 or 1 on a later batch, gzip or an unknown compression code on
 * uncompressed bytes.
 */
const RANDOM_SETS = `
const { gzipSync } = await import('node:zlib');
let seed = 0x5eed;
const rnd = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (n) => Math.floor(rnd() * n);
const pick = (xs) => xs[int(xs.length)];
const bytes = (n) => Array.from({ length: n }, () => int(256));
const leb = (raw) => {
  const out = [];
  let v = raw;
  while (v >= 128n) { out.push(Number(v & 127n) | 128); v >>= 7n; }
  out.push(Number(v));
  return out;
};
const varint = (v) => leb(BigInt(((v << 1) ^ (v >> 31)) >>> 0));
const zigzag64 = (v) => (v >= 0n ? v * 2n : -v * 2n - 1n);
const int8 = (v) => [v & 255];
const int16 = (v) => [(v >> 8) & 255, v & 255];
const int32 = (v) => [(v >>> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255];
const int64 = (v) => { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt.asIntN(64, v)); return [...b]; };
const bigPick = (xs) => BigInt(pick(xs));
const wide = () => pick([
  () => BigInt(int(1_000_000)),
  () => 1_765_000_000_000n + BigInt(int(1_000_000)),
  () => 2n ** 53n - BigInt(int(2000)) + 1000n,
  () => 2n ** 63n - 1n - BigInt(int(1000)),
  () => -(2n ** 63n) + BigInt(int(1000)),
  () => -1n - BigInt(int(1000)),
  () => BigInt.asIntN(64, BigInt(int(2 ** 32)) * BigInt(int(2 ** 32))),
])();
const tsDelta = () => pick([
  () => leb(zigzag64(BigInt(int(200_001) - 100_000))),
  () => leb(zigzag64(bigPick([2 ** 48 - 1, 2 ** 48, -(2 ** 48), -(2 ** 48) - 1]))),
  () => leb(zigzag64(BigInt(int(2 ** 31)) * BigInt(int(2 ** 31)) * pick([1n, -1n]))),
  () => [...bytes(9).map((b) => b | 128), int(128)],
])();
const data = () => {
  const r = int(6);
  if (r === 0) return null;
  if (r === 1) return [];
  if (r === 2) return bytes(200 + int(300));
  return bytes(int(40));
};
const varBytes = (d) => (d === null ? varint(-1) : [...varint(d.length), ...d]);
const headerKey = () => {
  const k = pick(['a', 'a', 'sealpost.v', 'toString', '__proto__', 'constructor', 'ü-é', '', '7', null]);
  return k === null ? varint(-1) : varBytes([...Buffer.from(k)]);
};
const RECORD_FAULTS = ['sizeOff', 'keyMinus2', 'varint6', 'varlong11', 'headersMinus1', 'headersMinus3'];
// A fault that shifts kafkajs' reading (a record length off by one, a key length of -2) is put on
// a batch's last record, so what kafkajs reads after it stays within that record or batch: random
// bytes read as a header count could make kafkajs (and so the fallback) loop for minutes.
const record = (i, fault) => {
  const body = [...int8(int(256))];
  body.push(...(fault === 'varlong11' ? [...bytes(10).map((b) => b | 128), 1] : tsDelta()));
  const delta = fault === 'keyMinus2' ? i : pick([i, i, i, -1 - int(100), 2 ** 31 - 1, -(2 ** 31)]);
  body.push(...(fault === 'varint6' ? [0x80, 0x80, 0x80, 0x80, 0x80, 0x01] : varint(delta)));
  if (fault === 'keyMinus2') {
    body.push(...varint(-2), ...varint(-1), ...varint(0));
    return [...varint(body.length), ...body];
  }
  body.push(...varBytes(data()));
  body.push(...varBytes(data()));
  const count = int(5);
  if (fault === 'headersMinus1' || fault === 'headersMinus3') {
    body.push(...varint(fault === 'headersMinus1' ? -1 : -3));
  } else {
    body.push(...varint(count));
    for (let h = 0; h < count; h++) body.push(...headerKey(), ...varBytes(rnd() < 0.2 ? null : bytes(int(30))));
  }
  if (rnd() < 0.1) body.push(...bytes(1 + int(5))); // bytes kafkajs leaves unread
  const size = body.length + (fault === 'sizeOff' ? pick([-1, 1]) : 0);
  return [...varint(size), ...body];
};
const FAULTS = ['cut', 'sizePrefix', 'batchLong', 'batchShort', 'batchPad', 'countLess', 'countMinus1', 'countMinus5',
  'countPlus1', 'magic', 'gzip', 'codec5', ...RECORD_FAULTS];
const recordSet = () => {
  const fault = rnd() < 0.35 ? pick(FAULTS) : undefined;
  const batches = fault === 'magic' ? 2 + int(2) : 1 + int(3);
  // A batch length off goes on the last batch (a wrong length misaligns every batch after it);
  // a wrong magic on a later batch (kafkajs reads the first batch's magic only).
  const faulty = fault === 'batchLong' || fault === 'batchShort' ? batches - 1 : fault === 'magic' ? 1 + int(batches - 1) : int(batches);
  const all = [];
  for (let b = 0; b < batches; b++) {
    const f = b === faulty ? fault : undefined;
    const n = (RECORD_FAULTS.includes(f) || f === 'countLess' ? 1 : 0) + int(31);
    let records = Array.from({ length: n }, (_, i) => record(i, i === n - 1 ? f : undefined)).flat();
    // A fifth of the batches gzip-compressed as a producer writes them (kafkajs inflates with zlib).
    const gzipped = f === undefined && rnd() < 0.2;
    if (gzipped) records = [...gzipSync(Buffer.from(records))];
    const attributes = (f === 'gzip' || gzipped ? 1 : f === 'codec5' ? 5 : 0) | (rnd() < 0.2 ? 8 : 0) | (rnd() < 0.3 ? 16 : 0) | (rnd() < 0.15 ? 32 : 0) | (rnd() < 0.1 ? 64 : 0);
    const count = f === 'countMinus1' ? -1 : f === 'countMinus5' ? -5 : f === 'countPlus1' ? n + 1 : f === 'countLess' ? n - 1 : n;
    const body = [
      ...int32(int(2 ** 31) - 2 ** 30), ...int8(f === 'magic' ? pick([0, 1]) : 2), ...int32(int(2 ** 32)),
      ...int16(attributes), ...int32(Math.max(n - 1, 0)), ...int64(wide()), ...int64(wide()), ...int64(pick([-1n, wide()])),
      ...int16(int(2 ** 16)), ...int32(int(2 ** 31)), ...int32(count), ...records, ...(f === 'batchPad' ? bytes(1 + int(60)) : []),
    ];
    // Too short: within the batch's fixed fields (kafkajs fails reading them) or negative.
    const length = f === 'batchLong' ? body.length + 1 + int(20) : f === 'batchShort' ? pick([-1 - int(100), int(49)]) : body.length;
    all.push(...int64(wide()), ...int32(length), ...body);
  }
  let set = Buffer.from(all);
  if (fault === 'cut') set = set.subarray(0, int(set.length));
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(set.length + (fault === 'sizePrefix' ? 1 : 0));
  // The partition's fields after the record set, as a fetch response continues.
  return { bytes: Buffer.concat([prefix, set, Buffer.from([1, 2, 3])]), fault };
};
`;

describe('kafkajs fetch record-set decoding', () => {
  it('the transport installs the linear decoding before kafkajs fetches, after the check passes', () => {
    const out = run(`
      ${REQUIRE}
      const { kafkajsFetchDecoding } = await import('./src/kafka/kafkajs-fetch-decoding.ts');
      await import('./src/kafka/kafkajs-transport.ts');
      const state = await kafkajsFetchDecoding;
      // A fetch v11 response with one partition whose record set holds one record.
      const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js');
      const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js');
      const batch = (await RecordBatch({ firstOffset: '41', firstTimestamp: '1765000000000', maxTimestamp: '1765000000000',
        records: [Record({ offsetDelta: 0, key: Buffer.from('k'), value: Buffer.from('v'), headers: { h: 'x' } })] })).buffer;
      const Encoder = require('kafkajs/src/protocol/encoder.js');
      const response = new Encoder().writeInt32(0).writeInt16(0).writeInt32(0).writeInt32(1).writeString('t').writeInt32(1)
        .writeInt32(0).writeInt16(0).writeInt64(42).writeInt64(42).writeInt64(0).writeInt32(0).writeInt32(-1)
        .writeInt32(batch.length).writeBuffer(batch).buffer;
      const decoded = await require('kafkajs/src/protocol/requests/fetch/v11/response.js').decode(response);
      const [message] = decoded.responses[0].partitions[0].messages;
      console.log(JSON.stringify({
        state,
        installed: require(DECODE).name,
        offset: message.offset,
        timestamp: message.timestamp,
        header: message.headers.h.toString(),
      }));
    `);
    expect(out).toEqual({
      state: { kind: 'linear' },
      installed: 'sealpostDecodeMessages',
      offset: '41',
      timestamp: '1765000000000',
      header: 'x',
    });
  });

  it('is installed even when kafkajs was imported first (kafkajs loads it with its first fetch)', () => {
    const out = run(`
      ${REQUIRE}
      await import('kafkajs');
      const loadedWithKafkajs = require.cache[require.resolve(DECODE)] !== undefined;
      const { kafkajsFetchDecoding } = await import('./src/kafka/kafkajs-fetch-decoding.ts');
      console.log(JSON.stringify({ loadedWithKafkajs, state: await kafkajsFetchDecoding, installed: require(DECODE).name }));
    `);
    expect(out).toEqual({
      loadedWithKafkajs: false,
      state: { kind: 'linear' },
      installed: 'sealpostDecodeMessages',
    });
  });

  it("gives kafkajs' own records or its own error for 600 random record sets; kafkajs loaded first keeps its own", () => {
    const out = run(`
      ${REQUIRE}
      const own = require(DECODE);
      const { kafkajsFetchDecoding, linearDecodeMessages, kafkajsDecodingDeps, sameDecoded } =
        await import('./src/kafka/kafkajs-fetch-decoding.ts');
      const deps = kafkajsDecodingDeps();
      let fallbacks = 0;
      const linear = linearDecodeMessages(own, { ...deps, fallback: (buf, at) => { fallbacks++; return deps.fallback(buf, at); } });
      ${RANDOM_SETS}
      const outcome = async (impl, bytes) => {
        const decoder = new Decoder(bytes);
        try {
          const records = await impl(decoder);
          return { records, offset: decoder.offset };
        } catch (e) {
          return { error: e.name + ': ' + e.message };
        }
      };
      // Which records share one batch context object (kafkajs makes one per batch).
      const sharing = (records) => records.map((r, i) => i > 0 && r.batchContext === records[i - 1].batchContext);
      let agree = 0, errors = 0, records = 0, faults = 0, big = 0;
      const disagree = [];
      for (let n = 0; n < 600; n++) {
        const { bytes, fault } = recordSet();
        if (fault !== undefined) faults++;
        const a = await outcome(own, bytes);
        const b = await outcome(linear, bytes);
        const same = a.error !== undefined
          ? a.error === b.error
          : b.records !== undefined && a.offset === b.offset && sameDecoded(a.records, b.records) &&
            isDeepStrictEqual(a.records, b.records) && isDeepStrictEqual(sharing(a.records), sharing(b.records));
        if (same) agree++; else disagree.push({ n, fault });
        if (a.error !== undefined) errors++;
        else {
          records += a.records.length;
          big += a.records.filter((r) => r.offset.length >= 16 || r.timestamp.length >= 16).length;
        }
      }
      console.log(JSON.stringify({
        state: await kafkajsFetchDecoding,
        kept: require(DECODE) === own,
        agree, disagree: disagree.slice(0, 5),
        exercised: { errors: errors > 20, faults: faults > 150, fallbacks: fallbacks > 50, records: records > 8000, big: big > 1000 },
      }));
    `);
    expect(out).toEqual({
      state: { kind: 'kafkajs', reason: 'kafkajs record-set decoding already loaded' },
      kept: true,
      agree: 600,
      disagree: [],
      exercised: { errors: true, faults: true, fallbacks: true, records: true, big: true },
    });
  });

  it('decodes well-formed batches itself and leaves to kafkajs only what it does not reproduce', () => {
    const out = run(`
      ${REQUIRE}
      const own = require(DECODE);
      const { linearDecodeMessages, kafkajsDecodingDeps } = await import('./src/kafka/kafkajs-fetch-decoding.ts');
      const deps = kafkajsDecodingDeps();
      ${RANDOM_SETS}
      let fallbacks = 0, batches = 0, inflated = 0;
      const linear = linearDecodeMessages(own, {
        codecFor: (attributes) => {
          const codec = deps.codecFor(attributes);
          return codec && { decompress: (bytes) => { inflated++; return codec.decompress(bytes); } };
        },
        fallback: (buf, at) => { fallbacks++; return deps.fallback(buf, at); },
      });
      for (let n = 0; n < 200; n++) {
        const { bytes, fault } = recordSet();
        if (fault !== undefined) continue;
        batches += bytes.readInt32BE(0) > 0 ? 1 : 0;
        await linear(new Decoder(bytes));
      }
      console.log(JSON.stringify({ fallbacks, someSets: batches > 100, someInflated: inflated > 30 }));
    `);
    expect(out).toEqual({ fallbacks: 0, someSets: true, someInflated: true });
  });

  it('the install-time check refuses a linear decoding that differs from kafkajs', () => {
    const out = run(`
      ${REQUIRE}
      const own = require(DECODE);
      const { linearDecodeMessages, kafkajsDecodingDeps, sameAsKafkajs } = await import('./src/kafka/kafkajs-fetch-decoding.ts');
      const linear = linearDecodeMessages(own, kafkajsDecodingDeps());
      const altered = (change) => async (decoder) => (await linear(decoder)).map(change);
      console.log(JSON.stringify({
        right: await sameAsKafkajs(own, linear),
        offsetAsNumber: await sameAsKafkajs(own, altered((r) => ({ ...r, offset: Number(r.offset) }))),
        headersReordered: await sameAsKafkajs(own, altered((r) => ({ ...r, headers: Object.fromEntries(Object.entries(r.headers).reverse()) }))),
        timestampOffByOne: await sameAsKafkajs(own, altered((r) => ({ ...r, timestamp: String(BigInt(r.timestamp) + 1n) }))),
      }));
    `);
    expect(out).toEqual({
      right: true,
      offsetAsNumber: false,
      headersReordered: false,
      timestampOffByOne: false,
    });
  });
});
