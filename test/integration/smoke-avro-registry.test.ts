/**
 * Smoke test of the local stack: an Avro record travels through Kafka, encoded and decoded by
 * @kafkajs/confluent-schema-registry against the real registry (Apicurio's Confluent API).
 */
import { randomBytes } from 'node:crypto';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoints } from '../support/endpoints.js';

const endpoints = getEndpoints();

const orderSchema = {
  type: 'record',
  name: 'SmokeOrder',
  namespace: 'dev.sealpost.smoke',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'amountCents', type: 'long' },
    { name: 'tags', type: { type: 'array', items: 'string' } },
  ],
};

/** PUT/GET of the Confluent config API (the client library only sets it on first registration). */
async function subjectConfig(
  subject: string,
  body?: { compatibility: string },
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${endpoints.schemaRegistryUrl}/config/${encodeURIComponent(subject)}`, {
    method: body === undefined ? 'GET' : 'PUT',
    headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

describe('smoke: Avro through Kafka with the Confluent-API registry', () => {
  const topic = `test-smoke-avro-${randomBytes(6).toString('hex')}`;
  const subject = `${topic}-value`;
  const kafka = new Kafka({
    clientId: 'smoke-avro',
    brokers: endpoints.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  const registry = new SchemaRegistry({ host: endpoints.schemaRegistryUrl });
  let admin: Admin;
  let producer: Producer;
  let consumer: Consumer | undefined;
  let firstId: number | undefined;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    expect(
      await admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
        waitForLeaders: true,
      }),
    ).toBe(true);
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
  });

  afterAll(async () => {
    await consumer?.disconnect();
    await producer?.disconnect();
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.disconnect();
  });

  it('sets the subject compatibility explicitly and reads it back', async () => {
    // Apicurio answers 404 for a subject with no rule (as Confluent does); set it so register() agrees.
    const before = await subjectConfig(subject);
    expect(before.status).toBe(404);
    const put = await subjectConfig(subject, { compatibility: COMPATIBILITY.BACKWARD });
    expect(put.status).toBe(200);
    const after = await subjectConfig(subject);
    expect(after).toEqual({ status: 200, json: { compatibilityLevel: 'BACKWARD' } });
  });

  it('registers, encodes, produces, consumes and decodes a record', async () => {
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(orderSchema) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    expect(Number.isInteger(id) && id > 0).toBe(true);
    firstId = id;
    // Registering the same schema again gives the same id.
    const again = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(orderSchema) },
      { subject },
    );
    expect(again.id).toBe(id);

    const record = {
      id: `order-${randomBytes(4).toString('hex')}`,
      amountCents: 12_345,
      tags: ['a', 'é'],
    };
    const encoded = await registry.encode(id, record);
    // Confluent wire format: magic byte 0, 4-byte big-endian schema id, then Avro binary.
    expect(encoded[0]).toBe(0);
    expect(encoded.readInt32BE(1)).toBe(id);
    expect(encoded.length).toBeGreaterThan(5);

    await producer.send({ topic, messages: [{ key: record.id, value: encoded }] });

    consumer = kafka.consumer({ groupId: `smoke-avro-${randomBytes(6).toString('hex')}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<{ key: string; value: Buffer }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message within 30 s')), 30_000);
      void consumer!.run({
        eachMessage: ({ message }) => {
          clearTimeout(timer);
          resolve({ key: message.key?.toString() ?? '', value: message.value ?? Buffer.alloc(0) });
          return Promise.resolve();
        },
      });
    });
    expect(received.key).toBe(record.id);
    expect(received.value.equals(encoded)).toBe(true);
    expect(await registry.decode(received.value)).toEqual(record);
  });

  it('enforces the compatibility it was given: a breaking change is refused', async () => {
    const breaking = {
      ...orderSchema,
      // A new field without a default cannot read old data: not BACKWARD compatible.
      fields: [...orderSchema.fields, { name: 'currency', type: 'string' }],
    };
    await expect(
      registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(breaking) },
        { subject, compatibility: COMPATIBILITY.BACKWARD },
      ),
    ).rejects.toMatchObject({ status: 409 });
    const compatible = {
      ...orderSchema,
      fields: [...orderSchema.fields, { name: 'currency', type: 'string', default: 'EUR' }],
    };
    const v2 = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(compatible) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    expect(firstId).toBeDefined();
    expect(v2.id).not.toBe(firstId);
    expect(await registry.getLatestSchemaId(subject)).toBe(v2.id);
  });
});
