/**
 * `createSealpost({ kafkaClient: 'platformatic' })` (docs/TRANSPORTS.md): the same one-call setup
 * with the service's producers and consumers on @platformatic/kafka, loaded on demand. Checked on the
 * stack: the transport it built is the @platformatic/kafka adapter's, a sealed order sent by one
 * such service is delivered, opened and attributed by another, and the key directory follows its
 * topic on @platformatic/kafka too (no kafkajs transport is built).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { writeDirectoryDocument } from '../../src/keys/directory/directory-document.js';
import { KafkaDirectoryTopic } from '../../src/keys/directory/directory-topic.js';
import * as kafkajsAdapter from '../../src/kafka/kafkajs-transport.js';
import { writeIdentityFile } from '../../src/keys/identity-file.js';
import { platformaticNodeProblem } from '../../src/kafka/platformatic-node-version.js';
import { createSealpost, type SealedDelivery, type Sealpost } from '../../src/index.js';
import { getEndpoints } from '../support/endpoints.js';
import { makePipelineWorld, ORDER_SCHEMA, type PipelineWorld } from '../support/pipeline-world.js';
import { createTopics, freshTopic, testTransport, waitFor } from '../support/test-transport.js';

// Counts the kafkajs transports built (a spy on our own factory; the real one is called).
vi.mock('../../src/kafka/kafkajs-transport.js', async (importOriginal) => {
  const real = await importOriginal<typeof kafkajsAdapter>();
  return { ...real, createKafkajsTransport: vi.fn(real.createKafkajsTransport) };
});

let world: PipelineWorld | undefined;
const services: Sealpost[] = [];
afterAll(async () => {
  for (const s of services) await s.close();
  await world?.cleanup();
});

describe("createSealpost({ kafkaClient: 'platformatic' })", () => {
  // @platformatic/kafka runs on Node >= 22.22 or >= 24.6 (CI runs this on Node 24).
  const unsupported = platformaticNodeProblem();

  it.runIf(unsupported !== undefined)(
    `on this Node (${process.versions.node}) refuses kafkaClient 'platformatic' as CONFIG_INVALID naming the Node it needs`,
    async () => {
      let refusal: unknown;
      try {
        services.push(await createSealpost({ env: {}, kafkaClient: 'platformatic' }));
      } catch (err) {
        refusal = err;
      }
      expect(refusal).toMatchObject({ code: 'CONFIG_INVALID' });
      expect((refusal as Error).message).toMatch(/needs Node >= 22\.22 .*this is Node /);
    },
  );

  it.runIf(unsupported === undefined)(
    'builds its producers and consumers on @platformatic/kafka; a sealed order goes through',
    async () => {
      const names = {
        orders: freshTopic('client-orders'),
        group: freshTopic('client-billing'),
        replayState: freshTopic('client-state'),
        deadLetters: freshTopic('client-dlq'),
      };
      world = await makePipelineWorld([
        { name: 'orders', send: [names.orders], receive: [] },
        { name: 'billing', send: [], receive: [names.orders] },
      ]);
      await createTopics(testTransport('kafka-client'), [
        { topic: names.orders, numPartitions: 2 },
        { topic: names.replayState, compacted: true },
        { topic: names.deadLetters },
      ]);
      for (const name of ['orders', 'billing'])
        await writeIdentityFile(join(world.dir, `${name}.json`), world.files.get(name)!, {
          overwrite: true,
        });
      await writeDirectoryDocument(join(world.dir, 'directory.json'), world.document());
      // billing reads the directory from its topic, published there beforehand.
      const directoryTopic = freshTopic('client-directory');
      const publisher = new KafkaDirectoryTopic({
        transport: testTransport('kafka-client-directory'),
        topic: directoryTopic,
        randomBytes: (n) => new Uint8Array(randomBytes(n)),
      });
      await publisher.ensureTopic();
      await publisher.publish(world.document());
      const e = getEndpoints();
      const envOf = (name: string): Readonly<Record<string, string>> => ({
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

      const builtBefore = vi.mocked(kafkajsAdapter.createKafkajsTransport).mock.calls.length;
      const orders = await createSealpost({ env: envOf('orders'), kafkaClient: 'platformatic' });
      services.push(orders);
      const billingEnv: Record<string, string> = { ...envOf('billing') };
      delete billingEnv.SEALPOST_DIRECTORY_FILE;
      billingEnv.SEALPOST_DIRECTORY_TOPIC = directoryTopic;
      const billing = await createSealpost({ env: billingEnv, kafkaClient: 'platformatic' });
      services.push(billing);
      // billing's directory was read from the topic at start-up (the service opened), on the client
      // it was asked for: createSealpost built no kafkajs transport for either service.
      expect(billing.directory.epoch).toBe(world.document().head.epoch);
      expect(vi.mocked(kafkajsAdapter.createKafkajsTransport).mock.calls.length).toBe(builtBefore);
      for (const sp of [orders, billing]) {
        expect(sp.transport.producer().constructor.name).toBe('PlatformaticProducer');
        expect(sp.transport.consumer({ groupId: 'unused' }).constructor.name).toBe(
          'PlatformaticConsumer',
        );
      }

      const producer = await orders.producer({ valueSchemas: { [names.orders]: ORDER_SCHEMA } });
      const sent = ['o-1', 'o-2', 'o-3'].map((id, i) => ({
        key: `customer-${i}`,
        value: { id, cents: 100 * (i + 1), note: '' },
      }));
      await producer.send({ topic: names.orders, messages: sent });
      const seen: SealedDelivery[] = [];
      const consumer = billing.consumer({
        groupId: names.group,
        topics: [names.orders],
        fromBeginning: true,
      });
      await consumer.run({
        eachMessage: (m) => {
          seen.push(m);
          return Promise.resolve();
        },
      });
      await waitFor(() => seen.length >= sent.length, 'the three orders');
      expect(
        seen
          .map((m) => ({ sender: m.sender, value: m.value as { id: string } }))
          .sort((a, b) => a.value.id.localeCompare(b.value.id)),
      ).toEqual(sent.map((s) => ({ sender: 'orders', value: s.value })));
    },
  );
});
