/**
 * Smoke test of the local stack: the SSL listener requires a client certificate (mTLS). A client with
 * the stack's client certificate produces and reads back a record; one without a certificate, and one
 * without TLS at all, are refused.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoints, readKafkaSslFiles } from '../support/endpoints.js';

const endpoints = getEndpoints();
const pem = readKafkaSslFiles(endpoints);

/** A self-signed client certificate that the stack CA did not sign (made with openssl, PKCS#8 key). */
function foreignClientIdentity(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-foreign-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=intruder',
      ],
      {
        stdio: 'ignore',
      },
    );
    return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The message of a failed connect + describeCluster, or undefined when it succeeded. */
async function connectError(kafka: Kafka): Promise<string | undefined> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Options for a client that must fail fast: no retries, short timeouts. */
const failFast = {
  logLevel: logLevel.NOTHING,
  connectionTimeout: 5_000,
  requestTimeout: 5_000,
  retry: { retries: 0 },
} as const;

describe('smoke: Kafka mTLS listener', () => {
  const topic = `test-smoke-mtls-${randomBytes(6).toString('hex')}`;
  const plainAdmin: Admin = new Kafka({
    clientId: 'smoke-mtls-admin',
    brokers: endpoints.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  }).admin();

  beforeAll(async () => {
    await plainAdmin.connect();
    expect(
      await plainAdmin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
        waitForLeaders: true,
      }),
    ).toBe(true);
  });

  afterAll(async () => {
    await plainAdmin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await plainAdmin.disconnect();
  });

  it('accepts a client with a certificate signed by the stack CA', async () => {
    const kafka = new Kafka({
      clientId: 'smoke-mtls-ok',
      brokers: endpoints.kafkaSslBrokers,
      ssl: { ca: [pem.ca], cert: pem.cert, key: pem.key },
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    const consumer = kafka.consumer({ groupId: `smoke-mtls-${randomBytes(6).toString('hex')}` });
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      // The SSL listener advertises itself, so every later connection is mTLS too.
      expect(cluster.brokers.map((b) => `${b.host}:${b.port}`)).toEqual(endpoints.kafkaSslBrokers);

      await producer.connect();
      const value = randomBytes(24);
      await producer.send({ topic, messages: [{ key: 'k', value }] });

      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const got = await new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message within 30 s')), 30_000);
        void consumer.run({
          eachMessage: ({ message }) => {
            clearTimeout(timer);
            resolve(message.value ?? Buffer.alloc(0));
            return Promise.resolve();
          },
        });
      });
      expect(got.equals(value)).toBe(true);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it('refuses a TLS client without a certificate', async () => {
    const error = await connectError(
      new Kafka({
        clientId: 'smoke-mtls-nocert',
        brokers: endpoints.kafkaSslBrokers,
        ssl: { ca: [pem.ca] },
        ...failFast,
      }),
    );
    // The broker aborts the handshake with a TLS alert (bad certificate / certificate required).
    expect(error).toMatch(/certificate|alert/i);
  });

  it('refuses a client whose certificate the stack CA did not sign', async () => {
    const foreign = foreignClientIdentity();
    const error = await connectError(
      new Kafka({
        clientId: 'smoke-mtls-foreign',
        brokers: endpoints.kafkaSslBrokers,
        ssl: { ca: [pem.ca], ...foreign },
        ...failFast,
      }),
    );
    expect(error).toMatch(/certificate|alert/i);
  });

  it('refuses a client that does not speak TLS on the SSL listener', async () => {
    const error = await connectError(
      new Kafka({ clientId: 'smoke-mtls-plain', brokers: endpoints.kafkaSslBrokers, ...failFast }),
    );
    expect(error).toMatch(/closed|connection/i);
  });
});
