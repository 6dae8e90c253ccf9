/**
 * On the real broker, every record set the kafkajs adapter's consumer fetches is decoded by the
 * linear decoding that src/kafka/kafkajs-fetch-decoding.ts installs and, beside it, by kafkajs'
 * own decoder (a second instance of its module, over the same bytes): the two agree on every set,
 * gzip-compressed (the adapter's default) and uncompressed, and the consumer receives every record
 * produced, byte-exact. It runs in a fresh Node process: the module cache is per process.
 */
import { describe, expect, it } from 'vitest';
import { runFreshScriptForJson } from '../support/fresh-process.js';

describe('kafkajs fetch decoding on the real broker', () => {
  it("agrees with kafkajs' own decoder on every fetched record set, gzip and uncompressed", () => {
    const out = runFreshScriptForJson(
      `
      import { createRequire } from 'node:module';
      import { randomBytes } from 'node:crypto';
      const require = createRequire(process.cwd() + '/package.json');
      const path = require.resolve('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js');
      // kafkajs' own, as a module instance of its own; then the cache entry is free for the install.
      const own = require(path);
      delete require.cache[path];
      const { kafkajsFetchDecoding, sameDecoded } = await import('./src/kafka/kafkajs-fetch-decoding.ts');
      const { createKafkajsTransport } = await import('./src/kafka/kafkajs-transport.ts');
      const { getEndpoints } = await import('./test/support/endpoints.ts');
      const { createLogger } = await import('./src/observability/logger.ts');
      const state = await kafkajsFetchDecoding;
      const installed = require.cache[path].exports;
      const Decoder = require('kafkajs/src/protocol/decoder.js');
      const ledger = { sets: 0, agree: 0, records: 0 };
      require.cache[path].exports = async (decoder) => {
        const copy = new Decoder(decoder.buffer);
        copy.offset = decoder.offset;
        const linear = await installed(decoder);
        const theirs = await own(copy);
        ledger.sets++;
        ledger.records += theirs.length;
        if (sameDecoded(theirs, linear) && copy.offset === decoder.offset) ledger.agree++;
        return linear;
      };
      const transport = createKafkajsTransport({
        brokers: getEndpoints().kafkaBrokers,
        clientId: 'fetch-decoding-it',
        logger: createLogger({ level: 'silent', name: 'fetch-decoding-it' }),
        nowMs: () => Date.now(),
      });
      const admin = transport.admin();
      await admin.connect();
      const hex = randomBytes(6).toString('hex');
      const topics = { gzip: 'test-fetch-decoding-gzip-' + hex, none: 'test-fetch-decoding-none-' + hex };
      await admin.createTopics(Object.values(topics).map((topic) => ({ topic, numPartitions: 2, replicationFactor: 1 })));
      const sent = new Map();
      for (const [compression, topic] of Object.entries(topics)) {
        const producer = transport.producer({ compression });
        await producer.connect();
        for (let s = 0; s < 6; s++) {
          const records = Array.from({ length: 150 }, (_, i) => ({
            key: i % 5 === 0 ? null : randomBytes(8),
            value: i % 17 === 0 ? null : randomBytes(200 + ((i * 37) % 900)),
            headers: i % 3 === 0 ? [] : [{ key: 'a', value: randomBytes(4) }, { key: 'b', value: Buffer.alloc(0) }, { key: 'a', value: randomBytes(2) }],
            timestampMs: 1_765_000_000_000 + s * 1000 - i,
          }));
          const partition = s % 2;
          const ack = await producer.send({ topic, partition, records });
          records.forEach((r, i) => sent.set(topic + '/' + partition + '/' + (BigInt(ack.baseOffset) + BigInt(i)), r));
        }
        await producer.disconnect();
      }
      const consumer = transport.consumer({ groupId: 'fetch-decoding-it-' + hex, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000 });
      await consumer.connect();
      await consumer.subscribe({ topics: Object.values(topics), fromBeginning: true });
      const got = [];
      let resolveAll;
      const all = new Promise((r) => { resolveAll = r; });
      await consumer.run({
        eachMessage: (r) => {
          got.push(r);
          if (got.length === sent.size) resolveAll();
          return Promise.resolve({ kind: 'processed' });
        },
      });
      await Promise.race([all, new Promise((r) => setTimeout(r, 60_000))]);
      await consumer.disconnect();
      await admin.deleteTopics(Object.values(topics));
      await admin.disconnect();
      const same = (a, b) => (a === null ? b === null : b !== null && a.equals(b));
      // The adapter's header order: keys in first-seen order, a repeated key's values together.
      const grouped = (headers) => {
        const keys = [...new Set(headers.map((h) => h.key))];
        return JSON.stringify(keys.flatMap((k) => headers.filter((h) => h.key === k).map((h) => [k, h.value.toString('hex')])));
      };
      let exact = 0;
      for (const r of got) {
        const s = sent.get(r.topic + '/' + r.partition + '/' + r.offset);
        if (s !== undefined && same(s.key, r.key) && same(s.value, r.value) && r.timestampMs === s.timestampMs &&
          grouped(r.headers) === grouped(s.headers)) exact++;
      }
      const result = JSON.stringify({
        state,
        produced: sent.size,
        received: got.length,
        exact,
        allSetsAgree: ledger.sets > 0 && ledger.agree === ledger.sets,
        decodedAtLeastAll: ledger.records >= sent.size,
      });
      // kafkajs may hold a timer for a while after disconnecting: end once the line is out.
      process.stdout.write(result + '\\n', () => process.exit(0));
    `,
      { timeoutMs: 120_000 },
    );
    expect(out).toEqual({
      state: { kind: 'linear' },
      produced: 1800,
      received: 1800,
      exact: 1800,
      allSetsAgree: true,
      decodedAtLeastAll: true,
    });
  });
});
