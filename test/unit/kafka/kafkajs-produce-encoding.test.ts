/**
 * kafkajs' produce requests are encoded and framed by the linear encoding that
 * src/kafka/kafkajs-produce-encoding.ts installs, with exactly kafkajs' own bytes; when kafkajs was
 * loaded before it, kafkajs keeps its own, and a linear encoding that differs from kafkajs' fails
 * the install-time check. Each case runs in a fresh Node process (the module cache is per process
 * and vitest's workers share it between test files).
 */
import { describe, expect, it } from 'vitest';
import { runFreshScriptForJson } from '../../support/fresh-process.js';

/** Runs a case's script in a fresh Node process; the random cases take a while, hence 120 s. */
const run = (script: string) => runFreshScriptForJson(script, { timeoutMs: 120_000 });

const REQUIRE = `
import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/package.json');
const PRODUCE = 'kafkajs/src/protocol/requests/produce/v3/request.js';
const FRAMING = 'kafkajs/src/protocol/request.js';
`;

/**
 * Random sends (seeded, so a failure reproduces): several topics and partitions, 0–40 messages
 * (every 25th send 70–200, for two-byte offset deltas), null/undefined/empty/string/Buffer keys
 * and values (some 20,000 bytes: three-byte varints), headers with string, Buffer, empty and array
 * values, timestamps absent, numeric, string, mixed, and out of numeric order as strings ("999"
 * sorts after "1000", so deltas go negative), idempotent and transactional producers.
 */
const RANDOM_SENDS = `
const Long = require('kafkajs/src/utils/long.js');
let seed = 0x5eed;
const rnd = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (n) => Math.floor(rnd() * n);
const pick = (xs) => xs[int(xs.length)];
const bytes = (n) => Buffer.from(Array.from({ length: n }, () => int(256)));
const text = () => pick(['', 'k', 'clé-é', 'emoji 🦀 x', 'a'.repeat(int(300))]);
const data = () => {
  const r = int(10);
  if (r === 0) return null;
  if (r === 1) return undefined;
  if (r === 2) return text();
  if (r === 3) return Buffer.alloc(0);
  if (r === 4) return bytes(20_000 + int(100));
  return bytes(int(2000));
};
const headerValue = () => (rnd() < 0.5 ? text() : bytes(int(80)));
const headers = () => {
  const h = {};
  for (let i = int(4); i > 0; i--) {
    const key = pick(['a', 'sealpost.envelope', 'ü-key', '7', 'x'.repeat(70)]);
    h[key] = rnd() < 0.3 ? Array.from({ length: int(3) }, headerValue) : headerValue();
  }
  return h;
};
const stamp = (mode) => {
  const base = 1_700_000_000_000 + int(100_000);
  if (mode === 0) return undefined;
  if (mode === 1) return base;
  if (mode === 2) return String(base);
  if (mode === 3) return rnd() < 0.5 ? undefined : rnd() < 0.5 ? base : String(base);
  return pick(['999', '1000', 99, 1_000_000, '5']);
};
const message = (mode) => {
  const m = { key: data(), value: data() };
  if (rnd() < 0.6) m.headers = headers();
  const t = stamp(mode);
  if (t !== undefined) m.timestamp = t;
  return m;
};
const send = (n) => {
  const topics = 1 + int(3);
  const transactional = rnd() < 0.3;
  return {
    acks: pick([-1, 0, 1]),
    timeout: int(60_000),
    ...(transactional ? { transactionalId: pick(['tx', 'tx-ü', '']) } : rnd() < 0.2 ? { transactionalId: null } : {}),
    ...(rnd() < 0.5 ? { producerId: pick([12345, '9007199254740993', Long.fromValue(77)]), producerEpoch: int(5) } : {}),
    topicData: Array.from({ length: topics }, (_, t) => ({
      topic: 'topic-' + t + pick(['', '-ü']),
      partitions: Array.from({ length: 1 + int(3) }, (_, p) => {
        const mode = int(5);
        const count = n % 25 === 0 ? 70 + int(130) : int(41);
        return {
          partition: p * 3 + int(3),
          ...(rnd() < 0.5 ? { firstSequence: int(100_000) } : {}),
          messages: Array.from({ length: count }, () => message(mode)),
        };
      }),
    })),
  };
};
`;

describe('kafkajs produce request encoding', () => {
  it('the transport installs the linear encoding and framing before kafkajs loads, after the check passes', () => {
    const out = run(`
      ${REQUIRE}
      const { kafkajsProduceEncoding } = await import('./src/kafka/kafkajs-produce-encoding.ts');
      await import('./src/kafka/kafkajs-transport.ts');
      const state = await kafkajsProduceEncoding;
      const { protocol } = require('kafkajs/src/protocol/requests/produce/index.js');
      const args = { acks: -1, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: null, value: Buffer.from('v') }] }] }] };
      const { request } = protocol({ version: 7 })(args);
      const framed = await require(FRAMING)({ correlationId: 1, clientId: 'c', request });
      console.log(JSON.stringify({
        state,
        linear: Object.getOwnPropertySymbols(request).length === 1,
        apiVersion: request.apiVersion,
        exact: framed.buf.length === framed.offset && framed.buffer.readInt32BE(0) === framed.offset - 4,
      }));
    `);
    expect(out).toEqual({ state: { kind: 'linear' }, linear: true, apiVersion: 7, exact: true });
  });

  it('gives kafkajs own bytes, encoded and framed, for 300 random sends; kafkajs loaded first keeps its own', () => {
    const out = run(`
      ${REQUIRE}
      Date.now = () => 1_700_000_050_000; // kafkajs stamps messages without a timestamp with it
      const own = { produce: require(PRODUCE), createRequest: require(FRAMING) };
      const { kafkajsProduceEncoding, linearProduceRequest, linearCreateRequest, kafkajsEncodingDeps } =
        await import('./src/kafka/kafkajs-produce-encoding.ts');
      const { encodeProduceRequestBody } = await import('./src/kafka/produce-request-encoding.ts');
      const deps = kafkajsEncodingDeps();
      const linear = { produce: linearProduceRequest(own.produce, deps), createRequest: linearCreateRequest(own.createRequest) };
      ${RANDOM_SENDS}
      let agree = 0, framedAgree = 0, linearPath = 0, records = 0;
      for (let n = 0; n < 300; n++) {
        const args = send(n);
        for (const t of args.topicData) for (const p of t.partitions) records += p.messages.length;
        if (encodeProduceRequestBody(args, deps) !== undefined) linearPath++;
        const a = (await own.produce(args).encode()).buffer;
        const b = (await linear.produce(args).encode()).buffer;
        if (a.equals(b)) agree++;
        const apiVersion = 3 + (n % 5);
        const header = { correlationId: n * 7919, clientId: ['sealpost', 'client-ü', ''][n % 3] };
        const c = (await own.createRequest({ ...header, request: Object.assign(own.produce(args), { apiVersion }) })).buffer;
        const d = (await linear.createRequest({ ...header, request: Object.assign(linear.produce(args), { apiVersion }) })).buffer;
        if (c.equals(d)) framedAgree++;
      }
      console.log(JSON.stringify({
        state: await kafkajsProduceEncoding,
        kept: require(PRODUCE) === own.produce && require(FRAMING) === own.createRequest,
        agree, framedAgree, linearPath, enoughRecords: records > 10_000,
      }));
    `);
    expect(out).toEqual({
      state: { kind: 'kafkajs', reason: 'kafkajs request encoding already loaded' },
      kept: true,
      agree: 300,
      framedAgree: 300,
      linearPath: 300,
      enoughRecords: true,
    });
  });

  it('leaves to kafkajs what it does not reproduce: compression, odd values, odd timestamps, failures', () => {
    const out = run(`
      ${REQUIRE}
      Date.now = () => 1_700_000_050_000;
      const own = { produce: require(PRODUCE), createRequest: require(FRAMING) };
      const { linearProduceRequest, linearCreateRequest, kafkajsEncodingDeps } =
        await import('./src/kafka/kafkajs-produce-encoding.ts');
      const { encodeProduceRequestBody } = await import('./src/kafka/produce-request-encoding.ts');
      const deps = kafkajsEncodingDeps();
      const linear = { produce: linearProduceRequest(own.produce, deps), createRequest: linearCreateRequest(own.createRequest) };
      const one = (message, extra = {}) => ({
        acks: -1, timeout: 1000, ...extra,
        topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [message] }] }],
      });
      class Message { constructor() { this.value = Buffer.from('v'); } get key() { return 'k'; } }
      const cases = {
        gzip: one({ key: null, value: Buffer.from('x'.repeat(500)) }, { compression: 1 }),
        uint8ArrayValue: one({ key: null, value: new Uint8Array([1, 2, 3]) }),
        numberKey: one({ key: 5, value: null }),
        nullHeaderValue: one({ key: null, value: null, headers: { h: null } }),
        nanTimestamp: one({ value: null, timestamp: 'not a number' }),
        emptyTimestamp: one({ value: null, timestamp: '' }),
        fractionalTimestamp: one({ value: null, timestamp: 1.5 }),
        classMessage: one(new Message()),
        nullProducerId: one({ value: null }, { producerId: null }),
        numberTopic: { acks: -1, timeout: 1000, topicData: [{ topic: 7, partitions: [] }] },
      };
      const outcome = async (f) => {
        try { return (await f()).buffer.toString('hex'); } catch (e) { return 'error: ' + e.message; }
      };
      const result = {};
      for (const [name, args] of Object.entries(cases)) {
        const header = { correlationId: 1, clientId: 'c' };
        const a = await outcome(() => own.produce(args).encode());
        const b = await outcome(() => linear.produce(args).encode());
        const c = await outcome(() => own.createRequest({ ...header, request: own.produce(args) }));
        const d = await outcome(() => linear.createRequest({ ...header, request: linear.produce(args) }));
        let delegated;
        try { delegated = encodeProduceRequestBody(args, deps) === undefined; } catch { delegated = 'threw'; }
        result[name] = { same: a === b && c === d, delegated };
      }
      console.log(JSON.stringify(result));
    `);
    const every = { same: true, delegated: true };
    expect(out).toEqual({
      gzip: every,
      uint8ArrayValue: every,
      numberKey: every,
      nullHeaderValue: every,
      nanTimestamp: every,
      emptyTimestamp: every,
      // kafkajs fails on a fractional first timestamp (BigInt(1.5)); so does the linear encoding.
      fractionalTimestamp: { same: true, delegated: 'threw' },
      classMessage: every,
      // kafkajs fails on a null producer id (BigInt(null)); the linear encoding fails the same way.
      nullProducerId: { same: true, delegated: 'threw' },
      numberTopic: every,
    });
  });

  it('the install-time check refuses a linear encoding that differs from kafkajs', () => {
    const out = run(`
      ${REQUIRE}
      const own = { produce: require(PRODUCE), createRequest: require(FRAMING) };
      const { linearProduceRequest, linearCreateRequest, kafkajsEncodingDeps, sameAsKafkajs } =
        await import('./src/kafka/kafkajs-produce-encoding.ts');
      const deps = kafkajsEncodingDeps();
      const check = (d) =>
        sameAsKafkajs(own, { produce: linearProduceRequest(own.produce, d), createRequest: linearCreateRequest(own.createRequest) });
      console.log(JSON.stringify({
        right: await check(deps),
        wrongCrc: await check({ ...deps, crc32c: (b) => (deps.crc32c(b) ^ 1) >>> 0 }),
        wrongInt64: await check({ ...deps, writeInt64: (buf, v, o) => { deps.writeInt64(buf, v, o); buf[o + 7] ^= 1; } }),
      }));
    `);
    expect(out).toEqual({ right: true, wrongCrc: false, wrongInt64: false });
  });
});
