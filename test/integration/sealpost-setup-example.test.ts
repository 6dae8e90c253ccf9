/**
 * The README's example — one service set up in one call (`createSealpost`) from the configuration the
 * CLI and workers use — run as written against the stack (identities, keyring and directory file
 * generated at run time; each service's environment names them). test/unit/app/readme-example.test.ts
 * checks that the text between the markers below is the README's.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeDirectoryDocument } from '../../src/keys/directory/directory-document.js';
import { writeIdentityFile } from '../../src/keys/identity-file.js';
import type { SealedDelivery, Sealpost } from '../../src/index.js';
// example:imports:start
import { createSealpost } from '../../src/index.js';
// example:imports:end
import { getEndpoints } from '../support/endpoints.js';
import { createTopics, freshTopic, testTransport, waitFor } from '../support/test-transport.js';
import { makePipelineWorld, ORDER_SCHEMA, type PipelineWorld } from '../support/pipeline-world.js';

type Env = Readonly<Record<string, string | undefined>>;

interface ExampleInput {
  /** Each service's environment (in production: its `process.env`). */
  ordersEnv: Env;
  billingEnv: Env;
  orderSchema: string;
  onOrder: (m: SealedDelivery) => Promise<void>;
  /** Topic and group names (fresh per test run). */
  names: { orders: string; group: string };
}

async function example({ ordersEnv, billingEnv, orderSchema, onOrder, names }: ExampleInput) {
  // example:start
  // orders: seals for every service the directory allows on the topic
  const orders = await createSealpost({ env: ordersEnv });
  const producer = await orders.producer({ valueSchemas: { [names.orders]: orderSchema } });
  await producer.send({
    topic: names.orders,
    messages: [{ key: 'customer-42', value: { id: 'o-1', cents: 1999, note: '' } }],
  });

  // billing: verifies, opens, decodes; gets plain objects and the verified sender
  const billing = await createSealpost({ env: billingEnv });
  const consumer = billing.consumer({
    groupId: names.group,
    topics: [names.orders],
    fromBeginning: true,
  });
  await consumer.run({ eachMessage: onOrder }); // async (m) => { m.value, m.sender, m.messageId, ... }
  // example:end
  return { orders, billing };
}

let world: PipelineWorld | undefined;
const services: Sealpost[] = [];
afterAll(async () => {
  for (const s of services) await s.close();
  await world?.cleanup();
});

describe('README example: createSealpost', () => {
  it('runs as written against the stack; close() closes what it made and zeroes the keys', async () => {
    const names = {
      orders: freshTopic('setup-orders'),
      group: freshTopic('setup-billing'),
      replayState: freshTopic('setup-state'),
      deadLetters: freshTopic('setup-dlq'),
    };
    world = await makePipelineWorld([
      { name: 'orders', send: [names.orders], receive: [] },
      { name: 'billing', send: [], receive: [names.orders] },
    ]);
    await createTopics(testTransport('setup-example'), [
      { topic: names.orders, numPartitions: 3 },
      { topic: names.replayState, compacted: true },
      { topic: names.deadLetters },
    ]);
    for (const name of ['orders', 'billing'])
      await writeIdentityFile(join(world.dir, `${name}.json`), world.files.get(name)!, {
        overwrite: true,
      });
    await writeDirectoryDocument(join(world.dir, 'directory.json'), world.document());
    const e = getEndpoints();
    const envOf = (name: string): Env => ({
      KAFKA_BROKERS: e.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
      SEALPOST_KMS: 'local',
      SEALPOST_LOCAL_KEK_FILE: join(world!.dir, 'kek.json'),
      SEALPOST_IDENTITY_FILE: join(world!.dir, `${name}.json`),
      SEALPOST_AUTHORITY_PUBLIC_KEY: Buffer.from(
        world!.document().authority.publicKey,
        'base64',
      ).toString('hex'),
      SEALPOST_DIRECTORY_FILE: join(world!.dir, 'directory.json'),
      SEALPOST_DIRECTORY_STATE_FILE: join(world!.dir, `${name}-directory-state.json`),
      SEALPOST_STATE_TOPIC: names.replayState,
      SEALPOST_DEAD_LETTER_TOPIC: names.deadLetters,
      SEALPOST_LOG_LEVEL: 'silent',
    });
    const seen: SealedDelivery[] = [];
    const { orders, billing } = await example({
      ordersEnv: envOf('orders'),
      billingEnv: envOf('billing'),
      orderSchema: ORDER_SCHEMA,
      onOrder: (m) => {
        seen.push(m);
        return Promise.resolve();
      },
      names,
    });
    services.push(orders, billing);
    await waitFor(() => seen.length > 0, 'the example order');
    expect(seen.map((m) => ({ sender: m.sender, value: m.value }))).toEqual([
      { sender: 'orders', value: { id: 'o-1', cents: 1999, note: '' } },
    ]);
    expect(orders.identity.name).toBe('orders');
    expect(billing.config.stateTopic).toBe(names.replayState);

    await orders.close();
    await billing.close();
    // The keys are zeroed: the identities refuse to hand out a key.
    for (const s of [orders, billing])
      expect(() => s.identity.signingKey()).toThrow(
        expect.objectContaining({ code: 'KEY_CLOSED' }) as Error,
      );
  });
});
