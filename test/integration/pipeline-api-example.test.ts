/**
 * The producer + consumer example of docs/API.md, run as written against the stack (identities,
 * keyring and directory file generated at run time). test/unit/pipeline/api-doc.test.ts checks that
 * the text between the markers below is the one in the docs.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { writeDirectoryDocument } from '../../src/keys/directory/directory-document.js';
import { writeIdentityFile } from '../../src/keys/identity-file.js';
// example:imports:start
import {
  createCryptoProvider, createKafkajsTransport, FileDirectorySource, KeyDirectory, LocalKms,
  loadIdentity, readIdentityFile, SchemaRegistryClient, SealedConsumer, SealedProducer, systemClock,
} from '../../src/index.js';
// example:imports:end
import type { SealedDelivery } from '../../src/index.js';
import { getEndpoints } from '../support/endpoints.js';
import { createTopics, freshTopic, testTransport, waitFor } from '../support/test-transport.js';
import { makePipelineWorld, ORDER_SCHEMA, type PipelineWorld } from '../support/pipeline-world.js';

interface ExampleConfig {
  keysDir: string;
  authorityPublicKey: Uint8Array;
  brokers: string[];
  registryUrl: string;
  orderSchema: string;
  logger: pino.Logger;
  onOrder: (m: SealedDelivery) => Promise<void>;
  /** Topic and group names (fresh per test run). */
  names: { orders: string; replayState: string; deadLetters: string; group: string };
}

async function example({ keysDir, authorityPublicKey, brokers, registryUrl, orderSchema, logger, onOrder, names }: ExampleConfig) {
  // example:start
  const crypto = await createCryptoProvider();
  const clock = systemClock;
  const kms = await LocalKms.open({ path: `${keysDir}/kek.json`, crypto, clock });
  const directory = await KeyDirectory.open({
    crypto, clock, authorityPublicKey, source: new FileDirectorySource(`${keysDir}/directory.json`),
  });
  directory.startAutoRefresh(60_000, (err) => logger.warn({ err }, 'directory refresh failed'));
  const transport = createKafkajsTransport({ brokers, clientId: 'example', logger, nowMs: () => clock.nowMs() });
  const registry = new SchemaRegistryClient({ url: registryUrl, fetch: globalThis.fetch });

  // The orders service seals for every identity the directory allows on the topic.
  const orders = await loadIdentity(await readIdentityFile(`${keysDir}/orders.json`, crypto), { crypto, kms });
  const producer = new SealedProducer({
    transport, registry, crypto, clock, identity: orders, directory, valueSchemas: { [names.orders]: orderSchema },
  });
  await producer.connect();
  await producer.send({ topic: names.orders, messages: [{ key: 'customer-42', value: { id: 'o-1', cents: 1999, note: '' } }] });

  // The billing service opens, verifies and gets plain objects plus the verified sender.
  const billing = await loadIdentity(await readIdentityFile(`${keysDir}/billing.json`, crypto), { crypto, kms });
  const consumer = new SealedConsumer({
    transport, registry, crypto, clock, identity: billing, directory, kms, groupId: names.group, topics: [names.orders],
    stateTopic: names.replayState, deadLetterTopic: names.deadLetters, fromBeginning: true,
  });
  await consumer.run({ eachMessage: onOrder }); // async (m) => { m.value, m.sender, m.messageId, ... }
  // example:end
  return { producer, consumer, directory, close: async () => { await consumer.close(); await producer.close(); orders.close(); billing.close(); } };
}

let world: PipelineWorld;
let close: (() => Promise<void>) | undefined;
afterAll(async () => {
  await close?.();
  await world?.cleanup();
});

describe('docs/API.md example', () => {
  it('runs as written against the stack', async () => {
    const names = { orders: freshTopic('api-orders'), replayState: freshTopic('api-state'), deadLetters: freshTopic('api-dlq'), group: freshTopic('api-billing') };
    world = await makePipelineWorld([
      { name: 'orders', send: [names.orders], receive: [] },
      { name: 'billing', send: [], receive: [names.orders] },
    ]);
    await createTopics(testTransport('api-example'), [
      { topic: names.orders, numPartitions: 3 },
      { topic: names.replayState, compacted: true },
      { topic: names.deadLetters },
    ]);
    for (const name of ['orders', 'billing']) await writeIdentityFile(join(world.dir, `${name}.json`), world.files.get(name)!, { overwrite: true });
    await writeDirectoryDocument(join(world.dir, 'directory.json'), world.document());
    const e = getEndpoints();
    const seen: SealedDelivery[] = [];
    const out = await example({
      keysDir: world.dir,
      authorityPublicKey: new Uint8Array(Buffer.from(world.document().authority.publicKey, 'base64')),
      brokers: e.kafkaBrokers,
      registryUrl: e.schemaRegistryUrl,
      orderSchema: ORDER_SCHEMA,
      logger: pino({ level: 'silent' }),
      onOrder: (m) => {
        seen.push(m);
        return Promise.resolve();
      },
      names,
    });
    close = out.close;
    out.directory.stopAutoRefresh();
    await waitFor(() => seen.some((m) => m.sender === 'orders' && (m.value as { id: string }).id === 'o-1'), 'the example order');
    expect(seen.filter((m) => m.sender === 'orders').length).toBeGreaterThanOrEqual(1);
  });
});
