/**
 * The plain baseline on kafkajs as it ships, in its own process, for bench/e2e.ts. sealpost replaces
 * some of kafkajs' modules process-wide when its kafkajs transport loads (native CRC32C, linear
 * grouping and produce-request encoding: src/kafka/kafkajs-*.ts), so the `plain` row of e2e.ts
 * measures kafkajs *with* those replacements — what an application using sealpost gets for its
 * unsealed topics too. This worker loads kafkajs before anything else and never loads sealpost's
 * kafkajs transport, so its plain producer and consumer run kafkajs' own code: what an application
 * without sealpost runs. It checks that at start (no kafkajs module in the module cache was put there
 * by sealpost) and refuses to measure otherwise.
 *
 * Started by e2e.ts with an IPC channel; stays up (and warm) across rounds:
 *   → { type: 'run', id, topic, messages, batch, inFlight, settle }   the plain produce phase on `topic`
 *                                                             (created by e2e.ts), then its consume phase
 *   ← { type: 'done', id, produce, consume }                  the two phases' figures (this process's CPU)
 *   ← { type: 'error', id, message }
 *   → { type: 'exit' }
 */
// kafkajs first: its index loads the modules sealpost would replace, so they stay kafkajs' own.
import kafkajs from 'kafkajs';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { SchemaRegistryClient } from '../src/registry/schema-registry-client.js';
import { getEndpoints } from '../test/support/endpoints.js';
import {
  setSettleCollects,
  startPlainConsumer,
  startPlainProducer,
  type PlainConsumerContext,
} from './e2e-clients.js';
import { measureConsume, measureProduce, type Throughput } from './throughput-phases.js';

/** A command from e2e.ts. */
export type StockCommand =
  | {
      readonly type: 'run';
      readonly id: number;
      readonly topic: string;
      readonly messages: number;
      readonly batch: number;
      readonly inFlight: number;
      /** Whether a full collection precedes each phase (bench/e2e.ts --settle). */
      readonly settle: boolean;
    }
  | { readonly type: 'exit' };

/** A reply to e2e.ts. */
export type StockReply =
  | {
      readonly type: 'done';
      readonly id: number;
      readonly produce: Throughput;
      readonly consume: Throughput;
    }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

/**
 * kafkajs modules in the module cache that kafkajs did not load itself: a module Node loaded from
 * its file has `paths` (set by Module#load); one put into the cache by sealpost (preloadModule in
 * src/kafka/kafkajs-module-cache.ts) does not.
 */
function replacedKafkajsModules(): string[] {
  const cache = createRequire(import.meta.url).cache;
  return Object.entries(cache)
    .filter(
      ([path, m]) => path.includes('/kafkajs/src/') && m !== undefined && m.paths === undefined,
    )
    .map(([path]) => path.slice(path.indexOf('/kafkajs/') + 1));
}

const send = (reply: StockReply): void => {
  process.send!(reply);
};

const endpoints = getEndpoints();
const ctx: PlainConsumerContext = {
  kafka: new kafkajs.Kafka({
    clientId: 'bench-stock-kafkajs',
    brokers: [...endpoints.kafkaBrokers],
    logLevel: kafkajs.logLevel.NOTHING,
  }),
  registry: new SchemaRegistryClient({ url: endpoints.schemaRegistryUrl, fetch: globalThis.fetch }),
  schemaRegistryUrl: endpoints.schemaRegistryUrl,
  runId: randomBytes(3).toString('hex'),
};

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

process.on('message', (c: StockCommand) => {
  if (c.type === 'exit') {
    process.disconnect();
    return;
  }
  void (async () => {
    try {
      const replaced = replacedKafkajsModules();
      if (replaced.length > 0)
        throw new Error(`kafkajs is not stock here: ${replaced.join(', ')} replaced`);
      setSettleCollects(c.settle);
      const produce = await measureProduce(() => startPlainProducer(ctx, 'plain', c.topic), c);
      const consume = await measureConsume(
        (onOrder) => startPlainConsumer(ctx, 'plain', c.topic, onOrder),
        c.messages,
        waitUntil,
        'stock kafkajs',
      );
      const after = replacedKafkajsModules();
      if (after.length > 0)
        throw new Error(`kafkajs is not stock here: ${after.join(', ')} replaced`);
      send({ type: 'done', id: c.id, produce, consume });
    } catch (err) {
      send({ type: 'error', id: c.id, message: err instanceof Error ? err.message : String(err) });
    }
  })();
});
